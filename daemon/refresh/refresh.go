// Package refresh keeps one role's credentials fresh: it refreshes ahead at
// half-life, makes one STS call however many callers ask, backs off on
// failure and keeps serving the last good credentials until they expire.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
)

// TokenSource gives an identity token (a JWT). It is asked for a fresh one
// before every exchange, since tokens may be valid for only a few minutes.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Notifier is a TokenSource that can tell when it may hold a new token (a
// token file rewritten, a login completed). Run then attempts at once,
// unless it is healthy, as if Trigger had been called.
type Notifier interface {
	Changed() <-chan struct{}
}

// Exchanger turns an identity token into credentials (STS
// AssumeRoleWithWebIdentity). Its errors should be *daemon.Error so the
// refresher knows whether to retry; anything else is treated as retryable.
type Exchanger interface {
	Exchange(ctx context.Context, token string) (daemon.Credentials, error)
}

// The refresher's own codes, for what it finds wrong after an exchange.
const (
	// CodeInvalidCredentials: the exchange returned credentials that are
	// empty or already expired.
	CodeInvalidCredentials daemon.Code = "InvalidCredentials"
	// CodeCredentialsDropped: Forget dropped the identity while an attempt
	// ran, so its credentials were not kept.
	CodeCredentialsDropped daemon.Code = "CredentialsDropped"
)

// Defaults for the zero values of Config.
const (
	DefaultJitter           = 0.05
	MaxJitter               = 0.1
	DefaultBackoffBase      = time.Second
	DefaultBackoffMax       = time.Minute
	DefaultMaxNewTokenTries = 3
	DefaultPermanentPause   = 5 * time.Minute
	DefaultAttemptTimeout   = 30 * time.Second
)

// Config configures a Refresher. Zero values mean the documented defaults.
type Config struct {
	Source    TokenSource
	Exchanger Exchanger
	// Clock is nil for the wall clock.
	Clock clock.Clock
	// Logger is nil to discard logs. Records carry component=refresh and
	// role=Name; they never carry a token or a secret.
	Logger *slog.Logger
	// Name is the role name used in logs.
	Name string

	// Jitter spreads refreshes around half-life. While healthy the next
	// refresh is at
	//
	//	Obtained + L/2 + (2u-1)·Jitter·L/2,   L = Expiration-Obtained, u = Rand()
	//
	// that is, uniformly within ±Jitter of half the lifetime: with the
	// default 0.05, between 47.5% and 52.5% of L. It must be in [0, 0.1]
	// (0 means 0.05), so a refresh always falls within 45%–55% of L, or
	// earlier for credentials under 40 minutes (see RefreshLead).
	Jitter float64
	// BackoffBase and BackoffMax shape the retry delay after the n-th
	// consecutive failure (n ≥ 1): with d = min(BackoffMax, BackoffBase·2^(n-1))
	// the delay is d/2 + u·d/2 ("equal jitter"), so it never shrinks from one
	// step to the next before the cap, always waits at least half of d, and
	// never exceeds BackoffMax. Defaults 1s and 1m.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxNewTokenTries bounds KindNewToken errors (InvalidIdentityToken,
	// ExpiredTokenException): after the first one, at most this many more
	// attempts in a row, each with a new token and after a backoff delay;
	// the next KindNewToken error in that row is treated as permanent, and
	// so is every following one until some other outcome breaks the row.
	// 0 means 3 (so at most 4 exchanges in a row); negative is invalid.
	MaxNewTokenTries int
	// PermanentPause is how long to wait after a permanent error
	// (AccessDenied, a bad token configuration…) before trying again,
	// unless Trigger asks sooner. Default 5m.
	PermanentPause time.Duration
	// AttemptTimeout bounds one attempt (token fetch plus exchange) so a hung
	// call cannot stall refreshing; it runs on the real clock. Default 30s.
	AttemptTimeout time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2. It is only
	// called with the Refresher's lock held, so it need not be safe for
	// concurrent use.
	Rand func() float64
}

// State is a snapshot for status reports. It holds no secret beyond what
// Credentials carries; callers must not modify what the pointers point to.
type State struct {
	// Credentials are the last good credentials, even if expired; nil if
	// none was ever obtained.
	Credentials *daemon.Credentials
	// Serving reports whether Credentials are valid now.
	Serving bool
	// NextRefresh is when Run will attempt next: a half-life refresh while
	// healthy, otherwise a retry. Zero before the first attempt.
	NextRefresh time.Time
	LastAttempt time.Time
	LastSuccess time.Time
	// LastError is the last attempt's classified error, with the stage that
	// failed; nil after a success.
	LastError *daemon.ErrorStatus
	// Attempts counts Exchange calls (token fetch failures don't count).
	Attempts int64
	// ConsecutiveFailures counts failed attempts since the last success.
	ConsecutiveFailures int
}

// Refresher holds one role's credentials and keeps them fresh. Run drives
// it; Current, Await, Trigger, Forget and State are safe to call from any
// goroutine.
type Refresher struct {
	src         TokenSource
	ex          Exchanger
	clock       clock.Clock
	log         *slog.Logger
	rand        func() float64
	jitter      float64
	base, max   time.Duration
	maxNewToken int
	pause       time.Duration
	timeout     time.Duration

	creds   atomic.Pointer[daemon.Credentials] // last good; Current checks expiry
	group   singleflight.Group
	trigger chan struct{}   // Trigger → Run, buffered 1
	changed <-chan struct{} // the source's Changed, when it is a Notifier; else nil
	wake    chan struct{}   // an attempt Run did not start finished, buffered 1
	running atomic.Bool

	mu               sync.Mutex
	inflight         chan struct{} // closed when the attempt in flight ends; nil if none
	first            chan struct{} // closed when the first attempt ends
	firstDone        bool
	next             time.Time
	lastAttempt      time.Time
	lastSuccess      time.Time
	lastErr          *daemon.ErrorStatus
	attempts         int64
	failures         int
	newTokenFailures int
	forgotten        int // Forget calls, so an attempt begun before one is not stored
}

// New checks cfg, fills in defaults and returns a Refresher. Nothing is
// fetched until Run is called.
func New(cfg Config) (*Refresher, error) {
	if cfg.Source == nil {
		return nil, errors.New("refresh: Config.Source is required")
	}
	if cfg.Exchanger == nil {
		return nil, errors.New("refresh: Config.Exchanger is required")
	}
	r := &Refresher{
		src:         cfg.Source,
		ex:          cfg.Exchanger,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		rand:        cfg.Rand,
		jitter:      cfg.Jitter,
		base:        cfg.BackoffBase,
		max:         cfg.BackoffMax,
		maxNewToken: cfg.MaxNewTokenTries,
		pause:       cfg.PermanentPause,
		timeout:     cfg.AttemptTimeout,
		trigger:     make(chan struct{}, 1),
		wake:        make(chan struct{}, 1),
		first:       make(chan struct{}),
	}
	if n, ok := cfg.Source.(Notifier); ok {
		r.changed = n.Changed()
	}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "refresh", "role", cfg.Name)
	if r.rand == nil {
		r.rand = rand.Float64
	}
	switch {
	case r.jitter == 0:
		r.jitter = DefaultJitter
	case r.jitter < 0 || r.jitter > MaxJitter || r.jitter != r.jitter:
		return nil, fmt.Errorf("refresh: Jitter %v is outside [0, %v]", cfg.Jitter, MaxJitter)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"BackoffBase", &r.base, DefaultBackoffBase},
		{"BackoffMax", &r.max, DefaultBackoffMax},
		{"PermanentPause", &r.pause, DefaultPermanentPause},
		{"AttemptTimeout", &r.timeout, DefaultAttemptTimeout},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("refresh: %s %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if r.max < r.base {
		return nil, fmt.Errorf("refresh: BackoffMax %v is less than BackoffBase %v", r.max, r.base)
	}
	switch {
	case r.maxNewToken == 0:
		r.maxNewToken = DefaultMaxNewTokenTries
	case r.maxNewToken < 0:
		return nil, fmt.Errorf("refresh: MaxNewTokenTries %d is negative", r.maxNewToken)
	}
	return r, nil
}

// Current returns the held credentials if they are valid now, else nil. It
// never blocks and never allocates; the result must not be modified.
func (r *Refresher) Current() *daemon.Credentials {
	if c := r.creds.Load(); c.ValidAt(r.clock.Now()) {
		return c
	}
	return nil
}

// Await returns valid credentials at once if it holds them. Otherwise, if an
// attempt is in flight, or none has finished yet (a cold start), it waits
// for that attempt or for ctx to end and then returns Current. It never
// starts an attempt, so a burst of requests during an outage costs nothing.
func (r *Refresher) Await(ctx context.Context) *daemon.Credentials {
	if c := r.Current(); c != nil {
		return c
	}
	r.mu.Lock()
	wait := r.inflight
	if wait == nil && !r.firstDone {
		wait = r.first
	}
	r.mu.Unlock()
	if wait == nil {
		return nil
	}
	select {
	case <-wait:
	case <-ctx.Done():
	}
	return r.Current()
}

// Trigger asks Run to attempt now, e.g. because the token changed or a login
// completed. It never blocks. It is ignored while the refresher is healthy
// (the last attempt succeeded and the credentials are valid); otherwise Run
// attempts promptly, cutting short a backoff or a permanent-error pause.
func (r *Refresher) Trigger() {
	if r.healthy() {
		return
	}
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Forget drops the held credentials at once, so Current and Await answer
// nil until a new attempt succeeds (the endpoint says 503): for when the
// identity behind them is gone, such as a `credd logout`. An attempt in
// flight is not stored. Run then attempts promptly, and its outcome (most
// likely "log in first") is what State reports.
func (r *Refresher) Forget() {
	r.mu.Lock()
	r.creds.Store(nil)
	r.forgotten++
	r.next = r.clock.Now()
	r.mu.Unlock()
	r.log.Info("credentials dropped")
	r.Trigger()
}

// State returns a snapshot for status reports.
func (r *Refresher) State() State {
	r.mu.Lock()
	s := State{
		Credentials:         r.creds.Load(),
		NextRefresh:         r.next,
		LastAttempt:         r.lastAttempt,
		LastSuccess:         r.lastSuccess,
		Attempts:            r.attempts,
		ConsecutiveFailures: r.failures,
	}
	if r.lastErr != nil {
		e := *r.lastErr
		s.LastError = &e
	}
	r.mu.Unlock()
	s.Serving = s.Credentials.ValidAt(r.clock.Now())
	return s
}

// Run fetches credentials at once, then keeps them fresh until ctx ends: it
// sleeps until the next refresh (half-life, jittered), a retry after a
// failure, or a Trigger. It never gives up on STS errors and returns nil
// when ctx is done, without waiting for an attempt in flight to notice.
// Only one Run may be active at a time.
func (r *Refresher) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("refresh: Run is already running")
	}
	defer r.running.Store(false)
	for {
		if ctx.Err() != nil {
			return nil
		}
		r.mu.Lock()
		next := r.next
		r.mu.Unlock()
		if wait := next.Sub(r.clock.Now()); wait > 0 {
			t := r.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C():
				continue // recheck against the clock
			case <-r.wake:
				t.Stop()
				continue // someone else's attempt changed the schedule
			case <-r.trigger:
				t.Stop()
				if r.healthy() {
					continue
				}
			case <-r.changed:
				t.Stop()
				if r.healthy() {
					continue
				}
				r.log.Debug("the token source may have a new token: refreshing now")
			}
		}
		r.do(ctx) // the outcome is recorded in r's state, and logged
		select {
		case <-r.wake: // our own attempt; the loop rereads the schedule anyway
		default:
		}
	}
}

// healthy reports whether the last recorded attempt succeeded and its
// credentials are still valid.
func (r *Refresher) healthy() bool {
	r.mu.Lock()
	ok := r.lastErr == nil && !r.lastSuccess.IsZero()
	r.mu.Unlock()
	return ok && r.Current() != nil
}

// do runs one attempt, or joins the one in flight: there is one token
// fetch and one Exchange call however many callers there are. The attempt
// runs under the context of the caller that started it; a caller whose ctx
// ends stops waiting, so Run returns on cancel without waiting for the
// attempt to notice.
func (r *Refresher) do(ctx context.Context) (*daemon.Credentials, error) {
	ch := r.group.DoChan("attempt", func() (any, error) {
		return r.attempt(ctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*daemon.Credentials), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// attempt fetches a token, exchanges it, records the outcome and schedules
// the next attempt. Only one runs at a time (singleflight).
func (r *Refresher) attempt(ctx context.Context) (*daemon.Credentials, error) {
	done := make(chan struct{})
	r.mu.Lock()
	r.inflight = done
	r.lastAttempt = r.clock.Now()
	forgotten := r.forgotten
	r.mu.Unlock()

	creds, err := r.exchange(ctx)
	now := r.clock.Now()

	r.mu.Lock()
	if err == nil && r.forgotten != forgotten {
		// Got with an identity that Forget dropped meanwhile.
		creds, err = nil, daemon.AtStage(daemon.StageCredentials, daemon.Errorf(daemon.KindRetryable, CodeCredentialsDropped, "",
			"the credentials were dropped while this attempt ran"))
	}
	logOutcome := r.record(ctx, creds, err, now)
	close(done)
	r.inflight = nil
	if !r.firstDone {
		r.firstDone = true
		close(r.first)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	logOutcome()
	if err != nil {
		return nil, err
	}
	return creds, nil
}

// record updates the state with an attempt's outcome and schedules the next
// attempt. It is called with r.mu held and returns the log call to make
// once the lock is released.
func (r *Refresher) record(ctx context.Context, creds *daemon.Credentials, err error, now time.Time) (logOutcome func()) {
	if err != nil && ctx.Err() != nil {
		// The caller gave up (shutdown, most likely): that says nothing
		// about STS, so the record and the schedule stay as they were.
		return func() { r.log.Debug("refresh abandoned", "reason", ctx.Err()) }
	}
	if err == nil {
		r.creds.Store(creds)
		r.lastSuccess = now
		r.lastErr = nil
		r.failures = 0
		r.newTokenFailures = 0
		r.next = r.refreshAt(creds, now)
		next := r.next
		return func() {
			r.log.Info("credentials refreshed",
				"assumed_role", creds.AssumedRoleARN,
				"expiration", creds.Expiration.UTC().Format(daemon.ExpirationLayout),
				"lifetime", creds.Lifetime(),
				"next_refresh_in", next.Sub(now))
		}
	}

	e := daemon.AsError(err)
	r.failures++
	r.lastErr = e.Status(now)
	var delay time.Duration
	switch e.Kind {
	case daemon.KindNewToken:
		r.newTokenFailures++
		if r.newTokenFailures > r.maxNewToken {
			delay = r.pause // enough new tokens were refused: treat as permanent
		} else {
			delay = r.backoff(r.failures)
		}
	case daemon.KindPermanent:
		r.newTokenFailures = 0
		delay = r.pause
	default:
		r.newTokenFailures = 0
		delay = r.backoff(r.failures)
	}
	r.next = now.Add(delay)
	failures, serving := r.failures, r.creds.Load().ValidAt(now)
	return func() {
		r.log.Warn("refresh failed",
			"stage", e.Stage,
			"code", e.Code,
			"kind", e.Kind,
			"error", e.Message,
			"hint", e.Hint,
			"consecutive_failures", failures,
			"retry_in", delay,
			"serving", serving)
	}
}

// exchange fetches a fresh token and exchanges it, within AttemptTimeout.
// The result is a private copy, safe to publish. An error is a
// *daemon.Error that names the stage that failed.
func (r *Refresher) exchange(ctx context.Context) (*daemon.Credentials, error) {
	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	failed := func(stage daemon.Stage, err error) error {
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			err = daemon.Errorf(daemon.KindRetryable, daemon.CodeTimeout,
				"check that the token source and STS are reachable",
				"attempt took longer than %s: %w", r.timeout, err)
		}
		return daemon.AtStage(stage, err)
	}

	token, err := bounded(actx, r.src.Token)
	if err != nil {
		return nil, failed(daemon.StageTokenSource, err)
	}
	r.mu.Lock()
	r.attempts++
	r.mu.Unlock()
	c, err := bounded(actx, func(ctx context.Context) (daemon.Credentials, error) { return r.ex.Exchange(ctx, token) })
	if err != nil {
		return nil, failed(daemon.StageSTS, err)
	}
	now := r.clock.Now()
	if c.Obtained.IsZero() {
		c.Obtained = now
	}
	if !c.ValidAt(now) {
		return nil, daemon.AtStage(daemon.StageCredentials, daemon.Errorf(daemon.KindRetryable, CodeInvalidCredentials, "",
			"the exchange returned credentials that are empty or already expired (expiration %s)",
			c.Expiration.UTC().Format(daemon.ExpirationLayout)))
	}
	return &c, nil
}

// stuckGrace is how long a step may take to return once its context has
// ended, before the attempt gives up on it.
const stuckGrace = time.Second

// bounded returns fn's result, or ctx's error if fn has not returned
// stuckGrace after ctx ended: a token source or an exchanger that ignores
// its context (a read stuck in the kernel, say) must not hold the attempt,
// and every caller joined to it, forever, with nothing in the status. fn's
// goroutine is left to finish on its own.
func bounded[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
	}
	// Most steps return at once with an error of their own: prefer it.
	t := time.NewTimer(stuckGrace)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, fmt.Errorf("it did not return when its time was up: %w", ctx.Err())
	}
}

// The SDKs' refetch windows (SDK-COMPAT.md, section 6 and rule 9):
// botocore (the AWS CLI, boto3), .NET and Java fetch again on every call
// once credentials have less than 15 minutes left, and botocore raises
// "Credentials were refreshed, but the refreshed credentials are still
// expired" when a fetch in its last 10 minutes brings no more than that.
const (
	// ClientWindow is the widest window: served credentials should keep
	// more than this left.
	ClientWindow = 15 * time.Minute
	// RefreshLead is how long before expiry healthy credentials are
	// refreshed at the latest: ClientWindow plus 5 minutes for a failing
	// STS to recover in before clients see less than ClientWindow.
	RefreshLead = 20 * time.Minute
	// stsMinLifetime is the shortest lifetime STS issues (DurationSeconds
	// 900); shorter ones are test lifetimes (the sandbox's cap), refreshed
	// at plain half-life.
	stsMinLifetime = 15 * time.Minute
)

// refreshAt is when to refresh c while healthy: half its lifetime,
// jittered, capped by refreshAfter. Never sooner than BackoffBase from now:
// that guards against a skewed Obtained turning into a tight loop.
func (r *Refresher) refreshAt(c *daemon.Credentials, now time.Time) time.Time {
	lifetime := c.Lifetime()
	half := lifetime / 2
	after := refreshAfter(lifetime, half+time.Duration((2*r.u()-1)*r.jitter*float64(half)))
	return later(c.Obtained.Add(after), now.Add(r.base))
}

// refreshAfter is how long after they were obtained credentials of the
// given lifetime are refreshed, given the half-life point: for lifetimes
// STS issues, no later than RefreshLead before expiry, and for that no
// sooner than a quarter of the lifetime (so 15-minute credentials are
// refreshed with 11¼ minutes left, above botocore's 10).
func refreshAfter(lifetime, halfLife time.Duration) time.Duration {
	if lead := lifetime - RefreshLead; lifetime >= stsMinLifetime && lead < halfLife {
		return max(lead, lifetime/4)
	}
	return halfLife
}

// LeftAtRefresh is about how long credentials of the given lifetime have
// left when a healthy refresher replaces them (ignoring jitter): the least
// a client is served.
func LeftAtRefresh(lifetime time.Duration) time.Duration {
	return lifetime - refreshAfter(lifetime, lifetime/2)
}

// backoff is the delay after the n-th consecutive failure (see Config).
func (r *Refresher) backoff(n int) time.Duration {
	d := r.max
	if shift := n - 1; shift < 62 && r.base<<shift>>shift == r.base && r.base<<shift < r.max {
		d = r.base << shift
	}
	return d/2 + time.Duration(r.u()*float64(d-d/2))
}

// u is Rand clamped to [0, 1].
func (r *Refresher) u() float64 {
	u := r.rand()
	if !(u >= 0) { // negative or NaN
		return 0
	}
	return min(u, 1)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
