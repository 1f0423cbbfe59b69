// Package agent is credd's composition root: it wires the configuration,
// token sources, STS client, refreshers, endpoint and control socket, and
// owns their lifetimes. Tests import it to run the real wiring in process.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/login"
	"github.com/credd-dev/credd/daemon/refresh"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/server"
	"github.com/credd-dev/credd/daemon/source"
	"github.com/credd-dev/credd/daemon/sts"
	"github.com/credd-dev/credd/daemon/token"
)

// Options configure an Agent. Zero values mean the documented defaults.
type Options struct {
	// Config may hold no role: the daemon then serves 503 NoRoleConfigured
	// until a reload brings one, and NoRole says why in status.
	Config config.Config
	NoRole string
	// Session is the handed-off session environment Config was resolved
	// with: the one kept from before a restart (LoadHandOff), or nil.
	Session map[string]string
	Version string
	Logger  *slog.Logger
	Getenv  func(string) string
	Clock   clock.Clock
	// Sandbox serves roles whose token source is "sandbox". When nil and
	// such a role exists, Start runs an embedded sandbox.
	Sandbox *sandbox.Sandbox
	// SandboxLifetime caps the lifetime of credentials the embedded sandbox
	// issues (tests and demos of refresh); 0 means what was asked for.
	SandboxLifetime time.Duration
	// Refresh tunes every role's refresher (timing, jitter, randomness),
	// for tests that compress time; the zero value keeps the production
	// defaults. Its Source, Exchanger, Clock, Logger and Name are set by
	// the agent for each role.
	Refresh refresh.Config
	// STSAttemptTimeout bounds each STS call; 0 = sts.DefaultAttemptTimeout.
	STSAttemptTimeout time.Duration
	// ECSPollInterval is how often a followed task definition is asked
	// for its latest revision; 0 = ecstask's default. Tests shorten it.
	ECSPollInterval time.Duration
	// Resolve resolves the settings again with a handed-off session
	// environment (nil = none), for Reload: the daemon keeps its parsed
	// flags in it. nil = the daemon cannot reload.
	Resolve func(session map[string]string) (config.Config, error)
}

// shutdownGrace is how long Run lets requests in flight finish on stop: more
// than server.DefaultAwaitTimeout, the longest a request waits.
const shutdownGrace = time.Second

// Agent is a running credd daemon.
type Agent struct {
	opts      Options
	log       *slog.Logger
	startedAt time.Time

	// reloadMu serialises reloads. mu guards what a reload changes and
	// what Status, Run and the switch-over goroutines read.
	reloadMu   sync.Mutex
	mu         sync.Mutex
	noRole     string  // why no role is served, while none is
	slots      []*slot // the served roles, in configuration order
	cfg        config.Config
	session    map[string]string // the handed-off session environment
	lastReload *daemon.ReloadStatus
	runCtx     context.Context // nil until Run; roles start under it
	stopped    bool            // Run is stopping: start nothing more
	roleWG     sync.WaitGroup  // role and login goroutines, awaited by Run
	runLogins  map[*loginEntry]bool

	authToken  string
	handler    *server.Handler
	httpServer *http.Server
	listener   net.Listener
	url        string

	control         *control.Server
	controlListener net.Listener

	sandbox     *sandbox.Sandbox
	ownsSandbox bool

	logins []*loginEntry // one per issuer and client ID (login.go)

	ecs *ecsMirror // the mirrored ECS task definition; nil = none (ecs.go)
}

// slot is one served path: the role serving it and, after a reload that
// changed its settings, the rebuilt role that takes over once it has
// credentials.
type slot struct {
	name            string
	active, pending *role
}

type role struct {
	// resolved is the role as configured, compared on reload; cfg has the
	// sandbox's defaults filled in.
	resolved  config.Role
	cfg       config.Role
	source    *source.Checked
	watcher   watcher
	refresher *refresh.Refresher
	login     *login.Session
	cancel    context.CancelFunc // stops the role's goroutines; nil until started
}

// watcher is a token source that can tell when its token changed.
type watcher interface {
	Watch(ctx context.Context) error
	Changed() <-chan struct{}
}

// Start builds every part and binds the endpoint and the control socket, so
// "port in use" or "already running" surfaces at once. No token is fetched
// and neither the endpoint nor the control socket answers until Run; only
// the embedded sandbox, which a sandbox role starts here, serves already.
func Start(ctx context.Context, opts Options) (_ *Agent, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	a := &Agent{opts: opts, log: opts.Logger, startedAt: opts.Clock.Now(), sandbox: opts.Sandbox,
		cfg: opts.Config, runLogins: map[*loginEntry]bool{}, noRole: opts.NoRole, session: opts.Session}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	for _, rc := range opts.Config.Roles {
		r, err := a.buildRole(ctx, rc)
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", rc.Name, err)
		}
		a.slots = append(a.slots, &slot{name: rc.Name, active: r})
	}
	a.mu.Lock()
	a.relinkLogins()
	a.mu.Unlock()

	// The control socket first: a second daemon must fail before it can
	// touch the token file of the first.
	if a.controlListener, err = control.Listen(opts.Config.StateDir); err != nil {
		return nil, err
	}
	// The port next, before a token is chosen: if another user holds it,
	// SDKs may have sent it the token, which must then not be served again.
	if a.listener, err = server.Listen(opts.Config.Listen); err != nil {
		var inUse *server.PortInUseError
		if errors.As(err, &inUse) && inUse.OtherUser() {
			if _, rerr := authtoken.New(opts.Config.StateDir); rerr != nil {
				return nil, fmt.Errorf("%w (and the token could not be replaced: %v)", err, rerr)
			}
		}
		return nil, err
	}
	tok, created, err := a.authorizationToken()
	if err != nil {
		return nil, err
	}
	a.authToken = tok
	a.handler, err = server.New(server.Config{
		Roles:     a.providers(),
		Token:     tok,
		TokenFile: authtoken.Path(opts.Config.StateDir),
		Clock:     opts.Clock,
		Logger:    opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	a.url = server.URL(a.listener)
	if opts.Config.ECS != nil {
		if a.ecs, err = a.buildECS(opts.Config.ECS); err != nil {
			return nil, err
		}
	}
	a.httpServer = server.NewHTTPServer(a.handler, opts.Logger)
	// Bound open connections so that no local process can exhaust the
	// daemon's descriptors or lock others out, and no request is dropped.
	a.listener = server.LimitConns(a.httpServer, a.listener, server.ConnLimits{})
	a.control = control.NewServer(a, opts.Logger)
	a.routeLogin()
	a.routeReload()
	a.routeECS()
	for _, s := range a.slots {
		a.logRole(s.active)
	}
	a.log.Info("credd listening", "component", "agent", "endpoint", a.url, "state_dir", opts.Config.StateDir,
		"authorization_token_file", filepath.Join(opts.Config.StateDir, authtoken.FileName), "token_created", created)
	return a, nil
}

// authorizationToken returns the token to serve with: a new one at every
// start, or with --keep-token (a supervised restart of a daemon that died)
// the previous one, so shells that read it once keep working. The window
// that trade leaves: a process of another user that bound the port while
// the daemon was down, collected tokens and let go before the restart.
// One still holding the port is caught by Listen, and the token replaced.
func (a *Agent) authorizationToken() (tok string, created bool, err error) {
	if a.opts.Config.KeepToken {
		return authtoken.LoadOrCreate(a.opts.Config.StateDir)
	}
	tok, err = authtoken.New(a.opts.Config.StateDir)
	return tok, err == nil, err
}

// logRole logs a role's settings; secrets (client secret, SourceEnv) never.
func (a *Agent) logRole(r *role) {
	a.log.Info("role configured", "component", "agent", "role", r.cfg.Name, "role_arn", r.cfg.RoleARN,
		"token_source", r.cfg.TokenSource, "because", r.cfg.SourceReason, "session_name", r.cfg.SessionName,
		"duration", r.cfg.Duration, "sts_endpoint", r.cfg.STSEndpoint, "region", r.cfg.Region)
	for _, w := range config.CleartextRole(r.cfg) {
		a.log.Warn(w.Message, "component", "agent", "role", w.Role, "fix", w.Fix)
	}
}

// providers maps each served path's name to the role serving it. Called
// with a.mu held, or before Run.
func (a *Agent) providers() map[string]server.Provider {
	m := make(map[string]server.Provider, len(a.slots))
	for _, s := range a.slots {
		m[s.name] = s.active.refresher
	}
	return m
}

func (a *Agent) buildRole(ctx context.Context, rc config.Role) (*role, error) {
	r := &role{resolved: rc, cfg: rc}
	b, err := a.buildSource(ctx, &rc)
	if err != nil {
		return nil, err
	}
	r.cfg, r.login = rc, b.login
	if w, ok := b.src.(watcher); ok {
		r.watcher = w
	}
	r.source = source.NewChecked(b.src, token.Checks{Audience: b.audience, Issuer: rc.Issuer, Now: a.opts.Clock.Now})

	stsCfg := r.stsConfig()
	// 0 keeps the default; tests shorten it to provoke timeouts.
	stsCfg.AttemptTimeout = a.opts.STSAttemptTimeout
	exchanger, err := sts.New(stsCfg)
	if err != nil {
		return nil, err
	}
	// Every tuning field of Options.Refresh is kept; the wiring is the agent's.
	rcfg := a.opts.Refresh
	rcfg.Source, rcfg.Exchanger, rcfg.Clock, rcfg.Logger, rcfg.Name = r.source, exchanger, a.opts.Clock, a.log, rc.Name
	r.refresher, err = refresh.New(rcfg)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (a *Agent) ensureSandbox(ctx context.Context) (*sandbox.Sandbox, error) {
	if a.sandbox != nil {
		return a.sandbox, nil
	}
	// Not bound to ctx: a reload's request context ends with the request,
	// and the sandbox serves until the agent closes it.
	sb, err := sandbox.Start(context.WithoutCancel(ctx), sandbox.Options{
		Issuer: sandbox.IssuerOptions{Logger: a.log},
		STS:    sandbox.STSOptions{Logger: a.log, MaxLifetime: a.opts.SandboxLifetime},
	})
	if err != nil {
		return nil, fmt.Errorf("start the sandbox: %w", err)
	}
	a.mu.Lock()
	a.sandbox, a.ownsSandbox = sb, true
	a.mu.Unlock()
	a.log.Info("sandbox running", "component", "agent", "issuer", sb.IssuerURL, "sts", sb.STSURL)
	return sb, nil
}

// Run serves until ctx is done, then stops gracefully: the endpoint drains,
// the socket is removed, credentials are dropped; the token file is kept
// because old clients read it only once.
func (a *Agent) Run(ctx context.Context) error {
	defer a.close()
	g, ctx := errgroup.WithContext(ctx)
	a.mu.Lock()
	a.runCtx = ctx
	for _, s := range a.slots {
		a.startSlot(s)
	}
	a.startLogins()
	a.startECS()
	a.mu.Unlock()
	g.Go(func() error {
		if err := a.httpServer.Serve(a.listener); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("endpoint: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		// Requests are answered from memory or give up within the
		// cold-start window, so a short grace lets them finish. A connection
		// that never sent a request (net/http waits 5s for those) is then
		// dropped: stopping stays fast and is not an error.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := a.httpServer.Shutdown(shutdownCtx); err != nil {
			a.httpServer.Close()
		}
		return nil
	})
	g.Go(func() error { return a.control.Serve(ctx, a.controlListener) })
	err := g.Wait()
	// The roles run under ctx, which Wait has ended; a reload racing the
	// stop must not start more.
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
	if !waitFor(&a.roleWG, roleStopGrace) {
		// Only a call that ignores its context can hold one (a read
		// stuck in the kernel, say): not a reason to outlive SIGTERM.
		a.log.Warn("stopping without waiting further for a role's goroutines", "component", "agent", "waited", roleStopGrace)
	}
	a.log.Info("credd stopped")
	return err
}

// roleStopGrace bounds how long Run waits for the roles' goroutines once
// stopping. They return at once when their context ends.
const roleStopGrace = time.Second

// waitFor waits for wg, or for d: it reports whether wg is done.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// goRole runs fn as one of the roles' goroutines. Called with a.mu held.
func (a *Agent) goRole(fn func()) {
	a.roleWG.Add(1)
	go func() {
		defer a.roleWG.Done()
		fn()
	}()
}

// startSlot starts a slot's roles that are not running yet. Called with
// a.mu held; before Run it does nothing, and Run starts them.
func (a *Agent) startSlot(s *slot) {
	for _, r := range []*role{s.active, s.pending} {
		if r != nil && r.cancel == nil {
			a.startRole(s, r)
		}
	}
}

// startRole runs a role's refresher and watcher under a context
// of its own, so a reload can stop one role and leave the others be.
func (a *Agent) startRole(s *slot, r *role) {
	if a.runCtx == nil || a.stopped {
		return
	}
	ctx, cancel := context.WithCancel(a.runCtx)
	r.cancel = cancel
	log := a.log.With("component", "agent", "role", r.cfg.Name)
	a.goRole(func() {
		if err := r.refresher.Run(ctx); err != nil {
			log.Error("refresher stopped", "err", err)
		}
	})
	if r.watcher != nil {
		a.goRole(func() {
			if err := r.watcher.Watch(ctx); err != nil {
				log.Error("token watcher stopped", "err", err)
			}
		})
	}
	if s.pending == r {
		a.goRole(func() { a.awaitSwitch(ctx, s, r) })
	}
}

// stopRole ends a role's goroutines; its refresher is dropped with it.
func stopRole(r *role) {
	if r != nil && r.cancel != nil {
		r.cancel()
	}
}

// startLogins runs the login sessions not running yet (a reload may add
// one). Called with a.mu held.
func (a *Agent) startLogins() {
	if a.runCtx == nil || a.stopped {
		return
	}
	for _, e := range a.logins {
		if a.runLogins[e] {
			continue
		}
		a.runLogins[e] = true
		ctx := a.runCtx
		a.goRole(func() {
			if err := e.sess.Run(ctx); err != nil {
				a.log.Error("login session stopped", "component", "agent", "err", err)
			}
		})
	}
}

func (a *Agent) close() {
	if a.listener != nil {
		a.listener.Close()
	}
	if a.controlListener != nil {
		a.controlListener.Close()
	}
	if a.ownsSandbox && a.sandbox != nil {
		a.sandbox.Close()
	}
}

// URL is the advertised credentials URL of the default role.
func (a *Agent) URL() string { return a.url }

// AuthToken is the endpoint's authorization token.
func (a *Agent) AuthToken() string { return a.authToken }

// Sandbox is the sandbox in use, or nil.
func (a *Agent) Sandbox() *sandbox.Sandbox {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sandbox
}

// Status reports the daemon's state; it never holds a secret.
func (a *Agent) Status() daemon.Status {
	st := daemon.Status{
		SchemaVersion: daemon.StatusVersion,
		Version:       a.opts.Version,
		PID:           os.Getpid(),
		StartedAt:     a.startedAt,
		Now:           a.opts.Clock.Now(),
		Endpoint:      a.url,
		StateDir:      a.opts.Config.StateDir,
		TokenFile:     filepath.Join(a.opts.Config.StateDir, authtoken.FileName),
		Requests:      a.handler.Counts(),
		Clients:       a.handler.Clients(),
		Refusals:      a.handler.Refusals(),
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sandbox != nil {
		st.Sandbox = &daemon.SandboxStatus{IssuerURL: a.sandbox.IssuerURL, STSURL: a.sandbox.STSURL}
	}
	for _, s := range a.slots {
		rs := s.active.status()
		if s.pending != nil {
			next := s.pending.status()
			rs.Next = &next
		}
		st.Roles = append(st.Roles, rs)
	}
	if len(a.slots) == 0 {
		st.NoRole = a.noRole
	}
	st.HandedOff = slices.Sorted(maps.Keys(a.session))
	if a.lastReload != nil {
		lr := *a.lastReload
		st.LastReload = &lr
	}
	st.ECS = a.ecsStatus()
	return st
}

// stsConfig is the role's STS client configuration.
func (r *role) stsConfig() sts.Config {
	return sts.Config{
		RoleARN:      r.cfg.RoleARN,
		SessionName:  r.cfg.SessionName,
		Duration:     r.cfg.Duration,
		Region:       r.cfg.Region,
		Endpoint:     r.cfg.STSEndpoint,
		UseFIPS:      r.cfg.UseFIPS,
		UseDualStack: r.cfg.UseDualStack,
	}
}

func (r *role) status() daemon.RoleStatus {
	s := r.refresher.State()
	rs := daemon.RoleStatus{
		Name:        r.cfg.Name,
		Path:        r.cfg.Path(),
		RoleARN:     r.cfg.RoleARN,
		SessionName: r.cfg.SessionName,
		TokenSource: r.cfg.TokenSource,
		Duration:    daemon.Duration(r.cfg.Duration),
		Serving:     s.Serving,
		NextRefresh: s.NextRefresh,
		LastAttempt: s.LastAttempt,
		LastSuccess: s.LastSuccess,
		LastError:   s.LastError,
		STSCalls:    s.Attempts,
		Claims:      r.source.LastClaims(),
		STSEndpoint: sts.EndpointURL(r.stsConfig()),
		Audience:    r.cfg.Audience,
		Settings:    r.cfg.Settings(),
	}
	if c := s.Credentials; c != nil {
		rs.AssumedRoleARN, rs.AccountID = c.AssumedRoleARN, c.AccountID
		rs.Expiration, rs.Obtained = c.Expiration, c.Obtained
	}
	r.loginStatus(&rs)
	return rs
}
