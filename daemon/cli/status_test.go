package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/envcheck"
	"github.com/credd-dev/credd/daemon/internal/golden"
	"github.com/credd-dev/credd/daemon/policy"
)

// Fixed inputs, so the goldens are deterministic.
var (
	now       = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	authToken = "tok-abcdefghijklmnopqrstuvwxyzABCDEFGHIJ012"
)

const (
	endpoint  = "http://127.0.0.1:9911/v1/credentials"
	tokenFile = "/run/user/1000/credd/token"
	stsURL    = "https://sts.eu-west-1.amazonaws.com"
	roleARN   = "arn:aws:iam::123456789012:role/dev"
	ghIssuer  = "https://token.actions.githubusercontent.com"
)

func healthyStatus() *daemon.Status {
	return &daemon.Status{
		SchemaVersion: daemon.StatusVersion, Version: "v0.3.0", PID: 4242,
		StartedAt: now.Add(-2*time.Hour - 5*time.Minute), Now: now,
		Endpoint: endpoint, StateDir: "/run/user/1000/credd", TokenFile: tokenFile,
		Roles: []daemon.RoleStatus{{
			Name: "default", Path: "/v1/credentials", RoleARN: roleARN,
			SessionName: "alice@codespace-x", TokenSource: "actions", Duration: daemon.Duration(time.Hour),
			STSEndpoint: stsURL, Audience: "sts.amazonaws.com",
			Serving: true, AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/dev/alice@codespace-x", AccountID: "123456789012",
			Expiration: now.Add(41 * time.Minute), Obtained: now.Add(-19 * time.Minute), NextRefresh: now.Add(11 * time.Minute),
			Claims: &daemon.Claims{
				Issuer: ghIssuer, Subject: "repo:acme/app:ref:refs/heads/main", Audience: []string{"sts.amazonaws.com"},
				Expiry: now.Add(-14 * time.Minute), IssuedAt: now.Add(-19 * time.Minute),
				Extra: map[string]string{"repository": "acme/app", "repository_owner": "acme", "actor": "alice", "ref": "refs/heads/main"},
			},
			LastAttempt: now.Add(-19 * time.Minute), LastSuccess: now.Add(-19 * time.Minute), STSCalls: 3,
			Settings: []daemon.Setting{
				{Name: "role-arn", Value: roleARN, Origin: "session CREDD_ROLE_ARN"},
				{Name: "token-source", Value: "actions", Origin: "default: ACTIONS_ID_TOKEN_REQUEST_URL is set (GitHub Actions)"},
				{Name: "audience", Value: "sts.amazonaws.com", Origin: "default"},
				{Name: "region", Value: "eu-west-1", Origin: "defaults file /usr/local/share/credd/feature.toml"},
				{Name: "session-name", Value: "alice@codespace-x", Origin: "session GITHUB_USER + session CODESPACE_NAME"},
				{Name: "duration", Value: "1h0m0s", Origin: "default"},
			},
		}},
		HandedOff:  []string{"CODESPACE_NAME", "CREDD_ROLE_ARN", "GITHUB_TOKEN", "GITHUB_USER"},
		LastReload: &daemon.ReloadStatus{At: now.Add(-2 * time.Hour), Trigger: "credd reload --from-env", Changes: []daemon.RoleChange{{Role: "default", Change: daemon.ChangeRoleARN, Settings: []string{"role-arn", "session-name"}}}},
		Requests:   []daemon.RequestCount{{Path: "/v1/credentials", Status: 200, Count: 12}, {Path: "/healthz", Status: 200, Count: 40}},
		Clients: []daemon.ClientCount{
			{Client: "none", Count: 3, LastMinute: 0, LastSeen: now.Add(-40 * time.Minute)},
			{Client: "aws-cli/botocore", Count: 9, LastMinute: 1, LastSeen: now.Add(-2 * time.Minute)},
		},
	}
}

func goodEnv() map[string]string {
	return map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     endpoint,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":      authToken,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
	}
}

func checkEnv(env map[string]string, st *daemon.Status) envcheck.Report {
	in := envcheck.Input{
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(p string) ([]byte, error) {
			if p == tokenFile {
				return []byte(authToken), nil
			}
			return nil, fs.ErrNotExist
		},
		Home: "/home/alice",
	}
	if st != nil {
		in.Endpoints, in.Token, in.TokenFile = roleURLs(*st), authToken, tokenFile
	}
	return envcheck.Check(in)
}

// scenario is one state of the world, for status and doctor alike.
type scenario struct {
	name       string
	status     *daemon.Status
	env        map[string]string
	notRunning bool
	clock      *clockFact
	fetch      *fetchFact
	policy     string // trust policy JSON for doctor, "" = none
	statusExit int
	doctorExit int
}

// hostileLink is an OSC 8 hyperlink: a terminal shows "click" and opens
// http://evil.
const hostileLink = "\x1b]8;;http://evil\x07click\x1b]8;;\x07"

const subPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"GitHubMain","Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
 "Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
  "StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/*"}}}]}`

func scenarios() []scenario {
	okClock := &clockFact{URL: stsURL, Skew: time.Second}
	served := func(exp time.Time) *fetchFact {
		return &fetchFact{URL: endpoint, Status: 200, AccountID: "123456789012", Expiration: exp}
	}
	unavailable := &fetchFact{URL: endpoint, Status: 503, Code: "CredentialsUnavailable", Message: "credd has no valid credentials yet/anymore: run `credd status` to see why"}

	degraded := healthyStatus()
	{
		r := &degraded.Roles[0]
		r.Expiration, r.Obtained, r.NextRefresh = now.Add(12*time.Minute), now.Add(-48*time.Minute), now.Add(40*time.Second)
		r.LastAttempt, r.LastSuccess, r.STSCalls = now.Add(-20*time.Second), now.Add(-48*time.Minute), 9
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindRetryable, Code: "ServiceUnavailable", Stage: daemon.StageSTS, Message: "Service is unavailable. Please try again later.",
			Hint: "STS is busy or failing; credd retries with backoff and keeps serving the last good credentials", At: now.Add(-20 * time.Second)}
		degraded.Clients[1].Count, degraded.Clients[1].LastMinute = 31, 8
		// A process started before the daemon's restart, and another
		// without the token variables; the Host refusal is too old to warn.
		degraded.Refusals = []daemon.RefusalCount{
			{Reason: daemon.RefusedNoToken, Client: "aws-sdk-go-v2", Status: 401, Count: 3, FirstSeen: now.Add(-50 * time.Second), LastSeen: now.Add(-40 * time.Second)},
			{Reason: daemon.RefusedWrongToken, Client: "aws-cli/botocore", Status: 401, Count: 1, FirstSeen: now.Add(-5 * time.Minute), LastSeen: now.Add(-5 * time.Minute)},
			{Reason: daemon.RefusedHost, Client: "curl", Status: 403, Count: 2, FirstSeen: now.Add(-3 * time.Hour), LastSeen: now.Add(-2 * time.Hour)},
		}
	}

	login := healthyStatus()
	{
		r := &login.Roles[0]
		r.TokenSource, r.Serving, r.AssumedRoleARN, r.AccountID = "login", false, "", ""
		r.Expiration, r.Obtained, r.NextRefresh, r.LastSuccess, r.Claims = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
		r.LastAttempt, r.STSCalls = now.Add(-3*time.Minute), 0
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindPermanent, Code: "LoginRequired", Stage: daemon.StageTokenSource, Message: "nobody has logged in to https://login.example.com yet", At: now.Add(-3 * time.Minute)}
		login.Requests, login.Clients = nil, nil
	}

	denied := healthyStatus()
	{
		r := &denied.Roles[0]
		r.Serving, r.AssumedRoleARN, r.AccountID = false, "", ""
		r.Expiration, r.Obtained, r.NextRefresh, r.LastSuccess = time.Time{}, time.Time{}, now.Add(4*time.Minute), time.Time{}
		r.LastAttempt, r.STSCalls = now.Add(-time.Minute), 1
		r.Claims.Subject = "repo:acme/app:environment:prod"
		r.Claims.Extra["environment"] = "prod"
		r.Claims.Expiry = now.Add(4 * time.Minute)
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindPermanent, Code: "AccessDenied", Stage: daemon.StageSTS, Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity",
			Hint: "the role's trust policy does not accept this token: check Principal.Federated matches the token issuer, the aud condition and the sub condition; run `credd doctor`", At: now.Add(-time.Minute)}
		denied.Requests = []daemon.RequestCount{{Path: "/v1/credentials", Status: 503, Count: 2}}
		denied.Clients = []daemon.ClientCount{{Client: "go-http-client", Count: 2, LastMinute: 2, LastSeen: now.Add(-10 * time.Second)}}
	}

	expired := healthyStatus()
	{
		r := &expired.Roles[0]
		r.TokenSource, r.Serving, r.AssumedRoleARN, r.AccountID = "file", false, "", ""
		r.Expiration, r.NextRefresh = now.Add(-5*time.Minute), now.Add(30*time.Second)
		r.Obtained, r.LastSuccess = now.Add(-65*time.Minute), now.Add(-65*time.Minute)
		r.LastAttempt = now.Add(-30 * time.Second)
		r.Claims.Expiry, r.Claims.IssuedAt = now.Add(-70*time.Minute), now.Add(-80*time.Minute)
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindNewToken, Code: "TokenExpired", Stage: daemon.StageTokenCheck, Message: "the token expired at 2026-03-04T08:50:00Z, 1h10m0s ago",
			Hint: "the token source must provide a fresh token; if it keeps serving this one, check whatever writes it and this machine's clock", At: now.Add(-30 * time.Second)}
	}

	// Values credd did not write, holding terminal escapes: an OSC 8
	// hyperlink that hides its target, a carriage return that rewrites the
	// line, a screen clear, an 8-bit CSI and a bidi override.
	hostile := healthyStatus()
	{
		r := &hostile.Roles[0]
		r.Claims.Extra["repository"] = hostileLink
		r.Claims.Extra["actor"] = "\rOK"
		r.Claims.Subject = "repo:acme/app:ref:refs/heads/\u202emain"
		r.LastAttempt, r.STSCalls = now.Add(-20*time.Second), 4
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindPermanent, Code: "AccessDenied\x1b[2J", Stage: daemon.StageSTS, Message: "denied\x1b[2J\u009b31mfor " + hostileLink,
			Hint: "check the trust policy\r\x1b[32mall good", At: now.Add(-20 * time.Second)}
		r.Settings = append(r.Settings, daemon.Setting{Name: "token-command", Value: "vault read\x1b]0;pwned\x07", Origin: "config file /x.toml"})
	}

	shadowEnv := goodEnv()
	shadowEnv["AWS_ACCESS_KEY_ID"] = "AKIAIOSFODNN7EXAMPLE"
	shadowEnv["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

	return []scenario{
		{name: "healthy", status: healthyStatus(), env: goodEnv(), clock: okClock, fetch: served(now.Add(41 * time.Minute))},
		{name: "degraded", status: degraded, env: goodEnv(), clock: okClock, fetch: served(now.Add(12 * time.Minute)), statusExit: 1, doctorExit: 1},
		{name: "login-required", status: login, env: goodEnv(), clock: okClock, fetch: unavailable, statusExit: 2, doctorExit: 1},
		{name: "access-denied", status: denied, env: goodEnv(), clock: okClock, fetch: unavailable, policy: subPolicy, statusExit: 2, doctorExit: 1},
		{name: "access-denied-no-policy", status: denied, env: goodEnv(), clock: okClock, fetch: unavailable, statusExit: 2, doctorExit: 1},
		{name: "token-expired", status: expired, env: goodEnv(), clock: okClock, fetch: unavailable, statusExit: 2, doctorExit: 1},
		{name: "env-shadowed", status: healthyStatus(), env: shadowEnv, clock: okClock, fetch: served(now.Add(41 * time.Minute)), doctorExit: 1},
		{name: "not-running", env: goodEnv(), notRunning: true, statusExit: 2, doctorExit: 2},
		{name: "hostile-values", status: hostile, env: goodEnv(), clock: okClock, fetch: served(now.Add(41 * time.Minute)), statusExit: 1, doctorExit: 1},
	}
}

func (s scenario) view() statusView {
	v := statusView{Status: s.status, StateDir: "/run/user/1000/credd", Env: checkEnv(s.env, s.status)}
	if s.notRunning {
		v.NotRunning, v.Err = true, notRunningMessage(v.StateDir)
	}
	return v
}

func (s scenario) facts(t *testing.T) doctorFacts {
	t.Helper()
	v := s.view()
	f := doctorFacts{Status: v.Status, StatusErr: v.Err, NotRunning: v.NotRunning, Role: "default", Env: v.Env, Clock: s.clock, Fetch: s.fetch}
	if s.policy != "" {
		f.PolicyFile = "trust-policy.json"
		p, err := policy.Parse([]byte(s.policy))
		if err != nil {
			t.Fatal(err)
		}
		f.Policy = p
	}
	return f
}

func TestStatusGolden(t *testing.T) {
	for _, s := range scenarios() {
		if s.name == "access-denied-no-policy" {
			continue // the same status as access-denied
		}
		t.Run(s.name, func(t *testing.T) {
			var text bytes.Buffer
			if code := renderStatus(&text, s.view(), false); code != s.statusExit {
				t.Errorf("exit %d, want %d", code, s.statusExit)
			}
			golden.Check(t, "status-"+s.name+".txt", text.Bytes())
			var js bytes.Buffer
			doc := statusJSON(s.view())
			writeJSON(&js, doc)
			if doc.ExitCode != s.statusExit {
				t.Errorf("json exitCode %d, want %d", doc.ExitCode, s.statusExit)
			}
			golden.Check(t, "status-"+s.name+".json", js.Bytes())
			noSecrets(t, text.String()+js.String())
		})
	}
}

func TestDoctorGolden(t *testing.T) {
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			rep := diagnose(s.facts(t))
			if rep.ExitCode != s.doctorExit {
				t.Errorf("exit %d, want %d", rep.ExitCode, s.doctorExit)
			}
			var text, js bytes.Buffer
			renderDoctor(&text, rep, false)
			writeJSON(&js, rep)
			golden.Check(t, "doctor-"+s.name+".txt", text.Bytes())
			golden.Check(t, "doctor-"+s.name+".json", js.Bytes())
			noSecrets(t, text.String()+js.String())
		})
	}
}

func TestDoctorNamesTheFailingConditionAndPutsItFirst(t *testing.T) {
	for _, s := range scenarios() {
		if s.name != "access-denied" {
			continue
		}
		rep := diagnose(s.facts(t))
		if rep.TrustPolicy == nil || len(rep.TrustPolicy.Failures) != 1 {
			t.Fatalf("trust policy report = %+v", rep.TrustPolicy)
		}
		f := rep.TrustPolicy.Failures[0]
		if f.What != `StringLike "token.actions.githubusercontent.com:sub"` || f.Got[0] != "repo:acme/app:environment:prod" {
			t.Errorf("failure = %+v", f)
		}
		if len(rep.Actions) == 0 || !strings.Contains(rep.Actions[0], "StringLike") {
			t.Errorf("first action = %q, want the trust policy's condition", rep.Actions)
		}
	}
}

func TestColourOnlyWhenAsked(t *testing.T) {
	s := scenarios()[1]
	var plain, colour bytes.Buffer
	renderStatus(&plain, s.view(), false)
	renderStatus(&colour, s.view(), true)
	if strings.Contains(plain.String(), "\x1b[") || !strings.Contains(colour.String(), "\x1b[33mdegraded\x1b[0m") {
		t.Errorf("colour escapes wrong:\nplain: %q\ncolour: %q", plain.String()[:60], colour.String()[:60])
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out")) // a file, not a terminal
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, env := range []map[string]string{{"NO_COLOR": "1"}, {"TERM": "dumb"}, {}} {
		if useColor(IO{Stdout: f, Getenv: func(k string) string { return env[k] }}) {
			t.Errorf("useColor(%v, a file) = true", env)
		}
	}
	if useColor(IO{Stdout: &plain, Getenv: func(string) string { return "" }}) {
		t.Error("useColor(buffer) = true")
	}
}

func TestHumanDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 42 * time.Second: "42s", 41*time.Minute + 20*time.Second: "41m", 2*time.Hour + 5*time.Minute: "2h5m",
		3 * time.Hour: "3h", 76 * time.Hour: "3d4h", 59*time.Minute + 59*time.Second: "1h", 59*time.Second + 600*time.Millisecond: "1m",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}

// noSecrets fails if any secret of the fixtures reached the output.
func noSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{authToken, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI"} {
		if strings.Contains(out, s) {
			t.Errorf("output contains the secret %q", s)
		}
	}
}

// A role's duration earns a warning only when the refresher cannot keep
// what it serves above the SDKs' 15-minute window (refresh.LeftAtRefresh).
func TestShortDurationsAreWarnedAboutOnlyWhenClientsWouldRefetch(t *testing.T) {
	for _, tt := range []struct {
		duration time.Duration
		warn     bool
	}{
		{15 * time.Minute, true},
		{20 * time.Minute, true},
		{30 * time.Minute, false},
		{time.Hour, false},
	} {
		st := &daemon.Status{Roles: []daemon.RoleStatus{{Name: "default", Duration: daemon.Duration(tt.duration)}}}
		warned := false
		for _, w := range statusWarnings(st) {
			warned = warned || strings.Contains(w, "refetch on every call")
		}
		if warned != tt.warn {
			t.Errorf("duration %v: warned = %v, want %v (%q)", tt.duration, warned, tt.warn, statusWarnings(st))
		}
	}
}

// A cleartext STS endpoint or issuer off this machine is a warning in
// status, as in doctor; a loopback one (a test server) is not.
func TestCleartextEndpointsAreWarnedAbout(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		warn     bool
	}{
		{"http://sts.example.com", true},
		{"http://10.1.2.3:4566", true},
		{"http://127.0.0.1:4566", false},
		{"https://sts.eu-west-1.amazonaws.com", false},
	} {
		st := &daemon.Status{Roles: []daemon.RoleStatus{{Name: "default", STSEndpoint: tt.endpoint,
			Settings: []daemon.Setting{{Name: "sts-endpoint", Value: tt.endpoint, Origin: "environment AWS_ENDPOINT_URL_STS"}}}}}
		warned := false
		for _, w := range statusWarnings(st) {
			warned = warned || (strings.Contains(w, "in the clear") && strings.Contains(w, "AWS_ENDPOINT_URL_STS"))
		}
		if warned != tt.warn {
			t.Errorf("%s: warned = %v, want %v (%q)", tt.endpoint, warned, tt.warn, statusWarnings(st))
		}
	}
}

// Values from the token, STS or the config reach the terminal as escapes,
// with and without colour; credd's own colour codes stay intact.
func TestStatusAndDoctorEscapeTerminalControls(t *testing.T) {
	var s scenario
	for _, sc := range scenarios() {
		if sc.name == "hostile-values" {
			s = sc
		}
	}
	colour := regexp.MustCompile(`\x1b\[[0-9;]*m`)
	for _, colorOn := range []bool{false, true} {
		var st, doc bytes.Buffer
		renderStatus(&st, s.view(), colorOn)
		renderDoctor(&doc, diagnose(s.facts(t)), colorOn)
		for name, out := range map[string]string{"status": st.String(), "doctor": doc.String()} {
			bare := colour.ReplaceAllString(out, "")
			if i := strings.IndexFunc(bare, func(r rune) bool {
				return r < ' ' && r != '\n' || r == 0x7f || 0x80 <= r && r <= 0x9f || r == 0x202e
			}); i >= 0 {
				t.Errorf("%s (colour %v) prints a raw control character %q: %q", name, colorOn, []rune(bare[i:])[0], bare[max(0, i-20):min(len(bare), i+20)])
			}
			for _, want := range []string{`\x1b]8;;http://evil\x07click\x1b]8;;\x07`, `\rOK`} {
				if name == "status" && !strings.Contains(out, want) {
					t.Errorf("%s (colour %v) does not show %s", name, colorOn, want)
				}
			}
			if !strings.Contains(out, `denied\x1b[2J\u009b31mfor`) {
				t.Errorf("%s (colour %v) does not show the error message escaped", name, colorOn)
			}
			if colorOn && !colour.MatchString(out) {
				t.Errorf("%s lost its colours", name)
			}
		}
	}
}

// suggestedCommands finds the credd commands in out and those of them that
// do not name --state-dir, leaving out the last reload's trigger (a
// command that ran) and doctor's heading.
func suggestedCommands(out string) (all int, unflagged []string) {
	cmd := regexp.MustCompile(`credd (daemon|status|doctor|login|logout|reload|env|exec)\b( --state-dir)?`)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "last reload") || strings.Contains(line, `"trigger"`) || strings.HasPrefix(line, "credd doctor: role") {
			continue
		}
		for _, m := range cmd.FindAllStringSubmatch(line, -1) {
			all++
			if m[2] == "" {
				unflagged = append(unflagged, line)
			}
		}
	}
	return all, unflagged
}

// With a state dir that is not the default, every fix status and doctor
// suggest names it, or the suggested command would ask another daemon.
func TestSuggestedCommandsNameANonDefaultStateDir(t *testing.T) {
	const dir = "/srv/my credd"
	waiting := healthyStatus()
	waiting.Roles, waiting.Requests, waiting.Clients = nil, nil, nil
	waiting.NoRole = "CREDD_ROLE_ARN is not set"
	shell := goodEnv()
	delete(shell, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
	cases := append(scenarios(), scenario{name: "waiting-for-a-role", status: waiting, env: shell})
	for _, s := range cases {
		t.Run(s.name, func(t *testing.T) {
			v := s.view()
			v.SuggestStateDir = dir
			var text, js, doc, docJS bytes.Buffer
			renderStatus(&text, v, false)
			writeJSON(&js, statusJSON(v))
			f := s.facts(t)
			f.StateDir = dir
			rep := diagnose(f)
			renderDoctor(&doc, rep, false)
			writeJSON(&docJS, rep)
			out := text.String() + js.String() + doc.String() + docJS.String()
			n, bad := suggestedCommands(out)
			if len(bad) > 0 {
				t.Errorf("suggested commands without --state-dir:\n%s", strings.Join(bad, "\n"))
			}
			if n > 0 && !strings.Contains(out, "--state-dir '/srv/my credd'") {
				t.Errorf("no suggestion names the state dir, quoted:\n%s", out)
			}
			if s.name == "waiting-for-a-role" {
				for _, want := range []string{"`credd reload --state-dir '/srv/my credd' --from-env`", `eval "$(credd env --state-dir '/srv/my credd')"`} {
					if !strings.Contains(out, want) {
						t.Errorf("want %s in\n%s", want, out)
					}
				}
			}
		})
	}
}

// The state dir is named only when it is not the one credd would pick.
func TestStatusNamesTheStateDirOnlyWhenItIsNotTheDefault(t *testing.T) {
	runtime := t.TempDir()
	env := map[string]string{"XDG_RUNTIME_DIR": runtime}
	io := IO{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(k string) string { return env[k] }}
	other := filepath.Join(t.TempDir(), "credd")
	for _, tt := range []struct {
		dir, want string
	}{
		{filepath.Join(runtime, "credd"), "`credd daemon`"},
		{other, "`credd daemon --state-dir " + other + "`"},
	} {
		v := gatherStatus(t.Context(), tt.dir, io)
		if !v.NotRunning {
			t.Fatalf("%s: a daemon answered: %+v", tt.dir, v)
		}
		var out bytes.Buffer
		renderStatus(&out, v, false)
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("state dir %s: want %s in\n%s", tt.dir, tt.want, out.String())
		}
	}
}

// The serving line says when the credentials expire and that they stay
// valid until then, whatever happens to the container.
func TestServingRoleShowsRemainingLifetime(t *testing.T) {
	for _, tt := range []struct {
		exp  time.Time
		want string
	}{
		{now.Add(47 * time.Minute), "expire 10:47 UTC, in 47m: valid until then, even if this container stops"},
		{now.Add(15 * time.Hour), "expire 2026-03-05 01:00 UTC, in 15h: valid until then"},
	} {
		st := healthyStatus()
		st.Roles[0].Expiration = tt.exp
		var out bytes.Buffer
		renderStatus(&out, statusView{Status: st, Env: checkEnv(goodEnv(), st)}, false)
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("want %q in\n%s", tt.want, out.String())
		}
	}
}
