package doctor

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/envcheck"
	"github.com/credd-dev/credd/daemon/login"
	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/refresh"
	"github.com/credd-dev/credd/daemon/source"
	"github.com/credd-dev/credd/daemon/sts"
	"github.com/credd-dev/credd/daemon/token"
)

var now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

const (
	stsURL  = "https://sts.eu-west-1.amazonaws.com"
	roleARN = "arn:aws:iam::123456789012:role/dev"
	issuer  = "https://token.actions.githubusercontent.com"
)

// healthy are the facts about a role that works: served, refreshed a
// minute ago, clocks in step, this shell pointing at credd.
func healthy() Facts {
	return Facts{
		Role: "default",
		Status: &daemon.Status{
			Version: "v0.3.0", PID: 4242, StartedAt: now.Add(-2 * time.Hour), Now: now,
			Endpoint: "http://127.0.0.1:9911/v1/credentials",
			Roles: []daemon.RoleStatus{{
				Name: "default", Path: "/v1/credentials", RoleARN: roleARN, TokenSource: "actions",
				STSEndpoint: stsURL, Audience: "sts.amazonaws.com",
				Serving: true, Expiration: now.Add(59 * time.Minute),
				Claims: &daemon.Claims{Issuer: issuer, Subject: "repo:acme/app:environment:prod",
					Audience: []string{"sts.amazonaws.com"}, Expiry: now.Add(4 * time.Minute),
					Extra: map[string]string{"repository": "acme/app", "environment": "prod"}},
				LastAttempt: now.Add(-time.Minute), LastSuccess: now.Add(-time.Minute), STSCalls: 1,
			}},
		},
		Env:   envcheck.Report{Profile: "default", Findings: []envcheck.Finding{{Severity: envcheck.OK, Message: "FULL_URI is credd's"}}},
		Clock: &Clock{URL: stsURL, Skew: time.Second},
		Fetch: &Fetch{URL: "http://127.0.0.1:9911/v1/credentials", Status: 200, AccountID: "123456789012", Expiration: now.Add(59 * time.Minute)},
	}
}

// Changes to the healthy facts.

func failing(code daemon.Code, stage daemon.Stage, hint string) func(*Facts) {
	return func(f *Facts) {
		r := &f.Status.Roles[0]
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindRetryable, Code: code, Stage: stage,
			Message: "it failed", Hint: hint, At: now.Add(-10 * time.Second)}
	}
}

func notServing(f *Facts) {
	r := &f.Status.Roles[0]
	r.Serving, r.LastSuccess, r.STSCalls = false, time.Time{}, 0
	f.Fetch = &Fetch{URL: f.Fetch.URL, Status: 503, Code: "CredentialsUnavailable", Message: "credd has no valid credentials"}
}

func noClaims(f *Facts) { f.Status.Roles[0].Claims = nil }

const (
	refusingPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"MainOnly","Effect":"Allow",
	 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
	 "Action":"sts:AssumeRoleWithWebIdentity",
	 "Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/*"}}}]}`
	allowingPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
	 "Action":"sts:AssumeRoleWithWebIdentity",
	 "Condition":{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:acme/app:environment:prod"}}}]}`
)

func withPolicy(t *testing.T, doc string) func(*Facts) {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return func(f *Facts) { f.PolicyFile, f.Policy = "trust.json", p }
}

func facts(changes ...func(*Facts)) Facts {
	f := healthy()
	for _, c := range changes {
		c(&f)
	}
	return f
}

// results sums a report's checks up as "name result" lines.
func results(checks []Check) []string {
	var out []string
	for _, c := range checks {
		out = append(out, fmt.Sprintf("%s %s", c.Name, c.Result))
	}
	return out
}

func TestDiagnoseRanksWhatToFixMostLikelyCauseFirst(t *testing.T) {
	const (
		startDaemon = "start the daemon: `credd daemon` (or rebuild the dev container, whose entrypoint starts it)"
		noCreds     = "the daemon has no valid credentials: fix the failing check above"
		fixClock    = "fix this machine's clock (NTP): tokens look expired or not yet valid to STS when clocks disagree"
	)
	tests := []struct {
		name        string
		facts       Facts
		wantResults []string
		wantActions []string
	}{
		{
			name:        "a healthy role passes every check and has nothing to fix",
			facts:       facts(),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS ok", "clock ok", "endpoint ok", "refusals ok", "this shell ok"},
			wantActions: []string{},
		},
		{
			name:        "a daemon that does not answer runs only the daemon and shell checks",
			facts:       Facts{Role: "default", StatusErr: "the daemon is not running", NotRunning: true, Env: envcheck.Report{Profile: "default"}},
			wantResults: []string{"daemon fail", "this shell ok"},
			wantActions: []string{startDaemon},
		},
		{
			name:        "a role the daemon does not serve fails the daemon check",
			facts:       facts(func(f *Facts) { f.Role = "prod" }),
			wantResults: []string{"daemon fail", "refusals ok", "this shell ok"},
			wantActions: []string{"pass --profile with one of the roles `credd status` lists"},
		},
		{
			name:        "a timeout getting the token is the token source's problem, not STS's",
			facts:       facts(failing(daemon.CodeTimeout, daemon.StageTokenSource, "check that the token source and STS are reachable"), notServing),
			wantResults: []string{"daemon ok", "token source fail", "token claims ok", "STS skip", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{"check that the token source and STS are reachable", noCreds},
		},
		{
			name:        "a timeout calling STS is STS's problem",
			facts:       facts(failing(daemon.CodeTimeout, daemon.StageSTS, "check that STS is reachable"), notServing),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{"check that STS is reachable", noCreds},
		},
		{
			name: "an expired token refused by the local check fails the token source and its claims",
			facts: facts(failing(token.CodeExpired, daemon.StageTokenCheck, "the token source must provide a fresh token"), notServing,
				func(f *Facts) { f.Status.Roles[0].Claims.Expiry = now.Add(-time.Hour) }),
			wantResults: []string{"daemon ok", "token source fail", "token claims fail", "STS skip", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{"the token source must provide a fresh token", noCreds},
		},
		{
			name:        "a required login says to log in first",
			facts:       facts(failing(login.CodeLoginRequired, daemon.StageTokenSource, ""), notServing, noClaims, func(f *Facts) { f.Clock.Skew = 6 * time.Minute }),
			wantResults: []string{"daemon ok", "token source fail", "STS skip", "clock fail", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{"run `credd login`", fixClock, noCreds},
		},
		{
			name:        "credentials STS returned already expired are reported with STS",
			facts:       facts(failing(refresh.CodeInvalidCredentials, daemon.StageCredentials, ""), notServing),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{noCreds},
		},
		{
			name:        "an error without a stage, from an older daemon, is reported with STS",
			facts:       facts(failing(source.CodeFileMissing, "", "create it")),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "clock ok", "endpoint ok", "refusals ok", "this shell ok"},
			wantActions: []string{"create it"},
		},
		{
			name:        "a clock a minute off warns, after the failures",
			facts:       facts(failing(sts.CodeServiceUnavailable, daemon.StageSTS, "credd retries"), func(f *Facts) { f.Clock.Skew = -90 * time.Second }),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "clock warn", "endpoint ok", "refusals ok", "this shell ok"},
			wantActions: []string{"credd retries", fixClock},
		},
		{
			name: "an STS endpoint over http to another host warns, after the failures",
			facts: facts(failing(sts.CodeServiceUnavailable, daemon.StageSTS, "credd retries"), func(f *Facts) {
				f.Status.Roles[0].Settings = []daemon.Setting{{Name: "sts-endpoint", Value: "http://sts.example.com", Origin: "environment AWS_ENDPOINT_URL_STS"}}
			}),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "cleartext warn", "clock ok", "endpoint ok", "refusals ok", "this shell ok"},
			wantActions: []string{"credd retries", "--sts-endpoint http://sts.example.com: use https://, or a loopback address for a local test server"},
		},
		{
			name: "a shell with static keys fails after the role's own problems",
			facts: facts(failing(sts.CodeServiceUnavailable, daemon.StageSTS, "credd retries"), func(f *Facts) {
				f.Env.Findings = []envcheck.Finding{
					{Severity: envcheck.Problem, Message: "AWS_ACCESS_KEY_ID is set", Fix: "unset AWS_ACCESS_KEY_ID"},
					{Severity: envcheck.Warn, Message: "AWS_PROFILE is set", Fix: "unset AWS_PROFILE"},
				}
			}),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "clock ok", "endpoint ok", "refusals ok", "this shell fail"},
			wantActions: []string{"credd retries", "unset AWS_ACCESS_KEY_ID; unset AWS_PROFILE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Diagnose(tt.facts)
			if got := results(rep.Checks); !slices.Equal(got, tt.wantResults) {
				t.Errorf("checks:\n got %q\nwant %q", got, tt.wantResults)
			}
			if !slices.Equal(rep.Actions, tt.wantActions) {
				t.Errorf("actions:\n got %q\nwant %q", rep.Actions, tt.wantActions)
			}
			if wantOK := !slices.ContainsFunc(tt.wantResults, func(s string) bool { return strings.HasSuffix(s, " fail") }); rep.OK != wantOK {
				t.Errorf("OK = %v, want %v", rep.OK, wantOK)
			}
		})
	}
}

func TestDiagnoseOnAccessDenied(t *testing.T) {
	denied := failing(sts.CodeAccessDenied, daemon.StageSTS, "the role's trust policy does not accept this token")
	tests := []struct {
		name        string
		facts       Facts
		wantResults []string
		wantActions []string
		// wantTrust is the trust policy's decision, "" for none evaluated;
		// wantSuggestion says whether a statement that fits is suggested.
		wantTrust      policy.Decision
		wantSuggestion bool
	}{
		{
			name:        "without a policy it suggests a statement and says how to name the failing condition",
			facts:       facts(denied, notServing),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{
				"the role's trust policy refuses the token's claims (shown above): fix its conditions, using the suggested statement, or run credd doctor --trust-policy FILE with the role's policy to name the failing condition",
				"the daemon has no valid credentials: fix the failing check above",
			},
			wantSuggestion: true,
		},
		{
			name:        "with a policy that refuses the token it names the condition first and leaves STS without a fix",
			facts:       facts(denied, notServing, withPolicy(t, refusingPolicy)),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "trust policy fail", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{
				`in statement 1 (MainOnly) of the trust policy, change StringLike "token.actions.githubusercontent.com:sub" to match the token: ` +
					`the job runs in an environment, so GitHub's sub names the environment instead of the ref: allow "repo:acme/app:environment:prod"`,
				"the daemon has no valid credentials: fix the failing check above",
			},
			wantTrust: policy.ImplicitDeny,
		},
		{
			name:        "with a policy that allows the token it asks whether that is the role's current policy",
			facts:       facts(denied, notServing, withPolicy(t, allowingPolicy)),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "trust policy warn", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{
				"compare with aws iam get-role --role-name dev --query Role.AssumeRolePolicyDocument",
				"the role's trust policy does not accept this token",
				"the daemon has no valid credentials: fix the failing check above",
			},
			wantTrust: policy.Allow,
		},
		{
			name:        "with a policy but no token claims the policy check is skipped",
			facts:       facts(denied, notServing, noClaims, withPolicy(t, refusingPolicy)),
			wantResults: []string{"daemon ok", "token source warn", "trust policy skip", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{"the role's trust policy does not accept this token", "the daemon has no valid credentials: fix the failing check above"},
		},
		{
			name: "with a policy that cannot be read the policy check fails",
			facts: facts(denied, notServing, func(f *Facts) {
				f.PolicyFile, f.PolicyErr = "trust.json", "open trust.json: no such file or directory"
			}),
			wantResults: []string{"daemon ok", "token source ok", "token claims ok", "trust policy fail", "STS fail", "clock ok", "endpoint fail", "refusals ok", "this shell ok"},
			wantActions: []string{
				"pass the role's trust policy JSON (aws iam get-role --role-name NAME --query Role.AssumeRolePolicyDocument)",
				"the role's trust policy refuses the token's claims (shown above): fix its conditions, using the suggested statement, or run credd doctor --trust-policy FILE with the role's policy to name the failing condition",
				"the daemon has no valid credentials: fix the failing check above",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Diagnose(tt.facts)
			if got := results(rep.Checks); !slices.Equal(got, tt.wantResults) {
				t.Errorf("checks:\n got %q\nwant %q", got, tt.wantResults)
			}
			if !slices.Equal(rep.Actions, tt.wantActions) {
				t.Errorf("actions:\n got %q\nwant %q", rep.Actions, tt.wantActions)
			}
			switch {
			case tt.wantTrust == "" && rep.TrustPolicy != nil:
				t.Errorf("TrustPolicy = %+v, want none", rep.TrustPolicy)
			case tt.wantTrust != "" && (rep.TrustPolicy == nil || rep.TrustPolicy.Decision != tt.wantTrust):
				t.Errorf("TrustPolicy = %+v, want decision %s", rep.TrustPolicy, tt.wantTrust)
			}
			if got := rep.Suggestion != nil && rep.Claims != nil; got != tt.wantSuggestion {
				t.Errorf("suggestion given = %v, want %v", got, tt.wantSuggestion)
			}
		})
	}
}

func TestEachCheck(t *testing.T) {
	tests := []struct {
		name  string
		check func(*view) (Check, bool)
		facts Facts
		// want is nil when the check has nothing to say.
		want *Check
	}{
		{"the token source names a token source timeout and its hint", checkTokenSource,
			facts(failing(daemon.CodeTimeout, daemon.StageTokenSource, "check the token source")),
			&Check{Name: "token source", Result: Fail, Detail: []string{"actions", "10s ago Timeout: it failed"}, Fix: "check the token source", cause: causeToken}},
		{"the token source blames a required login before anything else about the token", checkTokenSource,
			facts(failing(login.CodeLoginRequired, daemon.StageTokenSource, "run `credd login`"), noClaims),
			&Check{Name: "token source", Result: Fail, Detail: []string{"actions", "10s ago LoginRequired: it failed"}, Fix: "run `credd login`", cause: causeLogin}},
		{"the token source warns when no token was read yet", checkTokenSource, facts(noClaims),
			&Check{Name: "token source", Result: Warn, Detail: []string{"actions", "no token read yet"}}},
		{"the claims are not checked without a token", checkClaims, facts(noClaims), nil},
		{"the claims fail for an audience credd does not ask for", checkClaims,
			facts(func(f *Facts) { f.Status.Roles[0].Claims.Audience = []string{"https://github.com/acme"} }),
			&Check{Name: "token claims", Result: Fail, cause: causeToken,
				Detail: []string{"iss " + issuer, "sub repo:acme/app:environment:prod", "aud https://github.com/acme", "repository acme/app, environment prod", "exp in 4m",
					"the token's aud does not include sts.amazonaws.com, the audience credd asks for"},
				Fix: "request the token for audience sts.amazonaws.com, or set --audience to what the trust policy expects"}},
		{"there is no trust policy check without a policy", checkTrustPolicy, facts(), nil},
		{"STS names an error at STS with its kind", checkSTS,
			facts(failing(sts.CodeServiceUnavailable, daemon.StageSTS, "credd retries")),
			&Check{Name: "STS", Result: Fail, Detail: []string{"AssumeRoleWithWebIdentity at " + stsURL, "10s ago retryable ServiceUnavailable: it failed"}, Fix: "credd retries", cause: causeSTS}},
		{"STS says the default endpoint when none is configured", checkSTS,
			facts(func(f *Facts) { f.Status.Roles[0].STSEndpoint = "" }),
			&Check{Name: "STS", Result: OK, Detail: []string{"AssumeRoleWithWebIdentity at the default endpoint", "last call ok 1m ago (1 call)"}}},
		{"nothing is said about https endpoints", checkCleartext, facts(func(f *Facts) {
			f.Status.Roles[0].Settings = []daemon.Setting{{Name: "issuer", Value: issuer}, {Name: "sts-endpoint", Value: stsURL}}
		}), nil},
		{"nothing is said about a local test server over http", checkCleartext, facts(func(f *Facts) {
			f.Status.Roles[0].STSEndpoint = "http://127.0.0.1:4566"
			f.Status.Roles[0].Settings = []daemon.Setting{{Name: "issuer", Value: "http://localhost:8080/realms/dev"}, {Name: "sts-endpoint", Value: "http://127.0.0.1:4566"}}
		}), nil},
		{"an issuer and STS endpoint over http to other hosts warn, with the URL but not its userinfo", checkCleartext, facts(func(f *Facts) {
			f.Status.Roles[0].STSEndpoint = "http://10.0.0.7:4566"
			f.Status.Roles[0].Settings = []daemon.Setting{
				{Name: "issuer", Value: "http://bob:pw@idp.example.com/realms/dev", Origin: "flag --issuer"},
				{Name: "sts-endpoint", Value: "http://10.0.0.7:4566", Origin: "environment AWS_ENDPOINT_URL_STS"},
			}
		}), &Check{Name: "cleartext", Result: Warn, cause: causeMinor, Detail: []string{
			"role default: --issuer http://idp.example.com/realms/dev (from flag --issuer) is not https and not loopback, so the client secret, the device code, the refresh and ID tokens, and the keys that verify tokens cross the network in the clear",
			"role default: --sts-endpoint http://10.0.0.7:4566 (from environment AWS_ENDPOINT_URL_STS) is not https and not loopback, so the identity token and the AWS credentials STS answers with cross the network in the clear",
		}, Fix: "--issuer http://idp.example.com/realms/dev and --sts-endpoint http://10.0.0.7:4566: use https://, or a loopback address for a local test server"}},
		{"a daemon that reports no settings is judged by its STS endpoint", checkCleartext,
			facts(func(f *Facts) { f.Status.Roles[0].STSEndpoint = "http://sts.example.com" }),
			&Check{Name: "cleartext", Result: Warn, cause: causeMinor, Detail: []string{
				"role default: --sts-endpoint http://sts.example.com is not https and not loopback, so the identity token and the AWS credentials STS answers with cross the network in the clear",
			}, Fix: "--sts-endpoint http://sts.example.com: use https://, or a loopback address for a local test server"}},
		{"the clock is not checked when it was not measured", checkClock, facts(func(f *Facts) { f.Clock = nil }), nil},
		{"the clock warns when STS could not be asked", checkClock,
			facts(func(f *Facts) { f.Clock = &Clock{URL: stsURL, Err: "dial tcp: i/o timeout"} }),
			&Check{Name: "clock", Result: Warn, Detail: []string{"could not ask " + stsURL + " for its time: dial tcp: i/o timeout"},
				Fix: "check that the STS endpoint is reachable from here (DNS, HTTPS_PROXY/NO_PROXY, firewall)", cause: causeMinor}},
		{"the clock fails five minutes ahead of STS", checkClock,
			facts(func(f *Facts) { f.Clock.Skew = -5 * time.Minute }),
			&Check{Name: "clock", Result: Fail, Detail: []string{"this machine's clock is 5m ahead of STS's (" + stsURL + ")"},
				Fix: "fix this machine's clock (NTP): tokens look expired or not yet valid to STS when clocks disagree", cause: causeClock}},
		{"the endpoint warns about credentials close to expiry", checkEndpoint,
			facts(func(f *Facts) { f.Fetch.Expiration = now.Add(10 * time.Minute) }),
			&Check{Name: "endpoint", Result: Warn, Detail: []string{"GET http://127.0.0.1:9911/v1/credentials: 200, credentials for account 123456789012, expire in 10m"},
				Fix: "the credentials are close to expiry, so botocore, .NET and Java refetch on every call; see the STS check", cause: causeMinor}},
		{"the endpoint fails without a fix for an answer other than 503", checkEndpoint,
			facts(func(f *Facts) {
				*f.Fetch = Fetch{URL: f.Fetch.URL, Status: 401, Code: "Unauthorized", Message: "wrong token"}
			}),
			&Check{Name: "endpoint", Result: Fail, Detail: []string{"GET http://127.0.0.1:9911/v1/credentials: 401 Unauthorized: wrong token"}, cause: causeEndpoint}},
		{"the shell says what it could not compare while the daemon is down", checkShell,
			Facts{Env: envcheck.Report{Profile: "dev"}},
			&Check{Name: "this shell", Result: OK, Detail: []string{"nothing shadows credd (profile dev); FULL_URI and the token could not be compared with the daemon's"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.check(newView(tt.facts))
			switch {
			case tt.want == nil && ok:
				t.Fatalf("got %+v, want no check", got)
			case tt.want == nil:
				return
			case !ok:
				t.Fatalf("no check, want %+v", *tt.want)
			}
			if got.Name != tt.want.Name || got.Result != tt.want.Result || got.Fix != tt.want.Fix || got.cause != tt.want.cause || !slices.Equal(got.Detail, tt.want.Detail) {
				t.Errorf("got  %+v\nwant %+v", got, *tt.want)
			}
		})
	}
}

func TestAFixWithoutACauseRanksLast(t *testing.T) {
	got := rank([]Check{
		{Name: "a", Result: Warn, Fix: "unranked"},
		{Name: "b", Result: Warn, Fix: "minor", cause: causeMinor},
		{Name: "c", Result: Fail, Fix: "the daemon", cause: causeDaemon},
		{Name: "d", Result: OK, Fix: "not a problem", cause: causeDaemon},
		{Name: "e", Result: Fail, Fix: "the daemon", cause: causeDaemon},
	})
	if want := []string{"the daemon", "unranked", "minor"}; !slices.Equal(got, want) {
		t.Errorf("rank = %q, want %q", got, want)
	}
}

func TestErrorHintAlwaysSaysHowToLogIn(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    daemon.ErrorStatus
		want string
	}{
		{"a required login without a hint", daemon.ErrorStatus{Code: login.CodeLoginRequired}, "run `credd login`"},
		{"a required login with another hint", daemon.ErrorStatus{Code: login.CodeLoginRequired, Hint: "the IdP refused the kept login"}, "the IdP refused the kept login; run `credd login`"},
		{"a required login that says so already", daemon.ErrorStatus{Code: login.CodeLoginRequired, Hint: "run `credd login`"}, "run `credd login`"},
		{"another error keeps its hint", daemon.ErrorStatus{Code: sts.CodeAccessDenied, Hint: "check the trust policy"}, "check the trust policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorHint(&tt.e); got != tt.want {
				t.Errorf("ErrorHint = %q, want %q", got, tt.want)
			}
		})
	}
}
