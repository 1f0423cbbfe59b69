// Package login is the device-code login (RFC 8628) to an organisation's
// OIDC identity provider, or to GitHub (Options.GitHub): one Session per
// issuer and client ID holds the ID (or GitHub) and refresh tokens in
// memory (and, with a Store, keeps the refresh token across restarts), runs
// the device flow when asked and renews the token before it expires.
package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/redact"
)

// Error codes of a login.
const (
	// CodeLoginRequired is the error code of Token when nobody is logged in
	// or the login can no longer be renewed.
	CodeLoginRequired daemon.Code = "LoginRequired"
	// CodeRenewalFailed is the error code of Token when the ID token expired
	// while the IdP could not be reached to renew it (the session may
	// recover).
	CodeRenewalFailed daemon.Code = "LoginRenewalFailed"
	// CodeResuming is the error code of Token while a kept login is still
	// being renewed at start (the IdP has not answered yet, or failed
	// transiently).
	CodeResuming daemon.Code = "LoginResuming"
	// CodeNotKept is the code of State.KeepError: the kept login could not
	// be loaded, saved or erased. The login itself goes on in memory.
	CodeNotKept daemon.Code = "LoginNotKept"

	// CodeDenied: the user denied the device login at the IdP.
	CodeDenied daemon.Code = "LoginDenied"
	// CodeExpired: the device code expired before the login was approved.
	CodeExpired daemon.Code = "LoginExpired"
	// CodeCanceled: `credd logout` ended a device login in progress.
	CodeCanceled daemon.Code = "LoginCanceled"
	// CodeDeviceFlowUnsupported: the IdP advertises no device authorization
	// endpoint.
	CodeDeviceFlowUnsupported daemon.Code = "DeviceFlowUnsupported"
	// CodeDiscoveryFailed: the IdP's OIDC discovery document could not be
	// read.
	CodeDiscoveryFailed daemon.Code = "IdPDiscoveryFailed"
	// CodeIdPUnavailable: the IdP answered with a 5xx.
	CodeIdPUnavailable daemon.Code = "IdPUnavailable"
	// CodeIdPRefused: the IdP answered with an OAuth error.
	CodeIdPRefused daemon.Code = "IdPRefused"
	// CodeIdPUnreachable: the IdP could not be reached.
	CodeIdPUnreachable daemon.Code = "IdPUnreachable"
	// CodeIdPError: any other failure talking to the IdP.
	CodeIdPError daemon.Code = "IdPError"
)

// Session statuses.
const (
	StatusLoggedOut     = "logged-out"     // no login yet
	StatusLoggedIn      = "logged-in"      // a valid ID token is held
	StatusLoginRequired = "login-required" // the login ended: refused, revoked or expired
	StatusResuming      = "resuming"       // a kept refresh token is being renewed at start
)

// Device-flow (attempt) statuses.
const (
	AttemptPending  = "pending"
	AttemptApproved = "approved"
	AttemptDenied   = "denied"
	AttemptExpired  = "expired"
	AttemptFailed   = "failed"
	AttemptCanceled = "canceled" // `credd logout` ended it
)

// DefaultScopes are requested when Options.Scopes is empty: offline_access
// asks for the refresh token that lets the daemon renew the ID token.
var DefaultScopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}

// Defaults for the zero values of Options.
const (
	DefaultRenewBefore = time.Minute
	DefaultMinValidity = 45 * time.Second
	DefaultRetryMax    = time.Minute
)

// Options configure a Session. Zero values mean the documented defaults.
type Options struct {
	// Issuer is the IdP's OIDC issuer URL, discovered with go-oidc.
	// Required, except with GitHub, where it is left empty (or equal to
	// GitHubURL) and becomes GitHubURL.
	Issuer string
	// ClientID is the OAuth client registered at the IdP with the device
	// grant enabled; it is the ID token's audience. Required.
	ClientID string
	// ClientSecret is for confidential clients; public clients have none.
	// With GitHub it must be empty: GitHub's device flow takes none.
	ClientSecret string
	// Scopes requested; "openid" is always included. Empty = DefaultScopes.
	// With GitHub they are sent as given (none by default: a GitHub App
	// takes no scopes; an OAuth app needs "read:user" and "repo" for the
	// bridge to read private repositories' permissions).
	Scopes []string
	// GitHub selects GitHub's device flow instead of OIDC (see github.go):
	// Token then returns the GitHub user access token (ghu_ of a GitHub App,
	// gho_ of an OAuth app), renewed with its refresh token when it expires.
	GitHub bool
	// GitHubURL is GitHub's web host, with GitHub: "" = DefaultGitHubURL;
	// GitHub Enterprise Server: https://HOST.
	GitHubURL string
	// HTTPClient talks to the IdP; nil = a client with a 30 s timeout.
	HTTPClient *http.Client
	Clock      clock.Clock  // nil = clock.Real{}
	Logger     *slog.Logger // nil = discard; never given a token
	// RenewBefore: the ID token of lifetime L is renewed max(RenewBefore,
	// L/5) before it expires (so at 80% of a long life), but never before
	// half of L has passed. 0 = 1 minute.
	RenewBefore time.Duration
	// MinValidity: Token renews at once, rather than at Run's next tick,
	// when the ID token is due for renewal and has less than this left, so
	// that what it returns survives the local check and the trip to STS.
	// 0 = 45 s.
	MinValidity time.Duration
	// RetryMax caps the backoff between renewal attempts that failed for a
	// transient reason (network, 5xx). 0 = 1 minute.
	RetryMax time.Duration
	// Store keeps the refresh token so that a login survives a restart:
	// Run resumes a kept login, every new or rotated refresh token is
	// saved, and a login that ends is erased. nil = memory only.
	Store Store
}

// Attempt describes one device-code login. It never holds the device code.
type Attempt struct {
	ID     int    `json:"id"`
	Status string `json:"status"`
	// UserCode is what the user types at VerificationURI; it is not a secret.
	UserCode                string    `json:"userCode"`
	VerificationURI         string    `json:"verificationUri"`
	VerificationURIComplete string    `json:"verificationUriComplete,omitempty"`
	Expires                 time.Time `json:"expires,omitzero"`
	StartedAt               time.Time `json:"startedAt"`
	EndedAt                 time.Time `json:"endedAt,omitzero"`
	// Error says why a denied, expired or failed attempt ended.
	Error *daemon.ErrorStatus `json:"error,omitempty"`
}

// State is a snapshot of a Session for `credd login` and status. It never
// holds a token.
type State struct {
	// Issuer is the OIDC issuer, or with GitHub the GitHub URL.
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
	// Provider is ProviderGitHub for a GitHub login, "" for OIDC.
	Provider string `json:"provider,omitempty"`
	// Roles are the roles this login feeds (filled in by the daemon).
	Roles  []string `json:"roles,omitempty"`
	Status string   `json:"status"`
	// Subject is the "sub" of the current ID token (none with GitHub).
	Subject string `json:"subject,omitempty"`
	// IDTokenExpires is when the ID token expires; with GitHub, the
	// GitHub token (zero: it does not expire).
	IDTokenExpires time.Time `json:"idTokenExpires,omitzero"`
	CanRenew       bool      `json:"canRenew"`
	NextRenewal    time.Time `json:"nextRenewal,omitzero"`
	LastRenewal    time.Time `json:"lastRenewal,omitzero"`
	Renewals       int       `json:"renewals"`
	// LastError is the last renewal's error, or why the login ended.
	LastError *daemon.ErrorStatus `json:"lastError,omitempty"`
	// Login is the last device-code login, pending or finished.
	Login *Attempt `json:"login,omitempty"`
	// Kept reports that the refresh token is kept (Options.Store), so the
	// login survives a restart.
	Kept bool `json:"kept"`
	// KeepError says why the login could not be kept, or why a kept one
	// was not used (code LoginNotKept); the login goes on in memory.
	KeepError *daemon.ErrorStatus `json:"keepError,omitempty"`
}

// Session is one login to one IdP client, shared by every role that uses
// it. Start, State, Wait, Token and Source are safe to call from any
// goroutine; Run drives renewal.
type Session struct {
	opts   Options
	scopes []string
	client *http.Client
	clock  clock.Clock
	log    *slog.Logger

	startMu sync.Mutex // one device authorization at a time
	renewMu sync.Mutex // one renewal at a time
	storeMu sync.Mutex // one Store call at a time, in the order of the changes
	resumed sync.Once  // the kept login is loaded by the first Run only

	mu          sync.Mutex
	runCtx      context.Context // set by Run; device flows live under it
	wg          sync.WaitGroup
	provider    *oidc.Provider
	verifier    *oidc.IDTokenVerifier
	github      githubEndpoints // with GitHub
	idToken     string          // the ID token, or with GitHub the GitHub access token
	subject     string
	issuedAt    time.Time
	expires     time.Time
	refresh     string
	status      string
	nextRenewal time.Time
	lastRenewal time.Time
	renewals    int
	lastErr     *daemon.ErrorStatus
	attempt     *Attempt
	attempts    int
	cancelPoll  context.CancelFunc // stops the pending attempt's polling
	kept        string             // what the Store holds (keptLocked), as far as we know
	keepErr     *daemon.ErrorStatus
	version     chan struct{} // closed and replaced on every change (Wait)
	subs        []chan struct{}
	kick        chan struct{} // reschedule Run's renewal timer

	// refusedRenewal is the GitHub token a TokenRefused renewal got: if it
	// is refused too, the login ends rather than renewing again.
	refusedRenewal string
}

// New checks opts and returns a logged-out Session. Nothing is fetched
// until Start or a renewal.
func New(opts Options) (*Session, error) {
	var gh githubEndpoints
	if opts.GitHub {
		var err error
		if gh, err = githubOptions(&opts); err != nil {
			return nil, err
		}
	}
	if opts.Issuer == "" || opts.ClientID == "" {
		return nil, errors.New("login: Issuer and ClientID are required")
	}
	s := &Session{
		opts:    opts,
		github:  gh,
		client:  opts.HTTPClient,
		clock:   opts.Clock,
		log:     opts.Logger,
		status:  StatusLoggedOut,
		version: make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 30 * time.Second}
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "login", "issuer", opts.Issuer, "client_id", opts.ClientID)
	if s.opts.RenewBefore <= 0 {
		s.opts.RenewBefore = DefaultRenewBefore
	}
	if s.opts.MinValidity <= 0 {
		s.opts.MinValidity = DefaultMinValidity
	}
	if s.opts.RetryMax <= 0 {
		s.opts.RetryMax = DefaultRetryMax
	}
	s.scopes = []string{oidc.ScopeOpenID}
	scopes := opts.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	if opts.GitHub {
		s.scopes, scopes = nil, opts.Scopes // no OIDC: GitHub knows no openid
	}
	for _, sc := range scopes {
		if sc != "" && !slices.Contains(s.scopes, sc) {
			s.scopes = append(s.scopes, sc)
		}
	}
	return s, nil
}

// Name is the token source's name, as --token-source spells it.
func (s *Session) Name() string { return "login" }

// Source returns a token source over the session with its own Changed
// channel, so that every role fed by one login is told of each change.
func (s *Session) Source() *Source {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs = append(s.subs, c)
	s.mu.Unlock()
	return &Source{s: s, changed: c}
}

// Source is one role's view of a Session: a source.Source and a
// source.Notifier.
type Source struct {
	s       *Session
	changed chan struct{}
}

// Name is "login".
func (src *Source) Name() string { return src.s.Name() }

// Token is the session's current ID token; see Session.Token.
func (src *Source) Token(ctx context.Context) (string, error) { return src.s.Token(ctx) }

// Changed fires when a login completes, the ID token is renewed or the login
// ends, so the refresher looks again at once.
func (src *Source) Changed() <-chan struct{} { return src.changed }

// Session is the session behind the source.
func (src *Source) Session() *Session { return src.s }

// Token returns the current ID token, renewing it first when it has less
// than MinValidity left. With no usable login it returns a *daemon.Error
// with code LoginRequired (permanent) whose hint says to run `credd login`.
func (s *Session) Token(ctx context.Context) (string, error) {
	s.awaitResume(ctx)
	s.mu.Lock()
	tok, exp, canRenew, due := s.idToken, s.expires, s.refresh != "", s.nextRenewal
	s.mu.Unlock()
	// Renew now rather than at Run's next tick when the token is due for
	// it and has little left; never before half its life, so an IdP with
	// very short ID tokens cannot make every call renew. A GitHub token
	// without expiry is never renewed: it serves until TokenRefused.
	if now := s.clock.Now(); tok != "" && canRenew && !exp.IsZero() && !now.Before(due) && exp.Sub(now) < s.opts.MinValidity {
		s.renew(ctx)
		s.mu.Lock()
		tok, exp, canRenew = s.idToken, s.expires, s.refresh != ""
		s.mu.Unlock()
	}
	if tok != "" && ((s.opts.GitHub && exp.IsZero()) || s.clock.Now().Before(exp)) {
		return tok, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.tokenWords()
	if tok != "" && !canRenew && s.idToken == tok {
		// With no refresh token nothing is kept, so there is no file to erase.
		s.endLocked(loginRequired(w.noRefresh, nil))
	}
	if s.status == StatusResuming && s.lastErr != nil { // resume sets lastErr
		return "", &daemon.Error{Kind: daemon.KindRetryable, Code: CodeResuming, Message: s.lastErr.Message, Hint: s.lastErr.Hint}
	}
	if tok != "" && canRenew {
		return "", &daemon.Error{Kind: daemon.KindRetryable, Code: CodeRenewalFailed,
			Message: "the " + w.token + " expired and " + w.provider + " could not be reached to renew it",
			Hint:    "credd keeps trying; if this persists, " + w.check + ", or run `credd login`"}
	}
	if s.lastErr != nil && s.lastErr.Code == CodeLoginRequired {
		return "", &daemon.Error{Kind: daemon.KindPermanent, Code: CodeLoginRequired, Message: s.lastErr.Message, Hint: s.lastErr.Hint}
	}
	msg := "login required: nobody has logged in to " + s.opts.Issuer + " yet"
	if s.attempt != nil && s.attempt.Status == AttemptPending {
		msg = "login required: a login is waiting for approval at " + s.attempt.VerificationURI
	}
	return "", &daemon.Error{Kind: daemon.KindPermanent, Code: CodeLoginRequired, Message: msg, Hint: "run `credd login`"}
}

// tokenWords are how Token's errors name the token and its provider.
type tokenWords struct{ token, provider, check, noRefresh string }

func (s *Session) tokenWords() tokenWords {
	if s.opts.GitHub {
		return tokenWords{"GitHub token", "GitHub", "check the network and --github-url",
			"the GitHub token expired and GitHub gave no refresh token to renew it"}
	}
	return tokenWords{"ID token", "the IdP", "check the IdP",
		"the ID token expired and the IdP gave no refresh token to renew it (ask for the offline_access scope with --scopes if your IdP needs it)"}
}

// awaitResume waits, within ctx, while a kept login is being renewed at
// start, so that the first STS attempt gets the resumed ID token rather
// than an error.
func (s *Session) awaitResume(ctx context.Context) {
	for {
		s.mu.Lock()
		resuming, ch := s.status == StatusResuming, s.version
		s.mu.Unlock()
		if !resuming {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

func loginRequired(why string, err error) *daemon.Error {
	return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeLoginRequired,
		Message: "login required: " + why, Hint: "run `credd login`", Err: err}
}

// State returns a snapshot.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

func (s *Session) stateLocked() State {
	st := State{
		Issuer:         s.opts.Issuer,
		ClientID:       s.opts.ClientID,
		Provider:       s.providerName(),
		Status:         s.status,
		Subject:        s.subject,
		IDTokenExpires: s.expires,
		CanRenew:       s.refresh != "",
		NextRenewal:    s.nextRenewal,
		LastRenewal:    s.lastRenewal,
		Renewals:       s.renewals,
		LastError:      s.lastErr,
		Kept:           s.opts.Store != nil && s.kept != "",
		KeepError:      s.keepErr,
	}
	// A GitHub token without expiry (zero) stays valid until refused.
	if st.Status == StatusLoggedIn && !s.expires.IsZero() && !s.clock.Now().Before(s.expires) && s.refresh == "" {
		st.Status = StatusLoginRequired
	}
	if s.attempt != nil {
		a := *s.attempt
		st.Login = &a
	}
	return st
}

// Wait blocks until the attempt with the given ID is no longer pending, or
// ctx ends, and returns the state then.
func (s *Session) Wait(ctx context.Context, attempt int) State {
	for {
		s.mu.Lock()
		st := s.stateLocked()
		ch := s.version
		s.mu.Unlock()
		if st.Login == nil || st.Login.ID != attempt || st.Login.Status != AttemptPending {
			return st
		}
		select {
		case <-ctx.Done():
			return st
		case <-ch:
		}
	}
}

// changedLocked wakes Wait callers and, when the token may have changed,
// every role's source.
func (s *Session) changedLocked(tokenChanged bool) {
	close(s.version)
	s.version = make(chan struct{})
	if tokenChanged {
		for _, c := range s.subs {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
}

// endLocked drops the tokens: the login can no longer be used.
func (s *Session) endLocked(e *daemon.Error) {
	s.idToken, s.refresh = "", ""
	s.status = StatusLoginRequired
	s.nextRenewal = time.Time{}
	s.lastErr = errorStatus(e, s.clock.Now())
	s.changedLocked(true)
}

// errorStatus is e as the session reports it. A login is a token source,
// so that is the stage its failures happened at.
func errorStatus(e *daemon.Error, at time.Time) *daemon.ErrorStatus {
	return daemon.AtStage(daemon.StageTokenSource, e).Status(at)
}

func (s *Session) httpContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.client)
}

// discover fetches the IdP's OIDC discovery document once.
func (s *Session) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	s.mu.Lock()
	p, v := s.provider, s.verifier
	s.mu.Unlock()
	if p != nil {
		return p, v, nil
	}
	p, err := oidc.NewProvider(s.httpContext(context.WithoutCancel(ctx)), s.opts.Issuer)
	if err != nil {
		return nil, nil, &daemon.Error{Kind: daemon.KindRetryable, Code: CodeDiscoveryFailed,
			Message: "cannot read the OIDC discovery document of " + s.opts.Issuer + ": " + redact.String(err.Error()),
			Hint:    "check --issuer: it must be exactly the issuer URL that the IdP's discovery document and ID tokens name (a trailing slash counts), serving /.well-known/openid-configuration", Err: err}
	}
	v = p.Verifier(&oidc.Config{ClientID: s.opts.ClientID, Now: s.clock.Now})
	s.mu.Lock()
	s.provider, s.verifier = p, v
	s.mu.Unlock()
	return p, v, nil
}

func (s *Session) oauthConfig(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	if s.opts.ClientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams // a public client sends only its client_id
	}
	return &oauth2.Config{ClientID: s.opts.ClientID, ClientSecret: s.opts.ClientSecret, Endpoint: ep, Scopes: s.scopes}
}

// Start begins a device-code login and returns the state with the
// verification URL and user code. While one is pending it returns that one,
// so every `credd login` in the container shows the same code. ctx bounds
// only the device authorization request; the polling runs until the code
// is approved, refused or expired, or Run's context ends.
func (s *Session) Start(ctx context.Context) (State, error) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.mu.Lock()
	runCtx, pending := s.runCtx, s.attempt != nil && s.attempt.Status == AttemptPending
	s.mu.Unlock()
	if pending {
		return s.State(), nil
	}
	if runCtx == nil || runCtx.Err() != nil {
		return State{}, errors.New("login: the session is not running")
	}
	if s.opts.GitHub {
		return s.startGitHub(ctx, runCtx)
	}
	p, verifier, err := s.discover(ctx)
	if err != nil {
		return State{}, err
	}
	cfg := s.oauthConfig(p)
	if cfg.Endpoint.DeviceAuthURL == "" {
		return State{}, &daemon.Error{Kind: daemon.KindPermanent, Code: CodeDeviceFlowUnsupported,
			Message: s.opts.Issuer + " advertises no device_authorization_endpoint",
			Hint:    "enable the device authorization grant at the IdP, or use another --token-source"}
	}
	var opts []oauth2.AuthCodeOption
	if s.opts.ClientSecret != "" {
		opts = append(opts, oauth2.SetAuthURLParam("client_secret", s.opts.ClientSecret))
	}
	da, err := cfg.DeviceAuth(s.httpContext(ctx), opts...)
	if err != nil {
		return State{}, classify("the IdP refused to start a device login", err)
	}
	a := Attempt{
		UserCode:                da.UserCode,
		VerificationURI:         da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete,
		Expires:                 da.Expiry,
	}
	return s.beginAttempt(runCtx, a, func(ctx context.Context, id int) { s.poll(ctx, cfg, verifier, da, id) }), nil
}

// beginAttempt makes a the pending device login and runs poll for it under
// Run's context, until it ends or a logout cancels it.
func (s *Session) beginAttempt(runCtx context.Context, a Attempt, poll func(ctx context.Context, id int)) State {
	s.mu.Lock()
	s.attempts++
	a.ID, a.Status, a.StartedAt = s.attempts, AttemptPending, s.clock.Now()
	s.attempt = &a
	pollCtx, cancel := context.WithCancel(runCtx)
	s.cancelPoll = cancel
	s.changedLocked(false)
	st := s.stateLocked()
	s.wg.Add(1)
	s.mu.Unlock()
	l := st.Login // a copy: the attempt itself changes under s.mu
	s.log.Info("device login started", "attempt", l.ID, "verification_uri", l.VerificationURI, "user_code", l.UserCode, "expires", l.Expires)
	go func() {
		defer s.wg.Done()
		defer cancel()
		poll(pollCtx, l.ID)
	}()
	return st
}

// poll waits for the user's approval. golang.org/x/oauth2 polls at the
// interval the IdP gave (5 s if none), keeps polling on
// authorization_pending, adds 5 s to the interval on every slow_down as
// RFC 8628 §3.5 requires, and stops at the code's expiry.
func (s *Session) poll(ctx context.Context, cfg *oauth2.Config, verifier *oidc.IDTokenVerifier, da *oauth2.DeviceAuthResponse, id int) {
	var tok *oauth2.Token
	var err error
	for {
		tok, err = cfg.DeviceAccessToken(s.httpContext(ctx), da)
		if ctx.Err() != nil {
			return // the daemon is stopping, or a logout canceled the attempt
		}
		var re *oauth2.RetrieveError
		if err == nil || errors.As(err, &re) || !time.Now().Before(da.Expiry) {
			break
		}
		// A network blip: x/oauth2 gives up on it, but the code is still
		// valid, so poll on (DeviceAccessToken waits an interval first).
		s.log.Warn("device login poll failed; polling on", "attempt", id, "err", err)
	}
	status, e := AttemptApproved, (*daemon.Error)(nil)
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
	case errors.As(err, &re) && re.ErrorCode == "access_denied":
		status, e = AttemptDenied, &daemon.Error{Kind: daemon.KindPermanent, Code: CodeDenied,
			Message: "the login was denied at the IdP", Hint: "run `credd login` again and approve it"}
	case errors.As(err, &re) && re.ErrorCode == "expired_token", !time.Now().Before(da.Expiry):
		status, e = AttemptExpired, &daemon.Error{Kind: daemon.KindPermanent, Code: CodeExpired,
			Message: "the code expired before the login was approved", Hint: "run `credd login` again and approve it sooner"}
	default:
		status, e = AttemptFailed, classify("the device login failed", err)
	}
	var idt *oidc.IDToken
	var raw string
	if e == nil {
		raw, idt, e = s.idTokenFrom(ctx, verifier, tok)
		if e != nil {
			status = AttemptFailed
		}
	}
	now := s.clock.Now()
	s.mu.Lock()
	if s.attempt == nil || s.attempt.ID != id || s.attempt.Status != AttemptPending {
		s.mu.Unlock()
		return // a logout canceled it while the answer was on its way
	}
	s.attempt.Status, s.attempt.EndedAt = status, now
	if e != nil {
		s.attempt.Error = errorStatus(e, now)
	}
	if e == nil {
		s.setTokenLocked(raw, idt, tok.RefreshToken)
		s.lastErr = nil
	}
	s.changedLocked(e == nil)
	s.mu.Unlock()
	if e != nil {
		s.log.Warn("device login ended", "attempt", id, "result", status, "err", e.Error())
		return
	}
	s.log.Info("device login approved", "attempt", id, "sub", idt.Subject, "id_token_expires", idt.Expiry, "renewable", tok.RefreshToken != "")
	s.keep()
	s.wake()
}

// idTokenFrom takes the ID token out of a token response and verifies it
// (signature, issuer, audience = client ID, expiry). STS gets this ID
// token, never the access token.
func (s *Session) idTokenFrom(ctx context.Context, verifier *oidc.IDTokenVerifier, tok *oauth2.Token) (string, *oidc.IDToken, *daemon.Error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", nil, loginRequired("the IdP answered without an ID token (is the openid scope allowed for this client?)", nil)
	}
	idt, err := verifier.Verify(s.httpContext(ctx), raw)
	if err != nil {
		return "", nil, loginRequired("the IdP's ID token did not verify: "+redact.String(err.Error()), err)
	}
	return raw, idt, nil
}

func (s *Session) setTokenLocked(raw string, idt *oidc.IDToken, refresh string) {
	s.idToken, s.subject, s.expires = raw, idt.Subject, idt.Expiry
	s.issuedAt = idt.IssuedAt
	if s.issuedAt.IsZero() || s.issuedAt.After(s.clock.Now()) {
		s.issuedAt = s.clock.Now()
	}
	if refresh != "" {
		s.refresh = refresh
	}
	s.status = StatusLoggedIn
	s.nextRenewal = time.Time{}
	if s.refresh != "" {
		s.nextRenewal = renewAt(s.issuedAt, s.expires, s.opts.RenewBefore)
	}
}

// renewAt is max(RenewBefore, L/5) before expiry, but no earlier than
// half-life.
func renewAt(iat, exp time.Time, before time.Duration) time.Time {
	life := exp.Sub(iat)
	at := exp.Add(-max(before, life/5))
	if half := iat.Add(life / 2); at.Before(half) {
		at = half
	}
	return at
}

// classify sorts an IdP error: an OAuth error answer is permanent, network
// trouble and 5xx are retryable. What the IdP wrote is redacted: an
// error_description may echo the refresh token or the client secret.
func classify(what string, err error) *daemon.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeIdPUnavailable,
				Message: fmt.Sprintf("%s: the IdP answered %s", what, redact.String(re.Response.Status)), Err: err}
		}
		msg := what + ": " + redact.String(cmpOr(re.ErrorCode, "error"))
		if re.ErrorDescription != "" {
			msg += " (" + redact.String(re.ErrorDescription) + ")"
		}
		hint := "check --client-id and that the device authorization grant is enabled for this client at the IdP"
		if re.ErrorCode == "invalid_scope" {
			hint = "the IdP refused a scope: set --scopes to what it allows (e.g. \"openid\" without offline_access)"
		}
		return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeIdPRefused, Message: msg, Hint: hint, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeIdPUnreachable,
			Message: what + ": the IdP could not be reached: " + redact.String(err.Error()), Hint: "check the network and --issuer", Err: err}
	}
	// x/oauth2 puts an answer it could not parse, body and all, in err.
	return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeIdPError, Message: what + ": " + redact.String(err.Error()), Err: err}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// renew trades the refresh token for a new ID token. A refusal ends the
// login (LoginRequired); a transient failure leaves the session as it is
// and returns the error so Run retries. What it learns is kept (Store):
// a rotated refresh token is saved, an ended login erased.
func (s *Session) renew(ctx context.Context) error {
	s.renewMu.Lock()
	defer s.renewMu.Unlock()
	s.mu.Lock()
	rt, resuming := s.refresh, s.status == StatusResuming
	s.mu.Unlock()
	if rt == "" {
		return nil
	}
	if s.clock.Now().Before(s.nextRenewalTime()) {
		return nil // renewed by someone else meanwhile
	}
	if s.opts.GitHub {
		return s.renewGitHub(ctx, rt, resuming)
	}
	p, verifier, err := s.discover(ctx)
	if err != nil {
		return s.renewFailed(rt, err)
	}
	tok, err := s.oauthConfig(p).TokenSource(s.httpContext(ctx), &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		e := classify("the IdP did not renew the login", err)
		if e.Kind != daemon.KindPermanent {
			return s.renewFailed(rt, e)
		}
		s.end(rt, refused(resuming, e, err))
		s.log.Warn("login renewal refused; run credd login", "resuming", resuming, "err", e.Error())
		return e
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		return s.renewedWithoutIDToken(rt, tok.RefreshToken)
	}
	raw, idt, e := s.idTokenFrom(ctx, verifier, tok)
	if e != nil {
		s.end(rt, e)
		s.log.Warn("login renewal gave no usable ID token; run credd login", "err", e.Error())
		return e
	}
	now := s.clock.Now()
	s.mu.Lock()
	if s.refresh != rt {
		// A logout or a new device login replaced the token meanwhile:
		// what this renewal got belongs to a login that is gone.
		s.mu.Unlock()
		return nil
	}
	s.setTokenLocked(raw, idt, tok.RefreshToken)
	s.renewals++
	s.lastRenewal = now
	s.lastErr = nil
	s.changedLocked(true)
	s.mu.Unlock()
	s.keep()
	msg := "ID token renewed"
	if resuming {
		msg = "kept login resumed"
	}
	s.log.Info(msg, "sub", idt.Subject, "id_token_expires", idt.Expiry, "refresh_token_rotated", tok.RefreshToken != "" && tok.RefreshToken != rt)
	return nil
}

// renewedWithoutIDToken takes a refresh answer without an ID token, which
// OpenID Connect Core 1.0 §12.2 allows ("it might not contain an
// id_token"): the new refresh token is kept, and so is the current ID
// token, used until it expires. Renewal is tried again shortly before
// then and at expiry; only an ID token that has expired (or none, when a
// kept login resumes) with still no new one ends the login.
func (s *Session) renewedWithoutIDToken(rt, newRT string) error {
	now := s.clock.Now()
	s.mu.Lock()
	if s.refresh != rt {
		s.mu.Unlock()
		return nil // a logout or a new login replaced this one meanwhile
	}
	if s.idToken == "" || !now.Before(s.expires) {
		s.mu.Unlock()
		e := &daemon.Error{Kind: daemon.KindPermanent, Code: CodeLoginRequired,
			Message: "login required: the IdP renewed the login without an ID token, and no unexpired one is left to use",
			Hint:    "run `credd login`: this IdP does not send an ID token when renewing (OpenID Connect Core 1.0 §12.2 allows that), so each login lasts as long as its ID token; if the IdP can be set to return one on refresh, do so"}
		s.end(rt, e)
		s.log.Warn("login renewal gave no ID token and the last one has expired; run credd login")
		return e
	}
	if newRT != "" {
		s.refresh = newRT
	}
	s.status = StatusLoggedIn
	s.nextRenewal = s.expires.Add(-s.opts.MinValidity)
	if !s.nextRenewal.After(now) {
		s.nextRenewal = s.expires
	}
	s.lastErr = nil
	s.changedLocked(false)
	exp := s.expires
	s.mu.Unlock()
	s.keep()
	s.log.Info("login renewed without a new ID token; the current one is used until it expires",
		"id_token_expires", exp, "refresh_token_rotated", newRT != "" && newRT != rt)
	return nil
}

// refused is the LoginRequired error of a refresh token the IdP refused.
func refused(resuming bool, e *daemon.Error, err error) *daemon.Error {
	why := strings.TrimPrefix(e.Message, "the IdP did not renew the login: ")
	if resuming {
		return loginRequired("the IdP refused the kept login ("+why+")", err)
	}
	return loginRequired("the IdP refused to renew the login ("+why+")", err)
}

// end ends the login whose refresh token is rt, unless another login
// replaced it meanwhile, and erases it from the Store.
func (s *Session) end(rt string, e *daemon.Error) {
	s.mu.Lock()
	if s.refresh == rt {
		s.endLocked(e)
	}
	s.mu.Unlock()
	s.keep()
}

func (s *Session) nextRenewalTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextRenewal
}

func (s *Session) renewFailed(rt string, err error) error {
	e := daemon.AsError(err)
	s.mu.Lock()
	if s.refresh == rt { // else a logout's or a new login's state stands
		shown := e
		if s.status == StatusResuming {
			shown = &daemon.Error{Kind: e.Kind, Code: CodeResuming, Message: "resuming the kept login to " + s.opts.Issuer + ": " + e.Message,
				Hint: cmpOr(e.Hint, "credd keeps trying; if the IdP stays unreachable, check it, or run `credd login`")}
		}
		s.lastErr = errorStatus(shown, s.clock.Now())
		s.changedLocked(false)
	}
	s.mu.Unlock()
	s.log.Warn("login renewal failed; will retry", "err", e.Error())
	return e
}

func (s *Session) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run renews the ID token before it expires until ctx ends, retrying
// transient failures with capped backoff. It returns nil on cancel, after
// any device login in flight has stopped.
func (s *Session) Run(ctx context.Context) error {
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	defer s.wg.Wait()
	s.resumed.Do(s.resume)
	failures := 0
	for {
		s.mu.Lock()
		next, canRenew := s.nextRenewal, s.refresh != ""
		s.mu.Unlock()
		var timer clock.Timer
		var fire <-chan time.Time
		if canRenew && !next.IsZero() {
			d := next.Sub(s.clock.Now())
			if failures > 0 {
				d = min(time.Second<<min(failures-1, 10), s.opts.RetryMax)
			}
			timer = s.clock.NewTimer(max(d, 0))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case <-s.kick:
			if timer != nil {
				timer.Stop()
			}
			failures = 0
			continue
		case <-fire:
		}
		err := s.renew(ctx)
		switch {
		case err == nil:
			failures = 0
		case daemon.KindOf(err) == daemon.KindPermanent:
			failures = 0
		default:
			failures++
		}
	}
}
