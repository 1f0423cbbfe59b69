package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/envcheck"
	"github.com/credd-dev/credd/daemon/policy"
)

// doctorVersion is the version of `credd doctor --json`; it follows
// daemon.StatusVersion's rule (adding fields does not bump it).
const doctorVersion = 1

// Clock skew thresholds: tokens are checked with 30 s of leeway locally,
// and STS refuses tokens whose exp or nbf disagree with its clock.
const (
	skewWarn = time.Minute
	skewFail = 5 * time.Minute
)

func runDoctor(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("doctor", io)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	profile := fs.String("profile", "", "the role to check (default: the default role)")
	trustPolicy := fs.String("trust-policy", "", "the role's trust policy JSON file, evaluated against the token's claims")
	asJSON := fs.Bool("json", false, "print the diagnosis as a JSON document (schema: docs/status.md)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	f := gatherDoctor(ctx, doctorDeps{
		stateDir:   config.StateDir(*stateDir, io.Getenv),
		role:       *profile,
		policyFile: *trustPolicy,
		io:         io,
		http:       &http.Client{Timeout: 5 * time.Second},
		now:        time.Now,
	})
	rep := diagnose(f)
	if *asJSON {
		writeJSON(io.Stdout, rep)
	} else {
		renderDoctor(io.Stdout, rep, useColor(io))
	}
	return rep.ExitCode
}

// doctorFacts are what doctor found out; diagnose turns them into a
// report without any I/O, so the golden tests need no daemon.
type doctorFacts struct {
	// Status comes from the control socket (nil when it did not answer).
	Status     *daemon.Status
	StatusErr  string
	NotRunning bool
	Role       string
	Env        envcheck.Report
	// Clock is the STS endpoint's Date against this machine's clock.
	Clock *clockFact
	// Fetch is a credentials request to the endpoint with the real token.
	Fetch *fetchFact
	// PolicyFile was given with --trust-policy; Policy is it parsed.
	PolicyFile string
	Policy     *policy.Document
	PolicyErr  string
}

type clockFact struct {
	URL  string
	Skew time.Duration // STS's clock minus ours
	Err  string
}

type fetchFact struct {
	URL        string
	Status     int
	Code       string
	Message    string
	AccountID  string
	Expiration time.Time
	Err        string
}

type doctorDeps struct {
	stateDir, role, policyFile string
	io                         IO
	http                       *http.Client
	now                        func() time.Time
}

func gatherDoctor(ctx context.Context, d doctorDeps) doctorFacts {
	v := gatherStatus(ctx, d.stateDir, d.io)
	f := doctorFacts{Status: v.Status, StatusErr: v.Err, NotRunning: v.NotRunning, Role: orDefaultRole(d.role), Env: v.Env, PolicyFile: d.policyFile}
	if d.policyFile != "" {
		if b, err := os.ReadFile(d.policyFile); err != nil {
			f.PolicyErr = err.Error()
		} else if f.Policy, err = policy.Parse(b); err != nil {
			f.PolicyErr = err.Error()
		}
	}
	r, ok := pickRole(v.Status, d.role)
	if !ok {
		return f
	}
	if r.STSEndpoint != "" {
		f.Clock = measureSkew(ctx, d.http, r.STSEndpoint, d.now)
	}
	if tok, err := authtoken.Read(v.Status.StateDir); err == nil {
		urls := roleURLs(*v.Status)
		for _, u := range urls {
			if strings.HasSuffix(u, r.Path) {
				f.Fetch = fetchWithToken(ctx, d.http, u, tok)
			}
		}
	} else {
		f.Fetch = &fetchFact{Err: "cannot read the daemon's token file: " + err.Error()}
	}
	return f
}

// measureSkew compares the Date header of any answer from the STS endpoint
// with the middle of the request's round trip.
func measureSkew(ctx context.Context, hc *http.Client, endpoint string, now func() time.Time) *clockFact {
	cf := &clockFact{URL: endpoint}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		cf.Err = err.Error()
		return cf
	}
	start := now()
	resp, err := hc.Do(req)
	if err != nil {
		cf.Err = err.Error()
		return cf
	}
	resp.Body.Close()
	end := now()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		cf.Err = "the answer has no usable Date header"
		return cf
	}
	mid := start.Add(end.Sub(start) / 2)
	// Date has whole seconds: up to a second of skew is noise.
	cf.Skew = date.Sub(mid.Truncate(time.Second))
	return cf
}

// fetchWithToken asks the endpoint as an SDK would, keeping nothing of the
// credentials but their account and expiry.
func fetchWithToken(ctx context.Context, hc *http.Client, u, token string) *fetchFact {
	ff := &fetchFact{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		ff.Err = err.Error()
		return ff
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "credd/"+version()+" doctor")
	resp, err := hc.Do(req)
	if err != nil {
		ff.Err = err.Error()
		return ff
	}
	defer resp.Body.Close()
	ff.Status = resp.StatusCode
	var body struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		AccountID  string `json:"AccountId"`
		Expiration string `json:"Expiration"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		ff.Err = "the answer is not JSON"
		return ff
	}
	ff.Code, ff.Message, ff.AccountID = body.Code, body.Message, body.AccountID
	if t, err := time.Parse(daemon.ExpirationLayout, body.Expiration); err == nil {
		ff.Expiration = t
	}
	return ff
}

// Check results.
const (
	resOK   = "ok"
	resWarn = "warn"
	resFail = "fail"
	resSkip = "skip"
)

// doctorCheck is one line of the diagnosis.
type doctorCheck struct {
	Name   string   `json:"name"`
	Result string   `json:"result"`
	Detail []string `json:"detail"`
	Fix    string   `json:"fix,omitempty"`
	// rank orders the fixes: the most likely cause first.
	rank int
}

// doctorReport is the diagnosis; --json prints it (docs/status.md).
type doctorReport struct {
	SchemaVersion int           `json:"schemaVersion"`
	OK            bool          `json:"ok"`
	ExitCode      int           `json:"exitCode"`
	Role          string        `json:"role"`
	Checks        []doctorCheck `json:"checks"`
	// Actions are the fixes, most likely cause first.
	Actions []string `json:"actions"`
	// TrustPolicy is set with --trust-policy and a token's claims.
	TrustPolicy *trustReport `json:"trustPolicy,omitempty"`
	// Claims and Suggestion are set when STS answered AccessDenied and no
	// policy was given: the claims STS saw and a trust policy that fits.
	Claims     *daemon.Claims     `json:"claims,omitempty"`
	Suggestion *policy.Suggestion `json:"suggestion,omitempty"`
}

type trustReport struct {
	File     string           `json:"file"`
	Decision policy.Decision  `json:"decision"`
	Failures []policy.Failure `json:"failures,omitempty"`
}

// Ranks of the fixes: what stops everything first, then the token, the
// trust policy, STS, the clock, the endpoint and the shell.
const (
	rankDaemon = iota
	rankLogin
	rankToken
	rankTrust
	rankSTS
	rankClock
	rankEndpoint
	rankShell
	rankWarn = 100
)

func diagnose(f doctorFacts) doctorReport {
	rep := doctorReport{SchemaVersion: doctorVersion, Role: f.Role, Checks: []doctorCheck{}, Actions: []string{}}
	add := func(c doctorCheck) { rep.Checks = append(rep.Checks, c) }
	st := f.Status

	// The daemon.
	r, haveRole := pickRole(st, f.Role)
	switch {
	case st == nil:
		add(doctorCheck{Name: "daemon", Result: resFail, Detail: []string{f.StatusErr}, Fix: "start the daemon: `credd daemon` (or rebuild the dev container, whose entrypoint starts it)", rank: rankDaemon})
	case !haveRole:
		add(doctorCheck{Name: "daemon", Result: resFail, Detail: []string{fmt.Sprintf("the daemon (pid %d) serves no role named %s", st.PID, f.Role)}, Fix: "pass --profile with one of the roles `credd status` lists", rank: rankDaemon})
	default:
		add(doctorCheck{Name: "daemon", Result: resOK, Detail: []string{fmt.Sprintf("running: pid %d, credd %s, up %s, endpoint %s", st.PID, st.Version, human(st.Now.Sub(st.StartedAt)), st.Endpoint)}})
	}

	if haveRole {
		now := st.Now
		e := r.LastError
		tokenErr := e != nil && isTokenCode(e.Code)

		// The token source.
		tc := doctorCheck{Name: "token source", Detail: []string{r.TokenSource}}
		switch {
		case tokenErr:
			tc.Result = resFail
			tc.Detail = append(tc.Detail, fmt.Sprintf("%s %s: %s", relative(now, e.At), e.Code, e.Message))
			tc.Fix, tc.rank = errorHint(e), rankToken
			if e.Code == "LoginRequired" {
				tc.rank = rankLogin
			}
		case r.Claims == nil:
			tc.Result = resWarn
			tc.Detail = append(tc.Detail, "no token read yet")
		default:
			tc.Result = resOK
		}
		add(tc)

		// The token's claims.
		if r.Claims != nil {
			cc := doctorCheck{Name: "token claims", Result: resOK, Detail: claimLines(*r.Claims, now)}
			if r.Audience != "" && !slices.Contains(r.Claims.Audience, r.Audience) {
				cc.Result, cc.rank = resFail, rankToken
				cc.Detail = append(cc.Detail, "the token's aud does not include "+r.Audience+", the audience credd asks for")
				cc.Fix = "request the token for audience " + r.Audience + ", or set --audience to what the trust policy expects"
			}
			if tokenErr && e.Code == "TokenExpired" {
				cc.Result = resFail
			}
			add(cc)
		}

		// The trust policy.
		switch {
		case f.PolicyErr != "":
			add(doctorCheck{Name: "trust policy", Result: resFail, Detail: []string{f.PolicyFile + ": " + f.PolicyErr}, Fix: "pass the role's trust policy JSON (aws iam get-role --role-name NAME --query Role.AssumeRolePolicyDocument)", rank: rankTrust})
		case f.Policy != nil && r.Claims == nil:
			add(doctorCheck{Name: "trust policy", Result: resSkip, Detail: []string{"no token claims to evaluate it against"}})
		case f.Policy != nil:
			res := f.Policy.Evaluate(policy.NewRequest(*r.Claims, policy.AccountOf(r.RoleARN)))
			tr := &trustReport{File: f.PolicyFile, Decision: res.Decision, Failures: res.Failures()}
			rep.TrustPolicy = tr
			pc := doctorCheck{Name: "trust policy"}
			if res.Allowed() {
				pc.Result = resOK
				pc.Detail = []string{f.PolicyFile + " allows this token"}
				if e != nil && e.Code == "AccessDenied" {
					pc.Result = resWarn
					pc.Detail = append(pc.Detail, "yet STS answered AccessDenied: is this the role's current trust policy, and does the role ARN's account own the OIDC provider?")
					pc.Fix, pc.rank = "compare with aws iam get-role --role-name "+roleName(r.RoleARN)+" --query Role.AssumeRolePolicyDocument", rankTrust
				}
			} else {
				pc.Result, pc.rank = resFail, rankTrust
				pc.Detail = []string{fmt.Sprintf("%s refuses this token (%s):", f.PolicyFile, res.Decision)}
				for _, fl := range tr.Failures {
					pc.Detail = append(pc.Detail, fl.String())
				}
				pc.Fix = trustFix(tr.Failures)
			}
			add(pc)
		case e != nil && e.Code == "AccessDenied" && r.Claims != nil:
			s := policy.Suggest(*r.Claims, policy.AccountOf(r.RoleARN))
			rep.Claims, rep.Suggestion = r.Claims, &s
		}

		// The last STS call.
		sc := doctorCheck{Name: "STS", Detail: []string{"AssumeRoleWithWebIdentity at " + cmpOr(r.STSEndpoint, "the default endpoint")}}
		switch {
		case e != nil && !tokenErr:
			sc.Result, sc.rank = resFail, rankSTS
			sc.Detail = append(sc.Detail, fmt.Sprintf("%s %s %s: %s", relative(now, e.At), e.Kind, e.Code, e.Message))
			sc.Fix = errorHint(e)
			if e.Code == "AccessDenied" {
				sc.rank = rankTrust
				switch {
				case f.Policy == nil:
					sc.Fix = "the role's trust policy refuses the token's claims (shown above): fix its conditions, using the suggested statement, or run credd doctor --trust-policy FILE with the role's policy to name the failing condition"
				case rep.TrustPolicy != nil && !f.Policy.Evaluate(policy.NewRequest(*r.Claims, policy.AccountOf(r.RoleARN))).Allowed():
					sc.Fix = "" // the trust policy check names the cause
				}
			}
		case !r.LastSuccess.IsZero():
			sc.Result = resOK
			sc.Detail = append(sc.Detail, fmt.Sprintf("last call ok %s (%s)", relative(now, r.LastSuccess), plural(r.STSCalls, "call")))
		default:
			sc.Result = resSkip
			sc.Detail = append(sc.Detail, "no call answered yet")
		}
		add(sc)

		// The clock.
		if c := f.Clock; c != nil {
			cc := doctorCheck{Name: "clock"}
			abs := max(c.Skew, -c.Skew)
			switch {
			case c.Err != "":
				cc.Result, cc.rank = resWarn, rankWarn
				cc.Detail = []string{"could not ask " + c.URL + " for its time: " + c.Err}
				cc.Fix = "check that the STS endpoint is reachable from here (DNS, HTTPS_PROXY/NO_PROXY, firewall)"
			case abs >= skewFail:
				cc.Result, cc.rank = resFail, rankClock
			case abs >= skewWarn:
				cc.Result, cc.rank = resWarn, rankWarn
			default:
				cc.Result = resOK
			}
			if c.Err == "" {
				cc.Detail = []string{fmt.Sprintf("this machine's clock is %s STS's (%s)", skewWords(c.Skew), c.URL)}
				if cc.Result != resOK {
					cc.Fix = "fix this machine's clock (NTP): tokens look expired or not yet valid to STS when clocks disagree"
				}
			}
			add(cc)
		}

		// The endpoint, with the real token.
		if ff := f.Fetch; ff != nil {
			ec := doctorCheck{Name: "endpoint"}
			switch {
			case ff.Err != "":
				ec.Result, ec.rank = resFail, rankEndpoint
				ec.Detail = []string{"GET " + ff.URL + ": " + ff.Err}
				ec.Fix = "check that the daemon listens where `credd status` says"
			case ff.Status == http.StatusOK:
				left := ff.Expiration.Sub(now)
				ec.Result = resOK
				ec.Detail = []string{fmt.Sprintf("GET %s: 200, credentials for account %s, expire %s", ff.URL, ff.AccountID, relative(now, ff.Expiration))}
				if left < 15*time.Minute {
					ec.Result, ec.rank = resWarn, rankWarn
					ec.Fix = "the credentials are close to expiry, so botocore, .NET and Java refetch on every call; see the STS check"
				}
			default:
				ec.Result, ec.rank = resFail, rankEndpoint
				ec.Detail = []string{fmt.Sprintf("GET %s: %d %s: %s", ff.URL, ff.Status, ff.Code, ff.Message)}
				if ff.Status == http.StatusServiceUnavailable {
					ec.Fix = "the daemon has no valid credentials: fix the failing check above"
					ec.rank = rankWarn // a consequence, not a cause
				}
			}
			add(ec)
		}
	}

	// The calling shell.
	ec := doctorCheck{Name: "this shell", Result: resOK}
	var fixes []string
	for _, fd := range f.Env.Findings {
		if fd.Severity == envcheck.OK {
			continue
		}
		ec.Detail = append(ec.Detail, string(fd.Severity)+": "+fd.Message)
		if fd.Fix != "" && !slices.Contains(fixes, fd.Fix) {
			fixes = append(fixes, fd.Fix)
		}
		if fd.Severity == envcheck.Problem {
			ec.Result, ec.rank = resFail, rankShell
		} else if ec.Result == resOK {
			ec.Result, ec.rank = resWarn, rankWarn
		}
	}
	if ec.Result == resOK {
		ec.Detail = []string{"SDKs started from this shell use credd (profile " + f.Env.Profile + ")"}
		if st == nil {
			ec.Detail = []string{"nothing shadows credd (profile " + f.Env.Profile + "); FULL_URI and the token could not be compared with the daemon's"}
		}
	}
	ec.Fix = strings.Join(fixes, "; ")
	add(ec)

	// What to do, most likely cause first.
	var todo []doctorCheck
	for _, c := range rep.Checks {
		if (c.Result == resFail || c.Result == resWarn) && c.Fix != "" {
			todo = append(todo, c)
		}
	}
	slices.SortStableFunc(todo, func(a, b doctorCheck) int { return a.rank - b.rank })
	for _, c := range todo {
		if !slices.Contains(rep.Actions, c.Fix) {
			rep.Actions = append(rep.Actions, c.Fix)
		}
	}

	rep.OK = !slices.ContainsFunc(rep.Checks, func(c doctorCheck) bool { return c.Result == resFail })
	switch {
	case f.NotRunning:
		rep.ExitCode = exitDown
	case !rep.OK:
		rep.ExitCode = exitFailure
	}
	return rep
}

// isTokenCode tells the token source's errors from STS's.
func isTokenCode(code string) bool {
	for _, p := range []string{"Token", "Actions", "IdP", "Login", "DeviceFlow"} {
		if strings.HasPrefix(code, p) {
			return true
		}
	}
	switch code {
	case "EmptyToken", "MalformedToken", "AudienceMismatch", "IssuerMismatch", "SandboxStopped":
		return true
	}
	return false
}

func trustFix(fs []policy.Failure) string {
	if len(fs) == 0 {
		return "fix the role's trust policy"
	}
	f := fs[0]
	s := "in " + f.Statement + " of the trust policy, change " + f.What + " to match the token"
	if f.Note != "" {
		s += ": " + f.Note
	}
	return s
}

func skewWords(d time.Duration) string {
	switch {
	case d > time.Second:
		return human(d) + " behind"
	case d < -time.Second:
		return human(-d) + " ahead of"
	}
	return "in step with"
}

func roleName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func renderDoctor(w io.Writer, rep doctorReport, color bool) {
	c := palette(color)
	fmt.Fprintf(w, "credd doctor: role %s\n\n", rep.Role)
	for _, ch := range rep.Checks {
		label := fmt.Sprintf("%-4s", ch.Result)
		switch ch.Result {
		case resOK:
			label = c.ok(label)
		case resWarn:
			label = c.warn(label)
		case resFail:
			label = c.bad("FAIL")
		}
		for i, d := range ch.Detail {
			if i == 0 {
				fmt.Fprintf(w, "  %s  %-13s %s\n", label, ch.Name, d)
				continue
			}
			fmt.Fprintf(w, "  %4s  %-13s %s\n", "", "", d)
		}
		if len(ch.Detail) == 0 {
			fmt.Fprintf(w, "  %s  %s\n", label, ch.Name)
		}
	}
	if rep.Claims != nil && rep.Suggestion != nil {
		renderSuggestion(w, *rep.Claims, *rep.Suggestion)
	}
	fmt.Fprintln(w)
	if len(rep.Actions) == 0 {
		fmt.Fprintf(w, "%s: nothing to fix.\n", c.ok("All good"))
		return
	}
	fmt.Fprintln(w, "What to do, most likely cause first:")
	for i, a := range rep.Actions {
		fmt.Fprintf(w, "  %d. %s\n", i+1, a)
	}
}

func renderSuggestion(w io.Writer, cl daemon.Claims, s policy.Suggestion) {
	fmt.Fprintln(w, "\nSTS refused the role for a token with these claims (the token itself is not shown):")
	keys := []string{"iss " + cl.Issuer, "sub " + cl.Subject, "aud " + strings.Join(cl.Audience, ", ")}
	for _, k := range githubClaims {
		if v := cl.Extra[k]; v != "" {
			keys = append(keys, k+" "+v)
		}
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  %s\n", k)
	}
	fmt.Fprintln(w, "\nA trust policy statement that allows exactly this token, ready to paste:")
	writeIndented(w, struct {
		Effect    string
		Principal map[string]string
		Action    string
		Condition map[string]map[string]string
	}{"Allow", map[string]string{"Federated": s.Federated}, policy.ActionAssumeRoleWithWebIdentity, s.Condition})
	if s.Broader != nil {
		fmt.Fprintln(w, "\nOr, to allow every branch, tag, environment and pull request of the repository, this Condition:")
		writeIndented(w, map[string]any{"Condition": s.Broader})
	}
}

func writeIndented(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "  ", "  ")
	fmt.Fprintf(w, "  %s\n", b)
}
