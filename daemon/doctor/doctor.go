// Package doctor turns what was found out about a role into checks and ranked fixes.
package doctor

import (
	"cmp"
	"slices"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/envcheck"
	"github.com/credd-dev/credd/daemon/policy"
)

// Version is the version of the Report document (`credd doctor --json`); it
// follows daemon.StatusVersion's rule (adding fields does not bump it).
const Version = 1

// Facts are what `credd doctor` found out. Diagnose turns them into a report
// without any I/O, so tests need no daemon.
type Facts struct {
	// Status comes from the control socket (nil when it did not answer).
	Status     *daemon.Status
	StatusErr  string
	NotRunning bool
	// Role is the name of the role to check.
	Role string
	Env  envcheck.Report
	// Clock is the STS endpoint's Date against this machine's clock.
	Clock *Clock
	// Fetch is a credentials request to the endpoint with the real token.
	Fetch *Fetch
	// PolicyFile was given with --trust-policy; Policy is it parsed.
	PolicyFile string
	Policy     *policy.Document
	PolicyErr  string
	// StateDir is named with --state-dir in every credd command the report
	// suggests; "" when the state dir in use is the default one.
	StateDir string
}

// Clock is the STS endpoint's clock measured against this machine's.
type Clock struct {
	URL  string
	Skew time.Duration // STS's clock minus ours
	Err  string
}

// Fetch is the outcome of a credentials request to the endpoint. It keeps
// nothing of the credentials but their account and expiry.
type Fetch struct {
	URL        string
	Status     int
	Code       string
	Message    string
	AccountID  string
	Expiration time.Time
	Err        string
}

// Result is a check's verdict.
type Result string

// The verdicts: a failure makes the report not OK, a warning does not, and
// a skipped check had nothing to look at.
const (
	OK   Result = "ok"
	Warn Result = "warn"
	Fail Result = "fail"
	Skip Result = "skip"
)

// Check is one line of the diagnosis.
type Check struct {
	Name   string   `json:"name"`
	Result Result   `json:"result"`
	Detail []string `json:"detail"`
	Fix    string   `json:"fix,omitempty"`
	// cause orders the fixes (see rank).
	cause cause
}

// Report is the diagnosis; --json prints it (docs/status.md).
type Report struct {
	SchemaVersion int  `json:"schemaVersion"`
	OK            bool `json:"ok"`
	// ExitCode is the command's; Diagnose leaves it to the caller.
	ExitCode int     `json:"exitCode"`
	Role     string  `json:"role"`
	Checks   []Check `json:"checks"`
	// Actions are the fixes, most likely cause first.
	Actions []string `json:"actions"`
	// TrustPolicy is set with --trust-policy and a token's claims.
	TrustPolicy *Trust `json:"trustPolicy,omitempty"`
	// Claims and Suggestion are set when STS answered AccessDenied and no
	// policy was given: the claims STS saw and a trust policy that fits.
	Claims     *daemon.Claims     `json:"claims,omitempty"`
	Suggestion *policy.Suggestion `json:"suggestion,omitempty"`
}

// Trust is the trust policy's verdict on the token's claims.
type Trust struct {
	File     string           `json:"file"`
	Decision policy.Decision  `json:"decision"`
	Failures []policy.Failure `json:"failures,omitempty"`
}

func (t *Trust) allows() bool { return t.Decision == policy.Allow }

// cause is what a failing or warning check blames. The fixes are ranked by
// it: what stops everything first, then the login, the token, the trust
// policy, STS, the clock, the endpoint and the shell; then warnings and
// failures that are consequences of another.
type cause int

const (
	// causeNone is for a check with nothing to fix; if one had a fix, it
	// would rank with the minor ones.
	causeNone cause = iota
	causeDaemon
	causeLogin
	causeToken
	causeTrust
	causeSTS
	causeClock
	causeEndpoint
	causeShell
	causeMinor
)

func (c cause) rank() int {
	if c == causeNone {
		return int(causeMinor)
	}
	return int(c)
}

// Diagnose runs every check on f and ranks the fixes.
func Diagnose(f Facts) Report {
	v := newView(f)
	rep := Report{SchemaVersion: Version, Role: f.Role, Checks: []Check{}, TrustPolicy: v.trust}
	// Each check says something, or nothing; their order is the report's.
	for _, check := range []func(*view) (Check, bool){
		checkDaemon,
		checkTokenSource,
		checkClaims,
		checkTrustPolicy,
		checkSTS,
		checkCleartext,
		checkClock,
		checkEndpoint,
		checkRefusals,
		checkShell,
	} {
		if c, ok := check(v); ok {
			c.Fix = WithStateDir(c.Fix, f.StateDir)
			for i := range c.Detail {
				c.Detail[i] = WithStateDir(c.Detail[i], f.StateDir)
			}
			rep.Checks = append(rep.Checks, c)
		}
	}
	rep.Actions = rank(rep.Checks)
	rep.OK = !slices.ContainsFunc(rep.Checks, func(c Check) bool { return c.Result == Fail })
	if v.suggest {
		s := policy.Suggest(*v.role.Claims, policy.AccountOf(v.role.RoleARN))
		rep.Claims, rep.Suggestion = v.role.Claims, &s
	}
	return rep
}

// rank returns the fixes of the failing and warning checks, most likely
// cause first (checks of the same cause keep their order), each once.
func rank(checks []Check) []string {
	var todo []Check
	for _, c := range checks {
		if (c.Result == Fail || c.Result == Warn) && c.Fix != "" {
			todo = append(todo, c)
		}
	}
	slices.SortStableFunc(todo, func(a, b Check) int { return cmp.Compare(a.cause.rank(), b.cause.rank()) })
	actions := []string{}
	for _, c := range todo {
		if !slices.Contains(actions, c.Fix) {
			actions = append(actions, c.Fix)
		}
	}
	return actions
}

// view is the facts with what several checks need worked out once.
type view struct {
	Facts
	// role is the role checked; hasRole is false when the daemon did not
	// answer or serves no such role, and the role's checks do not run.
	role    daemon.RoleStatus
	hasRole bool
	now     time.Time
	// err is the role's last error; tokenErr tells whether it happened
	// while getting the token rather than exchanging it.
	err      *daemon.ErrorStatus
	tokenErr bool
	// trust is the trust policy evaluated against the token's claims, when
	// both are known.
	trust *Trust
	// suggest is set when STS refused the role and no policy was given, so
	// the report suggests one that fits the claims.
	suggest bool
}

func newView(f Facts) *view {
	v := &view{Facts: f}
	v.role, v.hasRole = RoleOf(f.Status, f.Role)
	if !v.hasRole {
		return v
	}
	r := v.role
	v.now = f.Status.Now
	v.err = r.LastError
	v.tokenErr = v.err != nil && v.err.Stage.BeforeSTS()
	accessDenied := v.err != nil && isAccessDenied(v.err)
	switch {
	case f.PolicyErr != "":
	case f.Policy != nil && r.Claims != nil:
		v.trust = EvaluateTrust(f.PolicyFile, f.Policy, *r.Claims, r.RoleARN)
	case f.Policy == nil && accessDenied && r.Claims != nil:
		v.suggest = true
	}
	return v
}

// RoleOf returns the role of st named name.
func RoleOf(st *daemon.Status, name string) (daemon.RoleStatus, bool) {
	if st == nil {
		return daemon.RoleStatus{}, false
	}
	i := slices.IndexFunc(st.Roles, func(r daemon.RoleStatus) bool { return r.Name == name })
	if i < 0 {
		return daemon.RoleStatus{}, false
	}
	return st.Roles[i], true
}
