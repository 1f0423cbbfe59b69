package doctor

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/envcheck"
	"github.com/credd-dev/credd/daemon/login"
	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/sts"
	"github.com/credd-dev/credd/daemon/token"
)

// Clock skew thresholds: tokens are checked with 30 s of leeway locally,
// and STS refuses tokens whose exp or nbf disagree with its clock.
const (
	skewWarn = time.Minute
	skewFail = 5 * time.Minute
)

// expiryWarn is the credential lifetime left under which botocore, .NET and
// Java refetch on every call.
const expiryWarn = 15 * time.Minute

func isAccessDenied(e *daemon.ErrorStatus) bool { return e.Code == sts.CodeAccessDenied }

// checkDaemon: is the daemon running, and does it serve the role?
func checkDaemon(v *view) (Check, bool) {
	st := v.Status
	switch {
	case st == nil:
		return Check{Name: "daemon", Result: Fail, Detail: []string{v.StatusErr},
			Fix: "start the daemon: `credd daemon` (or rebuild the dev container, whose entrypoint starts it)", cause: causeDaemon}, true
	case !v.hasRole:
		return Check{Name: "daemon", Result: Fail, Detail: []string{fmt.Sprintf("the daemon (pid %d) serves no role named %s", st.PID, v.Role)},
			Fix: "pass --profile with one of the roles `credd status` lists", cause: causeDaemon}, true
	}
	return Check{Name: "daemon", Result: OK, Detail: []string{fmt.Sprintf("running: pid %d, credd %s, up %s, endpoint %s",
		st.PID, st.Version, Human(st.Now.Sub(st.StartedAt)), st.Endpoint)}}, true
}

// checkTokenSource: did the last attempt get a token? It fails when the last
// error happened at the token source or the token's local check.
func checkTokenSource(v *view) (Check, bool) {
	if !v.hasRole {
		return Check{}, false
	}
	c := Check{Name: "token source", Detail: []string{v.role.TokenSource}}
	switch e := v.err; {
	case v.tokenErr:
		c.Result = Fail
		c.Detail = append(c.Detail, fmt.Sprintf("%s %s: %s", Relative(v.now, e.At), e.Code, e.Message))
		c.Fix, c.cause = ErrorHint(e), causeToken
		if e.Code == login.CodeLoginRequired {
			c.cause = causeLogin
		}
	case v.role.Claims == nil:
		c.Result = Warn
		c.Detail = append(c.Detail, "no token read yet")
	default:
		c.Result = OK
	}
	return c, true
}

// checkClaims: is the last token's audience the one credd asks for, and is
// it still valid?
func checkClaims(v *view) (Check, bool) {
	if !v.hasRole || v.role.Claims == nil {
		return Check{}, false
	}
	r := v.role
	c := Check{Name: "token claims", Result: OK, Detail: ClaimLines(*r.Claims, v.now)}
	if r.Audience != "" && !slices.Contains(r.Claims.Audience, r.Audience) {
		c.Result, c.cause = Fail, causeToken
		c.Detail = append(c.Detail, "the token's aud does not include "+r.Audience+", the audience credd asks for")
		c.Fix = "request the token for audience " + r.Audience + ", or set --audience to what the trust policy expects"
	}
	if v.tokenErr && v.err.Code == token.CodeExpired {
		c.Result = Fail
	}
	return c, true
}

// checkTrustPolicy: does the policy given with --trust-policy allow the
// token? There is no such check without a policy.
func checkTrustPolicy(v *view) (Check, bool) {
	if !v.hasRole {
		return Check{}, false
	}
	switch {
	case v.PolicyErr != "":
		return Check{Name: "trust policy", Result: Fail, Detail: []string{v.PolicyFile + ": " + v.PolicyErr},
			Fix: "pass the role's trust policy JSON (aws iam get-role --role-name NAME --query Role.AssumeRolePolicyDocument)", cause: causeTrust}, true
	case v.Policy != nil && v.role.Claims == nil:
		return Check{Name: "trust policy", Result: Skip, Detail: []string{"no token claims to evaluate it against"}}, true
	case v.trust == nil:
		return Check{}, false
	}
	t := v.trust
	if !t.allows() {
		c := Check{Name: "trust policy", Result: Fail, cause: causeTrust,
			Detail: []string{fmt.Sprintf("%s refuses this token (%s):", t.File, t.Decision)}, Fix: trustFix(t.Failures)}
		for _, fl := range t.Failures {
			c.Detail = append(c.Detail, fl.String())
		}
		return c, true
	}
	c := Check{Name: "trust policy", Result: OK, Detail: []string{t.File + " allows this token"}}
	if v.err != nil && isAccessDenied(v.err) {
		c.Result, c.cause = Warn, causeTrust
		c.Detail = append(c.Detail, "yet STS answered AccessDenied: is this the role's current trust policy, and does the role ARN's account own the OIDC provider?")
		c.Fix = "compare with aws iam get-role --role-name " + roleName(v.role.RoleARN) + " --query Role.AssumeRolePolicyDocument"
	}
	return c, true
}

// checkSTS: did the last exchange work? It fails when the last error
// happened anywhere but getting the token.
func checkSTS(v *view) (Check, bool) {
	if !v.hasRole {
		return Check{}, false
	}
	r := v.role
	c := Check{Name: "STS", Detail: []string{"AssumeRoleWithWebIdentity at " + orDefault(r.STSEndpoint, "the default endpoint")}}
	switch e := v.err; {
	case e != nil && !v.tokenErr:
		c.Result, c.cause = Fail, causeSTS
		c.Detail = append(c.Detail, fmt.Sprintf("%s %s %s: %s", Relative(v.now, e.At), e.Kind, e.Code, e.Message))
		c.Fix = ErrorHint(e)
		if isAccessDenied(e) {
			c.cause = causeTrust
			switch {
			case v.Policy == nil:
				c.Fix = "the role's trust policy refuses the token's claims (shown above): fix its conditions, using the suggested statement, or run credd doctor --trust-policy FILE with the role's policy to name the failing condition"
			case v.trust != nil && !v.trust.allows():
				c.Fix = "" // the trust policy check names the cause
			}
		}
	case !r.LastSuccess.IsZero():
		c.Result = OK
		c.Detail = append(c.Detail, fmt.Sprintf("last call ok %s (%s)", Relative(v.now, r.LastSuccess), Plural(r.STSCalls, "call")))
	default:
		c.Result = Skip
		c.Detail = append(c.Detail, "no call answered yet")
	}
	return c, true
}

// checkCleartext: do the token, the login's secrets or the credentials
// cross the network unencrypted? Silent when they do not.
func checkCleartext(v *view) (Check, bool) {
	if !v.hasRole {
		return Check{}, false
	}
	ws := CleartextWarnings(v.role)
	if len(ws) == 0 {
		return Check{}, false
	}
	c := Check{Name: "cleartext", Result: Warn, cause: causeMinor}
	var fixes []string
	for _, w := range ws {
		c.Detail = append(c.Detail, w.Message)
		fixes = append(fixes, "--"+w.Setting+" "+w.URL)
	}
	c.Fix = strings.Join(fixes, " and ") + ": " + config.CleartextFix
	return c, true
}

// checkClock: does this machine's clock agree with STS's?
func checkClock(v *view) (Check, bool) {
	m := v.Clock
	if !v.hasRole || m == nil {
		return Check{}, false
	}
	c := Check{Name: "clock"}
	if m.Err != "" {
		return Check{Name: "clock", Result: Warn, cause: causeMinor,
			Detail: []string{"could not ask " + m.URL + " for its time: " + m.Err},
			Fix:    "check that the STS endpoint is reachable from here (DNS, HTTPS_PROXY/NO_PROXY, firewall)"}, true
	}
	switch abs := m.Skew.Abs(); {
	case abs >= skewFail:
		c.Result, c.cause = Fail, causeClock
	case abs >= skewWarn:
		c.Result, c.cause = Warn, causeMinor
	default:
		c.Result = OK
	}
	c.Detail = []string{fmt.Sprintf("this machine's clock is %s STS's (%s)", skewWords(m.Skew), m.URL)}
	if c.Result != OK {
		c.Fix = "fix this machine's clock (NTP): tokens look expired or not yet valid to STS when clocks disagree"
	}
	return c, true
}

// checkEndpoint: does the endpoint serve credentials for the daemon's own
// authorization token?
func checkEndpoint(v *view) (Check, bool) {
	ff := v.Fetch
	if !v.hasRole || ff == nil {
		return Check{}, false
	}
	switch {
	case ff.Err != "":
		return Check{Name: "endpoint", Result: Fail, cause: causeEndpoint, Detail: []string{"GET " + ff.URL + ": " + ff.Err},
			Fix: "check that the daemon listens where `credd status` says"}, true
	case ff.Status == http.StatusOK:
		c := Check{Name: "endpoint", Result: OK, Detail: []string{fmt.Sprintf("GET %s: 200, credentials for account %s, expire %s",
			ff.URL, ff.AccountID, Relative(v.now, ff.Expiration))}}
		if ff.Expiration.Sub(v.now) < expiryWarn {
			c.Result, c.cause = Warn, causeMinor
			c.Fix = "the credentials are close to expiry, so botocore, .NET and Java refetch on every call; see the STS check"
		}
		return c, true
	}
	c := Check{Name: "endpoint", Result: Fail, cause: causeEndpoint, Detail: []string{fmt.Sprintf("GET %s: %d %s: %s", ff.URL, ff.Status, ff.Code, ff.Message)}}
	if ff.Status == http.StatusServiceUnavailable {
		c.Fix = "the daemon has no valid credentials: fix the failing check above"
		c.cause = causeMinor // a consequence, not a cause
	}
	return c, true
}

// checkRefusals: has the endpoint refused requests lately? Most SDKs hide
// the reason credd gives them, so this is where the user learns it.
func checkRefusals(v *view) (Check, bool) {
	if v.Status == nil {
		return Check{}, false
	}
	notes := RecentRefusals(v.Status)
	if len(notes) == 0 {
		return Check{Name: "refusals", Result: OK, Detail: []string{"no request refused in the last " + Human(RecentRefusal)}}, true
	}
	c := Check{Name: "refusals", Result: Warn, cause: causeShell}
	var fixes []string
	for _, n := range notes {
		c.Detail = append(c.Detail, n.What)
		if !slices.Contains(fixes, n.Fix) {
			fixes = append(fixes, n.Fix)
		}
	}
	c.Fix = strings.Join(fixes, "; ")
	return c, true
}

// checkShell: do SDKs started from this shell use credd?
func checkShell(v *view) (Check, bool) {
	c := Check{Name: "this shell", Result: OK}
	var fixes []string
	for _, fd := range v.Env.Findings {
		if fd.Severity == envcheck.OK {
			continue
		}
		c.Detail = append(c.Detail, string(fd.Severity)+": "+fd.Message)
		if fd.Fix != "" && !slices.Contains(fixes, fd.Fix) {
			fixes = append(fixes, fd.Fix)
		}
		if fd.Severity == envcheck.Problem {
			c.Result, c.cause = Fail, causeShell
		} else if c.Result == OK {
			c.Result, c.cause = Warn, causeMinor
		}
	}
	if c.Result == OK {
		c.Detail = []string{"SDKs started from this shell use credd (profile " + v.Env.Profile + ")"}
		if v.Status == nil {
			c.Detail = []string{"nothing shadows credd (profile " + v.Env.Profile + "); FULL_URI and the token could not be compared with the daemon's"}
		}
	}
	c.Fix = strings.Join(fixes, "; ")
	return c, true
}

func trustFix(fs []policy.Failure) string {
	if len(fs) == 0 {
		return "fix the role's trust policy"
	}
	f := fs[0]
	s := "in " + f.Statement + " of the trust policy, change " + f.What + " to match the token"
	if f.KeyUnavailable {
		// No token can match it: the condition itself must go.
		s = "in " + f.Statement + " of the trust policy, replace " + f.What
	}
	if f.Note != "" {
		s += ": " + f.Note
	}
	return s
}

func skewWords(d time.Duration) string {
	switch {
	case d > time.Second:
		return Human(d) + " behind"
	case d < -time.Second:
		return Human(-d) + " ahead of"
	}
	return "in step with"
}

func roleName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
