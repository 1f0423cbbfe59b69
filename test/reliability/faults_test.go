package reliability

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/refresh"
	"github.com/credd-dev/credd/daemon/sandbox"
)

// stsFault is one way STS can fail, and how to make it stop.
type stsFault struct {
	key, name string
	code      daemon.Code // the classified error credd must report
	kind      daemon.Kind
	start     func(*rig)
	heal      func(*rig)
}

func inject(k sandbox.FaultKind) func(*rig) {
	return func(r *rig) { r.sb.STS.InjectFault(sandbox.Fault{Kind: k}) } // until healed
}

func clearFaults(r *rig) { r.sb.STS.ClearFaults() }

var stsFaults = []stsFault{
	{"01", "STS 500 InternalFailure", "InternalFailure", daemon.KindRetryable, inject(sandbox.FaultInternalError), clearFaults},
	{"02", "STS 503 ServiceUnavailable", "ServiceUnavailable", daemon.KindRetryable, inject(sandbox.FaultServiceUnavailable), clearFaults},
	{"03", "STS Throttling (400 Rate exceeded)", "Throttling", daemon.KindRetryable, inject(sandbox.FaultThrottling), clearFaults},
	{"04", "STS hangs longer than the client's 500 ms attempt timeout", "Timeout", daemon.KindRetryable, inject(sandbox.FaultHang), clearFaults},
	{"05", "STS connection refused (endpoint port closed)", "NetworkError", daemon.KindRetryable,
		func(r *rig) { r.front.Shut() }, func(r *rig) { r.front.Open() }},
	{"06", "STS 200 with malformed (truncated) XML", "MalformedResponse", daemon.KindRetryable, inject(sandbox.FaultMalformedXML), clearFaults},
	{"07", "STS IDPCommunicationError", "IDPCommunicationError", daemon.KindRetryable, inject(sandbox.FaultIDPCommunication), clearFaults},
	{"08", "STS InvalidIdentityToken", "InvalidIdentityToken", daemon.KindNewToken, inject(sandbox.FaultInvalidIdentityToken), clearFaults},
	{"09", "STS ExpiredTokenException", "ExpiredTokenException", daemon.KindNewToken, inject(sandbox.FaultExpiredToken), clearFaults},
	{"10", "STS AccessDenied (trust policy refuses)", "AccessDenied", daemon.KindPermanent, inject(sandbox.FaultAccessDenied), clearFaults},
	// Real STS answers an IdP whose keys it cannot fetch with 400
	// InvalidIdentityToken "Couldn't retrieve verification key from your
	// identity provider" (aws/aws-cli#7194); a new token will not help.
	{"11", "STS cannot retrieve the IdP's verification key", "InvalidIdentityToken", daemon.KindRetryable, inject(sandbox.FaultIDPKeysUnreachable), clearFaults},
}

// concurrently runs each scenario as a subtest on its own goroutine, at
// most limit at a time: they mostly wait on (compressed) time, and -parallel
// would cap them at GOMAXPROCS.
func concurrently(t *testing.T, limit int, names []string, fn func(t *testing.T, i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) { fn(t, i) })
		})
	}
	wg.Wait()
}

func TestSTSFaults(t *testing.T) {
	type scenario struct {
		f       stsFault
		refresh bool
	}
	var scenarios []scenario
	var names []string
	for _, f := range stsFaults {
		scenarios = append(scenarios, scenario{f, false}, scenario{f, true})
		names = append(names, f.name+" during the first fetch", f.name+" during a refresh")
	}
	concurrently(t, 8, names, func(t *testing.T, i int) {
		if scenarios[i].refresh {
			faultDuringRefresh(t, scenarios[i].f)
		} else {
			faultDuringFirstFetch(t, scenarios[i].f)
		}
	})
}

// expectation says what credd must do about a fault of kind k.
func expectation(k daemon.Kind, first bool) string {
	var s string
	if first {
		s = "503 `CredentialsUnavailable` with a message naming `credd status` while nothing was ever fetched; "
	} else {
		s = "the held credentials served (200, never expired) until their expiry, then 503 `CredentialsUnavailable`; "
	}
	switch k {
	case daemon.KindRetryable:
		s += "retried with capped exponential backoff (each gap ≥ half the step); status names the error; serving again within one backoff step of the heal"
	case daemon.KindNewToken:
		s += "a new token and at most 3 more tries, backed off, then a pause; status names the error; serving again after the pause"
	case daemon.KindPermanent:
		s += "not retried (one call, then the permanent-error pause); status names the error and says what to fix; serving again after the pause"
	}
	return s
}

// recoveryBound is how soon after the heal credd must serve again: the
// longest wait for the next attempt, plus one attempt, plus slack for a
// loaded machine (every suite's -race binaries share two cores in CI).
func recoveryBound(k daemon.Kind) time.Duration {
	const slack = 3 * time.Second
	if k == daemon.KindRetryable {
		return backoffMax + stsTimeout + slack
	}
	return permanentPause + slack
}

func faultDuringFirstFetch(t *testing.T, f stsFault) {
	row := record(t, "STS faults", f.key+"a", f.name+", during the first fetch", expectation(f.kind, true))
	r := newRig(t, rigOptions{before: f.start})
	s := r.sample(50 * time.Millisecond)
	const window = 1500 * time.Millisecond
	time.Sleep(window)
	st := r.status()
	attempts := r.attemptTimes(time.Time{}) // the cold start included
	healAt := time.Now()
	f.heal(r)
	res := r.waitServing(recoveryBound(f.kind) + 2*time.Second)
	recovery := res.recv.Sub(healAt)
	got := s.end()

	down := 0
	for _, g := range got {
		if !g.recv.Before(healAt) {
			continue
		}
		if g.err != nil || g.status != http.StatusServiceUnavailable || g.code != "CredentialsUnavailable" || !strings.Contains(g.message, "credd status") {
			t.Errorf("while nothing was ever fetched: %d %q %q %v, want 503 CredentialsUnavailable", g.status, g.code, g.message, g.err)
			continue
		}
		down++
	}
	checkLastError(t, st, f)
	if st.Serving {
		t.Errorf("status says serving with nothing fetched")
	}
	checkAttempts(t, r, f, attempts, window, true)
	if recovery > recoveryBound(f.kind) {
		t.Errorf("served again %v after the heal, want ≤ %v", recovery.Round(time.Millisecond), recoveryBound(f.kind))
	}
	row.Observe("%d× 503 CredentialsUnavailable while down", down)
	row.Observe("%d STS attempts in %v%s", len(attempts), window, gapsText(attempts))
	row.Observe("status: %s (%s)", st.LastError.Code, st.LastError.Kind)
	row.Observe("serving %v after the heal", recovery.Round(10*time.Millisecond))
}

func faultDuringRefresh(t *testing.T, f stsFault) {
	row := record(t, "STS faults", f.key+"b", f.name+", during a refresh", expectation(f.kind, false))
	r := newRig(t, rigOptions{})
	first := r.waitServing(5 * time.Second)
	s := r.sample(50 * time.Millisecond)
	f.start(r)
	injected := time.Now()
	time.Sleep(time.Until(first.expiration.Add(700 * time.Millisecond)))
	st := r.status()
	attempts := r.attemptTimes(injected)
	healAt := time.Now()
	f.heal(r)
	res := r.waitServing(recoveryBound(f.kind) + 2*time.Second)
	recovery := res.recv.Sub(healAt)
	got := s.end()

	ok, unavailable := checkServedWhileValid(t, got, healAt)
	if unavailable == 0 {
		t.Errorf("never answered 503 after the credentials expired (%d samples)", len(got))
	}
	checkLastError(t, st, f)
	if st.Serving {
		t.Errorf("status says serving after the credentials expired")
	}
	checkAttempts(t, r, f, attempts, healAt.Sub(injected), false)
	if recovery > recoveryBound(f.kind) {
		t.Errorf("served again %v after the heal, want ≤ %v", recovery.Round(time.Millisecond), recoveryBound(f.kind))
	}
	if res.expiration.Equal(first.expiration) || res.accessKey == first.accessKey {
		t.Errorf("after the heal the same credentials are served")
	}
	row.Observe("%d× 200 with valid credentials until expiry, then %d× 503, 0 expired served", ok, unavailable)
	row.Observe("%d STS attempts while failing%s", len(attempts), gapsText(attempts))
	row.Observe("status: %s (%s)", st.LastError.Code, st.LastError.Kind)
	row.Observe("serving new credentials %v after the heal", recovery.Round(10*time.Millisecond))
}

// checkServedWhileValid checks samples taken before until: every 200 was
// sent before its credentials expired, and no 503 came while credentials
// already served were still valid. It returns the count of each.
func checkServedWhileValid(t *testing.T, got []response, until time.Time) (ok, unavailable int) {
	t.Helper()
	var validUntil time.Time
	for _, g := range got {
		if !g.recv.Before(until) {
			continue
		}
		switch {
		case g.err != nil:
			t.Errorf("request failed: %v", g.err)
		case g.status == http.StatusOK:
			if !g.sent.Before(g.expiration) {
				t.Errorf("served credentials expiring %v on a request sent at %v", g.expiration, g.sent)
			}
			if g.expiration.After(validUntil) {
				validUntil = g.expiration
			}
			ok++
		case g.status == http.StatusServiceUnavailable && g.code == "CredentialsUnavailable":
			if g.recv.Before(validUntil) {
				t.Errorf("503 at %v while credentials valid until %v were held", g.recv, validUntil)
			}
			unavailable++
		default:
			t.Errorf("answered %d %s", g.status, g.code)
		}
	}
	return ok, unavailable
}

func checkLastError(t *testing.T, st daemon.RoleStatus, f stsFault) {
	t.Helper()
	e := st.LastError
	if e == nil {
		t.Fatalf("status has no last error during %s", f.name)
	}
	if e.Code != f.code || e.Kind != f.kind || e.Message == "" || e.Hint == "" {
		t.Errorf("last error = %+v, want code %s, kind %s, a message and a hint", e, f.code, f.kind)
	}
}

// minDelay is the shortest backoff after the n-th consecutive failure:
// half of min(max, base·2^(n-1)).
func minDelay(n int) time.Duration {
	d := backoffBase << (n - 1)
	if n > 10 || d > backoffMax {
		d = backoffMax
	}
	return d / 2
}

// checkAttempts checks the count and spacing of STS attempts seen in a
// window while f lasted. When first, the first attempt is the cold start.
func checkAttempts(t *testing.T, r *rig, f stsFault, at []time.Time, window time.Duration, first bool) {
	t.Helper()
	const slack = 20 * time.Millisecond // the poller's resolution
	switch f.kind {
	case daemon.KindRetryable:
		if len(at) < 2 {
			t.Errorf("%d attempts in %v: not retried", len(at), window)
		}
		// Bounded: no more than if every delay were its shortest.
		limit, elapsed := 0, time.Duration(0)
		for elapsed <= window {
			limit++
			elapsed += minDelay(limit)
		}
		if len(at) > limit+1 {
			t.Errorf("%d attempts in %v, more than backoff allows (%d)", len(at), window, limit+1)
		}
		// Backed off: the n-th retry waits at least half its step. During a
		// refresh the first failure is the half-life refresh itself.
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < minDelay(i)-slack {
				t.Errorf("retry %d came %v after the previous attempt, want ≥ %v", i, gap, minDelay(i))
			}
		}
	case daemon.KindNewToken:
		if first && len(at) != 1+refresh.DefaultMaxNewTokenTries {
			t.Errorf("%d attempts, want %d (the first, then %d with a new token), then a pause", len(at), 1+refresh.DefaultMaxNewTokenTries, refresh.DefaultMaxNewTokenTries)
		}
		if len(at) > 1+refresh.DefaultMaxNewTokenTries {
			t.Errorf("%d attempts, more than 1+%d", len(at), refresh.DefaultMaxNewTokenTries)
		}
	case daemon.KindPermanent:
		// One attempt, then a pause; a refresh window can hold the pause's end.
		if want := int(window/permanentPause) + 1; len(at) < 1 || len(at) > want {
			t.Errorf("%d attempts in %v, want 1 per %v pause (≤ %d)", len(at), window, permanentPause, want)
		}
	}
	// Every attempt reached STS (or, with the port closed, could not).
	if f.code != "NetworkError" {
		if calls, attempts := r.sb.STS.Calls("AssumeRoleWithWebIdentity"), r.calls(); calls != attempts {
			t.Errorf("STS saw %d calls, credd counted %d attempts", calls, attempts)
		}
	}
}

// gapsText describes the spacing of attempts, e.g. ", gaps 60/140/290 ms".
func gapsText(at []time.Time) string {
	if len(at) < 2 {
		return ""
	}
	var parts []string
	for i := 1; i < len(at); i++ {
		parts = append(parts, fmt.Sprint(at[i].Sub(at[i-1]).Milliseconds()))
	}
	return ", gaps " + strings.Join(parts, "/") + " ms"
}

// tokenFault is one way the token file can be wrong.
type tokenFault struct {
	key, name string
	code      daemon.Code
	kind      daemon.Kind
	breakIt   func(*rig)
}

var tokenFaults = []tokenFault{
	{"01", "token file missing", "TokenFileMissing", daemon.KindNewToken, func(r *rig) { os.Remove(r.tokenFile) }},
	{"02", "token file empty", "TokenFileEmpty", daemon.KindNewToken, func(r *rig) { r.writeToken("") }},
	{"03", "token file holds garbage", "MalformedToken", daemon.KindPermanent, func(r *rig) { r.writeToken("not a token \x00\xff\n") }},
	{"04", "token file holds an expired JWT", "TokenExpired", daemon.KindNewToken, func(r *rig) {
		r.writeToken(r.mint(map[string]any{"iat": time.Now().Add(-2 * time.Hour), "nbf": nil, "exp": time.Now().Add(-time.Hour)}))
	}},
}

func TestTokenFileFaults(t *testing.T) {
	var names []string
	for _, f := range tokenFaults {
		names = append(names, f.name+" at start", f.name+" at a refresh")
	}
	concurrently(t, 8, names, func(t *testing.T, i int) {
		f := tokenFaults[i/2]
		if i%2 == 0 {
			tokenFaultAtStart(t, f)
		} else {
			tokenFaultAtRefresh(t, f)
		}
	})
}

func tokenFaultAtStart(t *testing.T, f tokenFault) {
	row := record(t, "Token source faults", f.key+"a", f.name+", at start",
		"no STS call with a token that cannot work; 503 `CredentialsUnavailable`; status names the problem and the fix; serving within a second of a good token being written (the file is watched)")
	r := newRig(t, rigOptions{tokenFile: true, noToken: true, before: f.breakIt})
	s := r.sample(50 * time.Millisecond)
	time.Sleep(time.Second)
	st := r.status()
	calls := r.sb.STS.Calls("AssumeRoleWithWebIdentity")
	healAt := time.Now()
	r.writeToken(r.mint(nil))
	res := r.waitServing(5 * time.Second)
	recovery := res.recv.Sub(healAt)
	got := s.end()

	down := 0
	for _, g := range got {
		if g.recv.Before(healAt) {
			if g.status != http.StatusServiceUnavailable || g.code != "CredentialsUnavailable" {
				t.Errorf("with a bad token file: %d %s %v", g.status, g.code, g.err)
			}
			down++
		}
	}
	if calls != 0 || st.STSCalls != 0 {
		t.Errorf("%d STS calls (%d counted) with a bad token file, want 0", calls, st.STSCalls)
	}
	checkTokenError(t, st, f)
	if recovery > time.Second {
		t.Errorf("served %v after a good token was written, want ≤ 1s", recovery)
	}
	row.Observe("%d× 503 while bad, %d STS calls", down, st.STSCalls)
	row.Observe("status: %s (%s): %q", st.LastError.Code, st.LastError.Kind, st.LastError.Hint)
	row.Observe("serving %v after a good token was written", recovery.Round(10*time.Millisecond))
}

func tokenFaultAtRefresh(t *testing.T, f tokenFault) {
	row := record(t, "Token source faults", f.key+"b", f.name+", at a refresh",
		"the held credentials served until expiry, then 503; no STS call with the bad token; status names the problem; serving within a second of a good token")
	r := newRig(t, rigOptions{tokenFile: true})
	first := r.waitServing(5 * time.Second)
	s := r.sample(50 * time.Millisecond)
	callsBefore := r.sb.STS.Calls("AssumeRoleWithWebIdentity")
	f.breakIt(r)
	time.Sleep(time.Until(first.expiration.Add(500 * time.Millisecond)))
	st := r.status()
	healAt := time.Now()
	r.writeToken(r.mint(nil))
	res := r.waitServing(5 * time.Second)
	recovery := res.recv.Sub(healAt)
	got := s.end()

	ok, unavailable := checkServedWhileValid(t, got, healAt)
	if unavailable == 0 {
		t.Errorf("never answered 503 after the credentials expired")
	}
	if calls := r.sb.STS.Calls("AssumeRoleWithWebIdentity") - callsBefore; calls != 1 { // the one after the heal
		t.Errorf("%d STS calls from the break to recovery, want 1 (after the heal)", calls)
	}
	checkTokenError(t, st, f)
	if recovery > time.Second {
		t.Errorf("served %v after a good token was written, want ≤ 1s", recovery)
	}
	row.Observe("%d× 200 until expiry, then %d× 503, 0 expired served, 0 STS calls with the bad token", ok, unavailable)
	row.Observe("status: %s (%s)", st.LastError.Code, st.LastError.Kind)
	row.Observe("serving %v after a good token was written", recovery.Round(10*time.Millisecond))
}

func checkTokenError(t *testing.T, st daemon.RoleStatus, f tokenFault) {
	t.Helper()
	e := st.LastError
	if e == nil {
		t.Fatalf("no last error with %s", f.name)
	}
	if e.Code != f.code || e.Kind != f.kind || e.Hint == "" {
		t.Errorf("last error = %+v, want %s (%s) with a hint", e, f.code, f.kind)
	}
}

func TestTokenRotatesWhileSTSIsDown(t *testing.T) {
	row := record(t, "Token source faults", "05", "the token file rotates while STS answers 503",
		"the held credentials keep being served; the new token is picked up at once (an attempt follows the rotation instead of waiting out the backoff) and shows in status; serving fresh credentials within one backoff step of the heal")
	const base, maxStep = 1500 * time.Millisecond, 3 * time.Second
	r := newRig(t, rigOptions{tokenFile: true, lifetime: 10 * time.Second,
		refresh: refresh.Config{BackoffBase: base, BackoffMax: maxStep}})
	first := r.waitServing(5 * time.Second)
	s := r.sample(50 * time.Millisecond)
	r.sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultServiceUnavailable})
	// Wait for the half-life refresh to fail.
	deadline := time.Now().Add(10 * time.Second)
	for r.status().LastError == nil {
		if time.Now().After(deadline) {
			t.Fatal("the refresh never failed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	callsAtRotation := r.calls()
	const rotated = "repo:credd-dev/rotated:ref:refs/heads/main"
	rotatedAt := time.Now()
	r.writeToken(r.mint(map[string]any{"sub": rotated}))
	for r.calls() == callsAtRotation {
		if time.Since(rotatedAt) > base {
			t.Fatalf("no attempt within %v of the rotation", base)
		}
		time.Sleep(5 * time.Millisecond)
	}
	pickedUp := time.Since(rotatedAt)
	st := r.status()
	if st.Claims == nil || st.Claims.Subject != rotated {
		t.Errorf("status claims = %+v, want sub %s", st.Claims, rotated)
	}
	healAt := time.Now()
	r.sb.STS.ClearFaults()
	res := r.waitServing(maxStep + 3*time.Second)
	for res.accessKey == first.accessKey && time.Since(healAt) < maxStep+2*time.Second {
		time.Sleep(20 * time.Millisecond)
		res = r.get()
	}
	recovery := res.recv.Sub(healAt)
	got := s.end()
	ok, unavailable := checkServedWhileValid(t, got, time.Now())
	if unavailable != 0 {
		t.Errorf("%d× 503 although the credentials never expired", unavailable)
	}
	if res.accessKey == first.accessKey {
		t.Errorf("no fresh credentials %v after the heal", recovery)
	} else if recovery > maxStep+time.Second {
		t.Errorf("fresh credentials %v after the heal, want ≤ one backoff step (%v)", recovery, maxStep)
	}
	row.Observe("%d× 200, 0× 503 during the outage", ok)
	row.Observe("attempt with the new token %v after the rotation (backoff step %v)", pickedUp.Round(10*time.Millisecond), base)
	row.Observe("status shows the new sub; fresh credentials %v after the heal", recovery.Round(10*time.Millisecond))
}
