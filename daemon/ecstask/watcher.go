package ecstask

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/awsapi"
	"github.com/credd-dev/credd/daemon/sts"
)

// Defaults for the zero values of Config, and the fixed parts of the
// schedule.
const (
	// DefaultPollInterval is how often a followed family's latest revision
	// is asked for. ECS throttles with one token bucket per account and
	// region that every caller of the account shares — the console, CI,
	// deploy tools, and every developer's credd ("Request throttling for
	// the Amazon ECS API",
	// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html).
	// One call per 5 minutes per daemon keeps a team of a hundred under
	// one call every three seconds, far below any bucket's refill rate,
	// while a new revision shows up within minutes — about as long as a
	// deploy of it takes.
	DefaultPollInterval = 5 * time.Minute
	// DefaultMaxBackoff caps the delay between failed fetches.
	DefaultMaxBackoff = 30 * time.Minute
	// MinPollInterval guards the account's shared quota against a
	// configuration that would poll in a tight loop.
	MinPollInterval = time.Second

	// firstBackoff is the first retry delay while nothing was fetched
	// yet: the metadata is missing, so retrying soon is worth it. Once a
	// snapshot is mirrored, failures back off from PollInterval instead:
	// nothing is missing, and throttling calls for fewer calls, not more.
	firstBackoff = 2 * time.Second
	// maxCredentialsWait caps the delay while the role has no
	// credentials: no call leaves the machine then, so waiting long
	// would only delay the first fetch after the credentials arrive.
	maxCredentialsWait = 30 * time.Second
	// pinnedRecheck is how many poll intervals apart a pinned revision is
	// fetched again. A revision's content never changes (to update a task
	// definition, "create a task definition revision": "Updating an Amazon
	// ECS task definition using the console", Amazon ECS Developer Guide);
	// only its status (ACTIVE → INACTIVE → DELETE_IN_PROGRESS) and its tags
	// can. Hourly is often enough to say so in status, and costs nothing.
	pinnedRecheck = 12
	// tagsRetryAfter is how long fetches leave out include=TAGS after the
	// role was denied the tags, before asking again (the policy may have
	// been fixed); each such retry costs one more call while still denied.
	tagsRetryAfter = time.Hour
	// attemptTimeout bounds one fetch (at most two calls, see fetch) on
	// the real clock, so a black-holed endpoint cannot stall the watcher.
	attemptTimeout = 30 * time.Second
	// jitterFraction spreads each delay uniformly within ±10%, so that
	// daemons started together do not poll together.
	jitterFraction = 0.1
)

// appID is sent in the User-Agent (app/credd) so CloudTrail shows who called.
const appID = "credd"

// Config configures a Watcher. Zero values mean the documented defaults.
type Config struct {
	// Ref is the task definition to follow (required).
	Ref Ref
	// Region is where the task definition is read when Ref has no region
	// of its own (an ARN's region wins). Required then.
	Region string
	// Endpoint is the base URL of the ECS API; "" means the region's
	// (the SDK's resolver). The caller resolves AWS_ENDPOINT_URL_ECS:
	// this package reads no environment.
	Endpoint string
	// Credentials sign the calls; required. It is asked on every fetch,
	// and an error from it means "no credentials yet", not a failure.
	// Never the SDK's default chain: inside the container it leads to
	// credd itself.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests; nil means a client with dial, TLS and
	// response-header timeouts that honours HTTP(S)_PROXY/NO_PROXY.
	HTTPClient *http.Client
	// Clock schedules the fetches; nil means the wall clock.
	Clock clock.Clock
	// Logger is nil to discard logs. Records carry the Logger's own
	// attributes (the caller sets component) and never a secret.
	Logger *slog.Logger
	// PollInterval is how often a followed family is fetched again (a
	// pinned revision, every 12 intervals); 0 means 5 minutes, less than
	// MinPollInterval is invalid. See DefaultPollInterval.
	PollInterval time.Duration
	// MaxBackoff caps the delay after failed fetches; 0 means 30 minutes.
	MaxBackoff time.Duration
	// Rand returns a number in [0, 1) for jitter; nil means math/rand/v2.
	// It is only called from Run's goroutine.
	Rand func() float64
	// OnChange is called from Run's goroutine with each new snapshot: the
	// first fetched, then each time the mirrored revision (its ARN), its
	// status, its tags or whether tags may be read changes. Run waits for
	// it to return. It must not modify the snapshot.
	OnChange func(Snapshot)
}

// Snapshot is one fetched task definition. What its pointers point to is
// shared and must not be modified.
type Snapshot struct {
	Definition *ecstypes.TaskDefinition
	Tags       []ecstypes.Tag
	// TagsAllowed is false when the role may not read the task
	// definition's tags: DescribeTaskDefinition with include=TAGS answered
	// AccessDeniedException and the same call without it succeeded. Tags
	// is then empty and the definition is still served.
	TagsAllowed bool
	FetchedAt   time.Time
}

// Change is one change of the followed revision, such as web:3 → web:4.
type Change struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	To   string    `json:"to"`
}

// Status is what the Watcher knows, for `credd status --json`. It never
// holds a secret: not the definition's environment nor its secrets.
type Status struct {
	// TaskDefinition is what was asked for, such as "web" or "web:3".
	TaskDefinition string `json:"taskDefinition"`
	// Mirrored is the ARN of the revision now mirrored, "" until the
	// first fetch; Revision is its number.
	Mirrored string `json:"mirrored,omitempty"`
	Revision int    `json:"revision,omitempty"`
	// DefinitionStatus is the mirrored revision's status: ACTIVE, INACTIVE
	// (deregistered) or DELETE_IN_PROGRESS.
	DefinitionStatus string `json:"definitionStatus,omitempty"`
	// TagsDenied is set when the role may not read the definition's tags.
	TagsDenied  bool      `json:"tagsDenied,omitempty"`
	LastFetch   time.Time `json:"lastFetch,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	NextFetch   time.Time `json:"nextFetch,omitzero"`
	// LastChange is the last time the followed revision changed.
	LastChange *Change `json:"lastChange,omitempty"`
	// Note says what matters about a mirrored revision that is fetched
	// fine: that it was deregistered or is being deleted.
	Note string `json:"note,omitempty"`
	// Error is the last fetch's classified error with what to do, ""
	// after a success; ErrorCode is its code, such as
	// AccessDeniedException or WaitingForCredentials.
	Error     string      `json:"error,omitempty"`
	ErrorCode daemon.Code `json:"errorCode,omitempty"`
	// Failures counts fetches failed in a row; waiting for credentials is
	// not a failure.
	Failures int `json:"failures,omitempty"`
}

// Watcher follows one task definition. Run drives it; Status and Current
// are safe to call from any goroutine.
type Watcher struct {
	api        *ecs.Client
	ref        Ref
	region     string
	endpoint   string
	clock      clock.Clock
	log        *slog.Logger
	rand       func() float64
	poll       time.Duration
	maxBackoff time.Duration
	onChange   func(Snapshot)
	running    atomic.Bool

	// Only Run's goroutine touches these.
	tagsRetryAt time.Time // include=TAGS is left out until then
	waits       int       // attempts in a row without credentials

	mu     sync.Mutex
	status Status
	last   *Snapshot
}

// NewWatcher validates cfg and returns a Watcher. Invalid settings give an
// error that says what to fix.
func NewWatcher(cfg Config) (*Watcher, error) {
	if cfg.Ref.Family == "" {
		return nil, errors.New("ecstask: no task definition: set --ecs-task-definition to FAMILY, FAMILY:REVISION or a task definition ARN")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("ecstask: no credentials provider: the task definition is read with the role's credentials")
	}
	region := cfg.Ref.Region
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		return nil, fmt.Errorf("ecstask: no region to read %s in: set --region, or use the task definition's ARN", cfg.Ref)
	}
	if err := sts.CheckRegion(region); err != nil {
		return nil, fmt.Errorf("ecstask: %w", err)
	}
	var baseEndpoint *string
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("ecstask: ECS endpoint %q is not a base URL: set AWS_ENDPOINT_URL_ECS to a URL such as https://ecs.eu-west-1.amazonaws.com or http://127.0.0.1:4566", cfg.Endpoint)
		}
		baseEndpoint = aws.String(cfg.Endpoint)
	}
	poll := cfg.PollInterval
	switch {
	case poll == 0:
		poll = DefaultPollInterval
	case poll < MinPollInterval:
		return nil, fmt.Errorf("ecstask: poll interval %s is below %s: ECS's request quota is shared by the whole account", poll, MinPollInterval)
	}
	maxBackoff := cfg.MaxBackoff
	switch {
	case maxBackoff == 0:
		maxBackoff = DefaultMaxBackoff
	case maxBackoff < 0:
		return nil, fmt.Errorf("ecstask: max backoff %s is negative: use a positive duration, or 0 for 30m", maxBackoff)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = awsapi.HTTPClient(2, 0)
	}
	w := &Watcher{
		ref:        cfg.Ref,
		region:     region,
		endpoint:   cfg.Endpoint,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		rand:       cfg.Rand,
		poll:       poll,
		maxBackoff: maxBackoff,
		onChange:   cfg.OnChange,
		status:     Status{TaskDefinition: cfg.Ref.String()},
	}
	if w.clock == nil {
		w.clock = clock.Real{}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.rand == nil {
		w.rand = rand.Float64
	}
	if w.onChange == nil {
		w.onChange = func(Snapshot) {}
	}
	w.api = ecs.New(ecs.Options{
		Region:       region,
		BaseEndpoint: baseEndpoint,
		Credentials:  markedCredentials{cfg.Credentials},
		// The Watcher owns retries and backoff: one HTTP request per call.
		Retryer:    aws.NopRetryer{},
		HTTPClient: hc,
		AppID:      appID,
	})
	return w, nil
}

// markedCredentials marks the provider's errors as such (see classify).
type markedCredentials struct{ p aws.CredentialsProvider }

func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.p.Retrieve(ctx)
	if err != nil {
		return c, &noCredentialsError{err}
	}
	return c, nil
}

// Status reports what the Watcher knows.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	if s.LastChange != nil {
		c := *s.LastChange
		s.LastChange = &c
	}
	return s
}

// Current returns the last snapshot fetched, if any.
func (w *Watcher) Current() (Snapshot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return Snapshot{}, false
	}
	return *w.last, true
}

// Run fetches the task definition at once, then keeps following it until
// ctx ends, when it returns nil without waiting for a call in flight to
// notice. A failed fetch is retried with backoff, and the last good
// snapshot stays mirrored. A followed family is fetched every
// PollInterval (jittered); a pinned revision every 12 intervals (see
// pinnedRecheck). Only one Run may be active at a time.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("ecstask: Run is already running")
	}
	defer w.running.Store(false)
	next := w.clock.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if wait := next.Sub(w.clock.Now()); wait > 0 {
			t := w.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C():
			}
		}
		next = w.attempt(ctx)
	}
}

// attempt fetches once, records the outcome, tells OnChange of a new
// snapshot and returns when to fetch next.
func (w *Watcher) attempt(ctx context.Context) time.Time {
	started := w.clock.Now()
	snap, err := w.fetch(ctx)
	if ctx.Err() != nil {
		return started // Run returns; nothing to record
	}
	now := w.clock.Now()

	w.mu.Lock()
	w.status.LastFetch = started
	var derr *daemon.Error
	if err != nil {
		derr = daemon.AsError(err)
	}
	var changed bool
	var delay time.Duration
	switch {
	case derr != nil && derr.Code == CodeWaitingForCredentials:
		w.waits++
		delay = min(w.backoff(w.waits, firstBackoff), maxCredentialsWait)
		w.recordError(derr)
	case derr != nil:
		w.waits = 0
		w.status.Failures++
		base := firstBackoff
		if w.last != nil {
			base = w.poll
		}
		delay = w.backoff(w.status.Failures, base)
		w.recordError(derr)
	default:
		w.waits = 0
		changed = w.recordSuccess(snap, now)
		delay = w.jitter(w.poll)
		if w.ref.Pinned() {
			delay = w.jitter(pinnedRecheck * w.poll)
		}
	}
	w.status.NextFetch = now.Add(delay)
	w.mu.Unlock()

	w.logOutcome(derr, snap, changed, delay)
	if changed {
		w.onChange(snap)
	}
	return now.Add(delay)
}

// recordError keeps the error in status, and the last good snapshot as it
// is. Called with w.mu held.
func (w *Watcher) recordError(derr *daemon.Error) {
	w.status.Error = derr.Error()
	w.status.ErrorCode = derr.Code
}

// recordSuccess mirrors snap and reports whether it differs from the last
// one. Called with w.mu held.
func (w *Watcher) recordSuccess(snap Snapshot, now time.Time) bool {
	prev := w.last
	changed := prev == nil || !sameSnapshot(*prev, snap)
	if prev != nil && arnOf(*prev) != arnOf(snap) {
		w.status.LastChange = &Change{At: now, From: revisionName(prev.Definition), To: revisionName(snap.Definition)}
	}
	if changed {
		w.last = &snap
	} else {
		w.last.FetchedAt = snap.FetchedAt
	}
	d := snap.Definition
	w.status.Mirrored = aws.ToString(d.TaskDefinitionArn)
	w.status.Revision = int(d.Revision)
	w.status.DefinitionStatus = string(d.Status)
	w.status.TagsDenied = !snap.TagsAllowed
	w.status.LastSuccess = now
	w.status.Note = statusNote(d)
	w.status.Error, w.status.ErrorCode, w.status.Failures = "", "", 0
	return changed
}

// statusNote says what a revision's status means for the mirror. Only a
// pinned revision can be other than ACTIVE: a family alone describes its
// latest ACTIVE revision (DescribeTaskDefinition API reference).
func statusNote(d *ecstypes.TaskDefinition) string {
	name := revisionName(d)
	switch d.Status {
	case ecstypes.TaskDefinitionStatusInactive:
		// "You can only describe INACTIVE task definitions while an
		// active task or service references them" (DescribeTaskDefinition
		// API reference): once none does, fetching it fails.
		return name + " is INACTIVE (deregistered): ECS runs no new tasks from it, and can describe it only while a task or service still uses it; credd keeps mirroring it — pin an ACTIVE revision or follow the family"
	case ecstypes.TaskDefinitionStatusDeleteInProgress:
		// DeleteTaskDefinitions: the revision stays DELETE_IN_PROGRESS
		// "until all the associated tasks and services have been
		// terminated" (aws-sdk-go-v2 service/ecs api_op_DeleteTaskDefinitions.go).
		return name + " is being deleted (DELETE_IN_PROGRESS): ECS runs no new tasks from it; credd keeps mirroring it — pin an ACTIVE revision or follow the family"
	}
	return ""
}

func (w *Watcher) logOutcome(derr *daemon.Error, snap Snapshot, changed bool, delay time.Duration) {
	switch {
	case derr != nil && derr.Code == CodeWaitingForCredentials:
		if w.waits == 1 {
			w.log.Info("waiting for the role's credentials to read the ECS task definition", "task_definition", w.ref.String(), "retry_in", delay)
		} else {
			w.log.Debug("still waiting for credentials", "task_definition", w.ref.String(), "retry_in", delay)
		}
	case derr != nil:
		level := slog.LevelDebug
		if n := w.Status().Failures; n == 1 || n%10 == 0 {
			level = slog.LevelWarn
		}
		w.log.Log(context.Background(), level, "cannot read the ECS task definition", "task_definition", w.ref.String(),
			"code", string(derr.Code), "err", derr.Error(), "retry_in", delay)
	case changed:
		w.log.Info("fetched the ECS task definition", "task_definition", aws.ToString(snap.Definition.TaskDefinitionArn),
			"status", string(snap.Definition.Status), "tags_allowed", snap.TagsAllowed, "next_fetch_in", delay)
	default:
		w.log.Debug("the ECS task definition is unchanged", "task_definition", aws.ToString(snap.Definition.TaskDefinitionArn), "next_fetch_in", delay)
	}
}

// fetch calls DescribeTaskDefinition, asking for the tags unless they were
// denied less than tagsRetryAfter ago. The API reference does not say which
// IAM action include=TAGS needs: an AccessDeniedException that goes away
// when the same call leaves include=TAGS out means the tags were denied,
// whatever the action, and the definition is served without them.
func (w *Watcher) fetch(ctx context.Context) (Snapshot, error) {
	actx, cancel := context.WithTimeoutCause(ctx, attemptTimeout, errAttemptTimeout)
	defer cancel()

	withTags := !w.clock.Now().Before(w.tagsRetryAt)
	in := &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(w.ref.String())}
	if withTags {
		in.Include = []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}
	}
	out, err := w.api.DescribeTaskDefinition(actx, in)
	if withTags && isAccessDenied(err) {
		in.Include = nil
		out, err = w.api.DescribeTaskDefinition(actx, in)
		if err == nil {
			withTags = false
			w.tagsRetryAt = w.clock.Now().Add(tagsRetryAfter)
			w.log.Info("the role may not read the task definition's tags: serving it without them", "task_definition", w.ref.String(), "retry_tags_in", tagsRetryAfter)
		}
	}
	if err != nil {
		return Snapshot{}, w.classify(actx, err)
	}
	if err := w.check(out); err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Definition: out.TaskDefinition, TagsAllowed: withTags, FetchedAt: w.clock.Now()}
	if withTags {
		s.Tags = out.Tags
	}
	return s, nil
}

// check holds ECS's answer to what was asked: an endpoint that is not ECS
// must not get a wrong definition mirrored.
func (w *Watcher) check(out *ecs.DescribeTaskDefinitionOutput) error {
	d := out.TaskDefinition
	malformed := func(format string, args ...any) error {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeMalformedResponse,
			Message: sanitize(fmt.Sprintf(format, args...)),
			Hint:    "check that AWS_ENDPOINT_URL_ECS, if set, points at ECS; credd retries and keeps mirroring the last revision it fetched"}
	}
	switch {
	case d == nil || aws.ToString(d.TaskDefinitionArn) == "" || d.Revision < 1:
		return malformed("ECS answered DescribeTaskDefinition %s without a task definition ARN and revision", w.ref)
	case aws.ToString(d.Family) != w.ref.Family:
		return malformed("ECS answered DescribeTaskDefinition %s with family %q", w.ref, aws.ToString(d.Family))
	case w.ref.Pinned() && int(d.Revision) != w.ref.Revision:
		return malformed("ECS answered DescribeTaskDefinition %s with revision %d", w.ref, d.Revision)
	}
	return nil
}

// backoff is the delay after the n-th failure in a row (n ≥ 1):
// base·2^(n-1), jittered, capped at MaxBackoff.
func (w *Watcher) backoff(n int, base time.Duration) time.Duration {
	d := w.maxBackoff
	if shift := n - 1; shift < 62 && base<<shift>>shift == base && base<<shift < w.maxBackoff {
		d = base << shift
	}
	return min(w.jitter(d), w.maxBackoff)
}

// jitter spreads d uniformly within ±jitterFraction.
func (w *Watcher) jitter(d time.Duration) time.Duration {
	u := w.rand()
	if !(u >= 0) { // negative or NaN
		u = 0
	}
	u = min(u, 1)
	return d + time.Duration((2*u-1)*jitterFraction*float64(d))
}

// sameSnapshot reports whether b mirrors the same as a.
func sameSnapshot(a, b Snapshot) bool {
	return arnOf(a) == arnOf(b) && a.Definition.Status == b.Definition.Status && a.TagsAllowed == b.TagsAllowed &&
		slices.EqualFunc(a.Tags, b.Tags, func(x, y ecstypes.Tag) bool {
			return aws.ToString(x.Key) == aws.ToString(y.Key) && aws.ToString(x.Value) == aws.ToString(y.Value)
		})
}

func arnOf(s Snapshot) string { return aws.ToString(s.Definition.TaskDefinitionArn) }

// revisionName is FAMILY:REVISION, as Change and messages show it.
func revisionName(d *ecstypes.TaskDefinition) string {
	return aws.ToString(d.Family) + ":" + strconv.Itoa(int(d.Revision))
}
