package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
)

// --- fakes -----------------------------------------------------------------

type fakeSource struct {
	TokenFunc func(ctx context.Context) (string, error)
}

func (f fakeSource) Token(ctx context.Context) (string, error) { return f.TokenFunc(ctx) }

type fakeExchanger struct {
	ExchangeFunc func(ctx context.Context, token string) (daemon.Credentials, error)
}

func (f fakeExchanger) Exchange(ctx context.Context, token string) (daemon.Credentials, error) {
	return f.ExchangeFunc(ctx, token)
}

// sts is a scripted STS: it issues credentials of a fixed lifetime on the
// fake clock unless told to fail, and remembers the tokens it was given.
type sts struct {
	clk      *clock.Fake
	lifetime time.Duration

	mu     sync.Mutex
	err    error
	tokens []string
}

func (s *sts) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *sts) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

func (s *sts) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

func (s *sts) exchanger() fakeExchanger {
	return fakeExchanger{ExchangeFunc: func(ctx context.Context, token string) (daemon.Credentials, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.tokens = append(s.tokens, token)
		if s.err != nil {
			return daemon.Credentials{}, s.err
		}
		return newCreds(s.clk.Now(), s.lifetime, len(s.tokens)), nil
	}}
}

func newCreds(now time.Time, lifetime time.Duration, n int) daemon.Credentials {
	return daemon.Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%04d", n),
		SecretAccessKey: "secret-must-not-be-logged",
		SessionToken:    "session-must-not-be-logged",
		Expiration:      now.Add(lifetime),
		RoleARN:         "arn:aws:iam::123456789012:role/dev",
		AssumedRoleARN:  "arn:aws:sts::123456789012:assumed-role/dev/alice",
		AccountID:       "123456789012",
		Obtained:        now,
	}
}

// countingSource hands out a new token on every call: tok-1, tok-2, ...
func countingSource(n *atomic.Int64) fakeSource {
	return fakeSource{TokenFunc: func(context.Context) (string, error) {
		return fmt.Sprintf("tok-%d", n.Add(1)), nil
	}}
}

var (
	throttled    = daemon.Errorf(daemon.KindRetryable, "Throttling", "", "rate exceeded")
	accessDenied = daemon.Errorf(daemon.KindPermanent, "AccessDenied", "check the role's trust policy", "not authorized to perform sts:AssumeRoleWithWebIdentity")
	invalidToken = daemon.Errorf(daemon.KindNewToken, "InvalidIdentityToken", "", "token is not valid")
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// --- harness ---------------------------------------------------------------

type harness struct {
	t      *testing.T
	clk    *clock.Fake
	sts    *sts
	tokens *atomic.Int64
	r      *Refresher
	cancel context.CancelFunc
	done   chan error
}

// setup builds a Refresher on a fake clock around a scripted STS. cfg's
// Source, Exchanger and Clock are filled in unless set; Rand defaults to 0.5
// (no jitter, middle of the backoff range).
func setup(t *testing.T, lifetime time.Duration, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(epoch), tokens: new(atomic.Int64)}
	h.sts = &sts{clk: h.clk, lifetime: lifetime}
	if cfg.Source == nil {
		cfg.Source = countingSource(h.tokens)
	}
	if cfg.Exchanger == nil {
		cfg.Exchanger = h.sts.exchanger()
	}
	cfg.Clock = h.clk
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0.5 }
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.r = r
	return h
}

// run starts Run and stops it when the test ends.
func (h *harness) run() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.r.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
	h.cancel = nil
}

// asleep waits until Run is sleeping on its timer.
func (h *harness) asleep() {
	h.t.Helper()
	if !h.clk.WaitForTimers(1, 5*time.Second) {
		h.t.Fatal("the refresher never went to sleep")
	}
}

// sleep returns how long Run is sleeping for.
func (h *harness) sleep() time.Duration {
	h.t.Helper()
	h.asleep()
	d, ok := h.clk.NextDeadline()
	if !ok {
		h.t.Fatal("no timer pending")
	}
	return d.Sub(h.clk.Now())
}

// wakeUp moves the clock to Run's deadline and waits for it to sleep again.
func (h *harness) wakeUp() {
	h.t.Helper()
	h.asleep()
	d, _ := h.clk.NextDeadline()
	h.clk.Set(d)
	h.asleep()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// --- tests -----------------------------------------------------------------

func TestItRefreshesAtHalfLife(t *testing.T) {
	// 40m and more: half-life is at least RefreshLead before expiry. Under
	// STS's 15m minimum: test lifetimes, plain half-life too.
	for _, lifetime := range []time.Duration{time.Hour, 45 * time.Minute, 12 * time.Hour, 30 * time.Second} {
		for _, u := range []float64{0, 0.5, 0.999999} {
			t.Run(fmt.Sprintf("for %v credentials with rand %v", lifetime, u), func(t *testing.T) {
				h := setup(t, lifetime, Config{Rand: func() float64 { return u }})
				h.run()

				for round := 1; round <= 3; round++ {
					h.asleep()
					st := h.r.State()
					if got := h.sts.calls(); got != round {
						t.Fatalf("round %d: %d exchanges, want %d", round, got, round)
					}
					c := st.Credentials
					// ±1µs for float rounding.
					lo := c.Obtained.Add(time.Duration(float64(lifetime)*0.5*(1-DefaultJitter)) - time.Microsecond)
					hi := c.Obtained.Add(time.Duration(float64(lifetime)*0.5*(1+DefaultJitter)) + time.Microsecond)
					if st.NextRefresh.Before(lo) || st.NextRefresh.After(hi) {
						t.Fatalf("next refresh at %v of the lifetime, want within [47.5%%, 52.5%%]",
							float64(st.NextRefresh.Sub(c.Obtained))/float64(lifetime))
					}
					if d, _ := h.clk.NextDeadline(); !d.Equal(st.NextRefresh) {
						t.Fatalf("sleeping until %v, State says %v", d, st.NextRefresh)
					}

					h.clk.Set(st.NextRefresh.Add(-time.Millisecond))
					if got := h.sts.calls(); got != round {
						t.Fatalf("refreshed early: %d exchanges", got)
					}
					if h.r.Current() != c {
						t.Fatal("the credentials changed before the refresh")
					}
					h.clk.Advance(time.Millisecond)
					eventually(t, "the refresh happened", func() bool { return h.sts.calls() == round+1 })
				}
				h.asleep()
				if got := h.sts.calls(); got != 4 {
					t.Fatalf("%d exchanges after three refreshes, want 4", got)
				}
				if got, want := h.sts.seen(), []string{"tok-1", "tok-2", "tok-3", "tok-4"}; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("tokens %v, want a fresh one each time %v", got, want)
				}
			})
		}
	}
}

// Short-lived credentials are refreshed early enough that clients are
// never served less than botocore's windows allow: more than 15 minutes
// left where the lifetime permits, and always more than the 10 minutes
// below which botocore raises "refreshed credentials are still expired"
// (SDK-COMPAT.md, section 6; botocore/credentials.py,
// _advisory_refresh_timeout 15 min, _mandatory_refresh_timeout 10 min).
func TestShortCredentialsAreRefreshedAheadOfTheClientsWindows(t *testing.T) {
	tests := []struct {
		lifetime, left time.Duration
	}{
		{15 * time.Minute, 11*time.Minute + 15*time.Second}, // a quarter in
		{20 * time.Minute, 15 * time.Minute},                // a quarter in
		{30 * time.Minute, RefreshLead},
		{35 * time.Minute, RefreshLead},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v credentials are replaced with %v left", tt.lifetime, tt.left), func(t *testing.T) {
			if got := LeftAtRefresh(tt.lifetime); got != tt.left {
				t.Errorf("LeftAtRefresh = %v, want %v", got, tt.left)
			}
			for _, u := range []float64{0, 0.5, 0.999999} {
				h := setup(t, tt.lifetime, Config{Rand: func() float64 { return u }})
				h.run()
				h.asleep()
				st := h.r.State()
				if got := st.Credentials.Expiration.Sub(st.NextRefresh); got != tt.left {
					t.Errorf("rand %v: next refresh with %v left, want %v", u, got, tt.left)
				}
				if left := st.Credentials.Expiration.Sub(st.NextRefresh); left <= 10*time.Minute {
					t.Errorf("rand %v: served until %v before expiry, inside botocore's mandatory window", u, left)
				}
				h.stop()
			}
		})
	}
}

func TestAThousandAwaitCallersAtColdStartShareOneExchange(t *testing.T) {
	synctest.Test(t, testAThousandAwaitCallersAtColdStartShareOneExchange)
}

func testAThousandAwaitCallersAtColdStartShareOneExchange(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	h.r.ex = fakeExchanger{ExchangeFunc: func(ctx context.Context, token string) (daemon.Credentials, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		return newCreds(h.clk.Now(), time.Hour, 1), nil
	}}

	const n = 1000
	got := make([]*daemon.Credentials, n)
	var wg sync.WaitGroup
	await := func(i int) {
		wg.Go(func() { got[i] = h.r.Await(context.Background()) })
	}
	for i := range n / 2 { // before Run has started
		await(i)
	}
	h.run()
	<-entered
	for i := n / 2; i < n; i++ { // while the first exchange is blocked
		await(i)
	}
	synctest.Wait() // every Await caller, and Run, waits on the one exchange
	close(release)
	wg.Wait()

	if c := calls.Load(); c != 1 {
		t.Fatalf("%d Exchange calls, want 1", c)
	}
	for i, c := range got {
		if c == nil || c.AccessKeyID != "ASIAFAKE0001" {
			t.Fatalf("caller %d got %+v, want the credentials", i, c)
		}
	}
}

func TestAThousandAttemptsAtOnceShareOneExchange(t *testing.T) {
	synctest.Test(t, testAThousandAttemptsAtOnceShareOneExchange)
}

func testAThousandAttemptsAtOnceShareOneExchange(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	release := make(chan struct{})
	var calls atomic.Int64
	h.r.ex = fakeExchanger{ExchangeFunc: func(ctx context.Context, token string) (daemon.Credentials, error) {
		calls.Add(1)
		<-release
		return newCreds(h.clk.Now(), time.Hour, 1), nil
	}}

	const n = 1000
	got := make([]*daemon.Credentials, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = h.r.do(context.Background()) })
	}
	synctest.Wait() // every caller waits on the one exchange
	close(release)
	wg.Wait()

	if c := calls.Load(); c != 1 {
		t.Fatalf("%d Exchange calls, want 1", c)
	}
	if tok := h.tokens.Load(); tok != 1 {
		t.Fatalf("%d token fetches, want 1", tok)
	}
	for i := range n {
		if errs[i] != nil || got[i] != got[0] || got[0] == nil {
			t.Fatalf("caller %d got %v, %v; want the shared credentials", i, got[i], errs[i])
		}
	}
}

func TestFailingAfterASuccessKeepsServingTheOldCredentialsUntilExpiry(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	h.run()
	h.asleep()
	good := h.r.Current()
	if good == nil {
		t.Fatal("no credentials after the first exchange")
	}

	h.sts.fail(throttled)
	for h.clk.Now().Before(good.Expiration) {
		if c := h.r.Current(); c != good {
			t.Fatalf("at %v before expiry Current() = %v, want the old credentials", h.clk.Now().Sub(good.Obtained), c)
		}
		h.wakeUp()
	}
	if c := h.r.Current(); c != nil {
		t.Fatalf("Current() = %v after expiry, want nil", c)
	}
	st := h.r.State()
	if st.Serving || st.Credentials != good || st.Credentials.Expiration != good.Expiration {
		t.Fatalf("State = %+v, want the expired credentials kept, unchanged, but not served", st)
	}
	if st.LastError == nil || st.LastError.Code != "Throttling" || st.LastError.Kind != daemon.KindRetryable || st.LastError.Stage != daemon.StageSTS {
		t.Fatalf("LastError = %+v, want Throttling from STS", st.LastError)
	}
	before := h.sts.calls()
	if c := h.r.Await(context.Background()); c != nil {
		t.Fatalf("Await during the outage = %v, want nil at once", c)
	}
	if h.sts.calls() != before {
		t.Fatal("Await started an exchange")
	}

	// The fault heals: the very next retry succeeds, at most BackoffMax away.
	h.sts.fail(nil)
	if d := h.sleep(); d > DefaultBackoffMax {
		t.Fatalf("next retry in %v, want ≤ %v", d, DefaultBackoffMax)
	}
	h.wakeUp()
	if h.r.Current() == nil {
		t.Fatal("not serving one backoff step after the fault healed")
	}
	if st := h.r.State(); st.LastError != nil || st.ConsecutiveFailures != 0 {
		t.Fatalf("State after recovery = %+v, want no error", st)
	}
}

func TestAPermanentErrorIsNotRetriedUntilThePauseOrATrigger(t *testing.T) {
	pause := 5 * time.Minute
	h := setup(t, time.Hour, Config{})
	h.sts.fail(accessDenied)
	h.run()

	if d := h.sleep(); d != pause {
		t.Fatalf("sleeping %v after AccessDenied, want the permanent pause %v", d, pause)
	}
	for range 29 { // 4m50s in ten-second steps: nothing happens
		h.clk.Advance(10 * time.Second)
	}
	if got := h.sts.calls(); got != 1 {
		t.Fatalf("%d exchanges within the pause, want 1", got)
	}
	h.clk.Advance(10 * time.Second)
	eventually(t, "the retry after the pause", func() bool { return h.sts.calls() == 2 })
	h.asleep()

	h.r.Trigger()
	eventually(t, "the retry after Trigger", func() bool { return h.sts.calls() == 3 })
	h.asleep()

	st := h.r.State()
	if st.LastError == nil || st.LastError.Code != "AccessDenied" || st.LastError.Kind != daemon.KindPermanent ||
		st.LastError.Hint == "" || st.ConsecutiveFailures != 3 || st.Attempts != 3 {
		t.Fatalf("State = %+v, want three AccessDenied failures", st)
	}
}

func TestTriggerIsIgnoredWhileHealthy(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	h.run()
	h.asleep()
	h.r.Trigger()
	if len(h.r.trigger) != 0 {
		t.Fatal("Trigger was passed on to Run while healthy")
	}

	// A permanent error while valid credentials are held: still served,
	// and Trigger now causes a prompt attempt.
	h.sts.fail(accessDenied)
	h.wakeUp()
	if h.r.Current() == nil {
		t.Fatal("stopped serving valid credentials after AccessDenied")
	}
	h.sts.fail(nil)
	h.r.Trigger()
	eventually(t, "the triggered attempt", func() bool { return h.sts.calls() == 3 })
	h.asleep()
	if st := h.r.State(); st.LastError != nil {
		t.Fatalf("LastError = %+v after recovering", st.LastError)
	}
}

func TestInvalidIdentityTokenFetchesANewTokenEachTimeAndStopsAfterMaxNewTokenTries(t *testing.T) {
	pause := 5 * time.Minute
	h := setup(t, time.Hour, Config{MaxNewTokenTries: 3})
	h.sts.fail(invalidToken)
	h.run()

	for try := 1; try <= 3; try++ {
		if d := h.sleep(); d >= time.Minute {
			t.Fatalf("after %d refused tokens sleeping %v, want a short backoff", try, d)
		}
		h.wakeUp()
	}
	if d := h.sleep(); d != pause {
		t.Fatalf("after 4 refused tokens sleeping %v, want the permanent pause %v", d, pause)
	}
	if got, want := h.sts.seen(), []string{"tok-1", "tok-2", "tok-3", "tok-4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tokens %v, want a new one each try %v", got, want)
	}
	h.clk.Advance(pause - time.Second)
	if got := h.sts.calls(); got != 4 {
		t.Fatalf("%d exchanges during the pause, want 4", got)
	}

	// Still refused after the pause: one attempt, then pause again.
	h.clk.Advance(time.Second)
	eventually(t, "the attempt after the pause", func() bool { return h.sts.calls() == 5 })
	if d := h.sleep(); d != pause {
		t.Fatalf("sleeping %v, want the pause again", d)
	}
	if st := h.r.State(); st.LastError == nil || st.LastError.Kind != daemon.KindNewToken {
		t.Fatalf("LastError = %+v, want the new-token error", st.LastError)
	}
}

func TestBackoffGrowsThenStaysWithinBackoffMax(t *testing.T) {
	base, maxDelay := time.Second, time.Minute
	for _, tc := range []struct {
		name string
		rand float64
		want []time.Duration // the first sleeps; later ones repeat the last
	}{
		{"with rand 0.5", 0.5, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second, 24 * time.Second, 45 * time.Second}},
		{"with rand 0", 0, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}},
		{"with rand near 1", 0.9999999999, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := setup(t, time.Hour, Config{BackoffBase: base, BackoffMax: maxDelay, Rand: func() float64 { return tc.rand }})
			h.sts.fail(throttled)
			h.run()
			var got []time.Duration
			for range 70 {
				got = append(got, h.sleep())
				h.wakeUp()
			}
			for i, d := range got {
				want := tc.want[min(i, len(tc.want)-1)]
				if (d - want).Abs() > time.Millisecond {
					t.Fatalf("sleep %d = %v, want %v (all: %v)", i+1, d, want, got[:i+1])
				}
				if d > maxDelay {
					t.Fatalf("sleep %d = %v exceeds BackoffMax", i+1, d)
				}
				if i > 0 && d < got[i-1] {
					t.Fatalf("sleep %d = %v shrank from %v", i+1, d, got[i-1])
				}
			}
			if st := h.r.State(); st.ConsecutiveFailures != 71 || st.Attempts != 71 {
				t.Fatalf("State = %+v, want 71 failed attempts", st)
			}
		})
	}
}

func TestATokenSourceErrorCountsAsAFailureWithItsKindAndStage(t *testing.T) {
	checkFailed := daemon.Errorf(daemon.KindNewToken, "TokenExpired", "", "token expired 3m ago")
	checkFailed.Stage = daemon.StageTokenCheck
	for _, tc := range []struct {
		name      string
		err       error
		wantKind  daemon.Kind
		wantCode  daemon.Code
		wantStage daemon.Stage
		wantSleep time.Duration
	}{
		{"a missing token file is permanent", daemon.Errorf(daemon.KindPermanent, "TokenFileMissing", "create it", "open /run/token: no such file"), daemon.KindPermanent, "TokenFileMissing", daemon.StageTokenSource, 5 * time.Minute},
		{"an expired token asks for a new one and keeps the local check's stage", checkFailed, daemon.KindNewToken, "TokenExpired", daemon.StageTokenCheck, 750 * time.Millisecond},
		{"an unclassified error is retryable", errors.New("connection refused"), daemon.KindRetryable, daemon.CodeUnknown, daemon.StageTokenSource, 750 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fail atomic.Bool
			fail.Store(true)
			var n atomic.Int64
			h := setup(t, time.Hour, Config{Source: fakeSource{TokenFunc: func(context.Context) (string, error) {
				if fail.Load() {
					return "", tc.err
				}
				return fmt.Sprintf("tok-%d", n.Add(1)), nil
			}}})
			h.run()
			if d := h.sleep(); d != tc.wantSleep {
				t.Fatalf("sleeping %v, want %v", d, tc.wantSleep)
			}
			st := h.r.State()
			if st.LastError == nil || st.LastError.Kind != tc.wantKind || st.LastError.Code != tc.wantCode || st.LastError.Stage != tc.wantStage {
				t.Fatalf("LastError = %+v, want kind %s code %s stage %s", st.LastError, tc.wantKind, tc.wantCode, tc.wantStage)
			}
			if st.Attempts != 0 || st.ConsecutiveFailures != 1 || h.sts.calls() != 0 {
				t.Fatalf("State = %+v and %d exchanges, want one failure and no exchange", st, h.sts.calls())
			}
			if !st.LastAttempt.Equal(epoch) || !st.LastError.At.Equal(epoch) {
				t.Fatalf("LastAttempt = %v, LastError.At = %v, want %v", st.LastAttempt, st.LastError.At, epoch)
			}

			fail.Store(false)
			h.r.Trigger()
			eventually(t, "the triggered attempt", func() bool { return h.sts.calls() == 1 })
			h.asleep()
			if h.r.Current() == nil || h.r.State().LastError != nil {
				t.Fatalf("not serving after the token source recovered: %+v", h.r.State())
			}
		})
	}
}

func TestAnAttemptOutsideRunReschedulesRun(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	h.run()
	h.asleep()
	h.clk.Advance(10 * time.Minute)
	c, err := h.r.do(context.Background())
	if err != nil || c == nil || c.AccessKeyID != "ASIAFAKE0002" {
		t.Fatalf("attempt = %v, %v; want new credentials", c, err)
	}
	want := epoch.Add(10*time.Minute + 30*time.Minute)
	eventually(t, "Run sleeps until the new half-life", func() bool {
		d, ok := h.clk.NextDeadline()
		return ok && d.Equal(want)
	})
	if got := h.r.State().NextRefresh; !got.Equal(want) {
		t.Fatalf("NextRefresh = %v, want %v", got, want)
	}
}

func TestAStepThatHangsTimesOutAsRetryableAtItsStage(t *testing.T) {
	hang := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	for _, tc := range []struct {
		name      string
		src       TokenSource
		ex        Exchanger
		wantStage daemon.Stage
	}{
		{"a token source that hangs times out at the token source",
			fakeSource{TokenFunc: func(ctx context.Context) (string, error) { return "", hang(ctx) }}, nil, daemon.StageTokenSource},
		{"an exchange that hangs times out at STS",
			nil, fakeExchanger{ExchangeFunc: func(ctx context.Context, _ string) (daemon.Credentials, error) {
				return daemon.Credentials{}, hang(ctx)
			}}, daemon.StageSTS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := setup(t, time.Hour, Config{AttemptTimeout: 20 * time.Millisecond, Source: tc.src, Exchanger: tc.ex})
				h.run()
				h.asleep()
				e := h.r.State().LastError
				if e == nil || e.Code != daemon.CodeTimeout || e.Kind != daemon.KindRetryable || e.Stage != tc.wantStage {
					t.Fatalf("LastError = %+v, want a retryable Timeout at %s", e, tc.wantStage)
				}
			})
		})
	}
}

// Regression (issue 13): a token source stuck in a read that ignored its
// context held the attempt forever: no further attempt, nothing in the
// status.
func TestAStepThatIgnoresItsContextStillTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stuck     bool // the source, else the exchanger
		wantStage daemon.Stage
	}{
		{"a token source", true, daemon.StageTokenSource},
		{"an exchanger", false, daemon.StageSTS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				cfg := Config{AttemptTimeout: 20 * time.Millisecond}
				if tc.stuck {
					cfg.Source = fakeSource{TokenFunc: func(context.Context) (string, error) {
						<-release
						return "", errors.New("too late")
					}}
				} else {
					cfg.Exchanger = fakeExchanger{ExchangeFunc: func(context.Context, string) (daemon.Credentials, error) {
						<-release
						return daemon.Credentials{}, errors.New("too late")
					}}
				}
				h := setup(t, time.Hour, cfg)
				h.run()
				h.asleep()
				e := h.r.State().LastError
				if e == nil || e.Code != daemon.CodeTimeout || e.Kind != daemon.KindRetryable || e.Stage != tc.wantStage {
					t.Fatalf("LastError = %+v, want a retryable Timeout at %s", e, tc.wantStage)
				}
				if !strings.Contains(e.Message, "did not return") {
					t.Errorf("message %q does not say the step did not return", e.Message)
				}
				h.stop()
				close(release) // lets the stuck call end within the bubble
			})
		})
	}
}

func TestExpiredOrEmptyCredentialsFromTheExchangerAreRejected(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	h.r.ex = fakeExchanger{ExchangeFunc: func(ctx context.Context, token string) (daemon.Credentials, error) {
		return newCreds(h.clk.Now().Add(-2*time.Hour), time.Hour, 1), nil
	}}
	_, err := h.r.do(context.Background())
	if e := daemon.AsError(err); e == nil || e.Code != CodeInvalidCredentials || e.Stage != daemon.StageCredentials {
		t.Fatalf("attempt error = %v, want InvalidCredentials at the credentials stage", err)
	}
	if h.r.State().Credentials != nil {
		t.Fatal("stored expired credentials")
	}
}

func TestRunReturnsOnCancelWithNoGoroutineLeft(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block bool
	}{
		{"while an exchange is in flight", true},
		{"while asleep", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			h := setup(t, time.Hour, Config{})
			entered := make(chan struct{}, 1)
			if tc.block {
				h.r.ex = fakeExchanger{ExchangeFunc: func(ctx context.Context, token string) (daemon.Credentials, error) {
					entered <- struct{}{}
					<-ctx.Done()
					return daemon.Credentials{}, ctx.Err()
				}}
			}
			h.run()
			if tc.block {
				<-entered
			} else {
				h.asleep()
			}
			before := h.r.State()
			h.stop()
			eventually(t, "the goroutine count is back to baseline", func() bool { return runtime.NumGoroutine() <= baseline })
			if st := h.r.State(); st.ConsecutiveFailures != 0 || st.LastError != nil || !st.NextRefresh.Equal(before.NextRefresh) {
				t.Fatalf("State after cancel = %+v, want shutdown not counted as a failure", st)
			}
		})
	}
}

func TestRunRefusesToRunTwiceAtOnce(t *testing.T) {
	h := setup(t, time.Hour, Config{})
	h.run()
	h.asleep()
	if err := h.r.Run(context.Background()); err == nil {
		t.Fatal("a second Run started")
	}
}

func TestLogsNameTheOutcomeButNeverTheTokenOrSecret(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := setup(t, time.Hour, Config{Logger: logger, Name: "dev"})
	h.run()
	h.asleep()
	h.sts.fail(accessDenied)
	h.wakeUp()

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{`"component":"refresh"`, `"role":"dev"`, `"credentials refreshed"`, `"refresh failed"`, `"code":"AccessDenied"`, `"kind":"permanent"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"tok-1", "tok-2", "secret-must-not-be-logged", "session-must-not-be-logged"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNewRejectsInvalidSettings(t *testing.T) {
	src := fakeSource{TokenFunc: func(context.Context) (string, error) { return "t", nil }}
	ex := fakeExchanger{ExchangeFunc: func(context.Context, string) (daemon.Credentials, error) { return daemon.Credentials{}, nil }}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"without a token source", Config{Exchanger: ex}},
		{"without an exchanger", Config{Source: src}},
		{"with jitter above 10%", Config{Source: src, Exchanger: ex, Jitter: 0.2}},
		{"with negative jitter", Config{Source: src, Exchanger: ex, Jitter: -0.01}},
		{"with a negative backoff", Config{Source: src, Exchanger: ex, BackoffBase: -time.Second}},
		{"with BackoffMax below BackoffBase", Config{Source: src, Exchanger: ex, BackoffBase: time.Minute, BackoffMax: time.Second}},
		{"with negative MaxNewTokenTries", Config{Source: src, Exchanger: ex, MaxNewTokenTries: -1}},
		{"with a negative pause", Config{Source: src, Exchanger: ex, PermanentPause: -time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	t.Run("with zero values it uses the defaults", func(t *testing.T) {
		r, err := New(Config{Source: src, Exchanger: ex})
		if err != nil {
			t.Fatal(err)
		}
		if r.jitter != DefaultJitter || r.base != DefaultBackoffBase || r.max != DefaultBackoffMax ||
			r.maxNewToken != DefaultMaxNewTokenTries || r.pause != DefaultPermanentPause || r.timeout != DefaultAttemptTimeout {
			t.Fatalf("defaults not applied: %+v", r)
		}
	})
}

func TestCurrentDoesNotAllocate(t *testing.T) {
	r := heldCredentials(t)
	if n := testing.AllocsPerRun(1000, func() {
		if r.Current() == nil {
			t.Fatal("no credentials")
		}
	}); n != 0 {
		t.Fatalf("Current allocates %v times per call", n)
	}
}

func heldCredentials(tb testing.TB) *Refresher {
	tb.Helper()
	r, err := New(Config{
		Source: fakeSource{TokenFunc: func(context.Context) (string, error) { return "t", nil }},
		Exchanger: fakeExchanger{ExchangeFunc: func(context.Context, string) (daemon.Credentials, error) {
			return newCreds(time.Now(), time.Hour, 1), nil
		}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := r.do(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return r
}

func BenchmarkCurrent(b *testing.B) {
	r := heldCredentials(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r.Current() == nil {
				b.Fatal("no credentials")
			}
		}
	})
}

func TestForgetStopsServingAtOnceUntilANewAttemptSucceeds(t *testing.T) {
	loggedOut := daemon.Errorf(daemon.KindPermanent, "LoginRequired", "run `credd login`", "login required: logged out")
	var out atomic.Bool
	h := setup(t, time.Hour, Config{})
	h.r.src = fakeSource{TokenFunc: func(context.Context) (string, error) {
		if out.Load() {
			return "", loggedOut
		}
		return "tok", nil
	}}
	h.run()
	h.asleep()
	if h.r.Current() == nil {
		t.Fatal("no credentials after the first attempt")
	}

	out.Store(true)
	h.r.Forget()
	if h.r.Current() != nil || h.r.State().Credentials != nil {
		t.Fatal("Forget left the credentials in place")
	}
	eventually(t, "the attempt after Forget records the token source's error", func() bool {
		st := h.r.State()
		return st.LastError != nil && st.LastError.Code == "LoginRequired"
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c := h.r.Await(ctx); c != nil {
		t.Fatal("Await served credentials after Forget")
	}

	// A new login: the source's notifier triggers, credentials come back.
	out.Store(false)
	h.r.Trigger()
	eventually(t, "credentials are served again", func() bool { return h.r.Current() != nil })
}

func TestForgetDuringAnAttemptDiscardsItsCredentials(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := setup(t, time.Hour, Config{})
	inner := h.sts.exchanger()
	var once sync.Once
	h.r.ex = fakeExchanger{ExchangeFunc: func(ctx context.Context, token string) (daemon.Credentials, error) {
		once.Do(func() { close(entered); <-release })
		return inner.Exchange(ctx, token)
	}}
	done := make(chan error, 1)
	go func() { _, err := h.r.do(context.Background()); done <- err }()
	<-entered
	h.r.Forget()
	close(release)
	if e := daemon.AsError(<-done); e == nil || e.Code != CodeCredentialsDropped || e.Stage != daemon.StageCredentials {
		t.Fatalf("attempt = %v, want CredentialsDropped at the credentials stage", e)
	}
	if h.r.Current() != nil {
		t.Fatal("credentials from before Forget are served")
	}
	if _, err := h.r.do(context.Background()); err != nil || h.r.Current() == nil {
		t.Fatalf("the next attempt: %v", err)
	}
}

// notifyingSource is a token source that says when it may have a new token.
type notifyingSource struct {
	fakeSource
	changed chan struct{}
}

func (n notifyingSource) Changed() <-chan struct{} { return n.changed }

// The refresher listens to its source's Changed itself: a new token ends a
// permanent-error pause at once, and is no reason to call STS while healthy.
func TestANewTokenFromTheSourceEndsAPauseButNotAHealthySleep(t *testing.T) {
	src := notifyingSource{fakeSource: countingSource(new(atomic.Int64)), changed: make(chan struct{}, 1)}
	h := setup(t, time.Hour, Config{Source: src})
	h.run()
	h.asleep()
	src.changed <- struct{}{}
	eventually(t, "Run took the signal", func() bool { return len(src.changed) == 0 })
	// Had it attempted, the failure below would come one exchange later.

	h.sts.fail(accessDenied)
	h.wakeUp() // the half-life refresh fails: a 5m pause, old credentials still served
	if got := h.sts.calls(); got != 2 {
		t.Fatalf("%d exchanges, want 2", got)
	}
	h.sts.fail(nil)
	src.changed <- struct{}{}
	eventually(t, "the attempt the new token caused", func() bool { return h.sts.calls() == 3 })
	h.asleep()
	if st := h.r.State(); st.LastError != nil {
		t.Fatalf("LastError = %+v after the new token", st.LastError)
	}
}
