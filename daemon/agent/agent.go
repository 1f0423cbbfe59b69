// Package agent is credd's composition root: it wires the configuration,
// token sources, STS client, refreshers, endpoint and control socket, and
// owns their lifetimes. Tests import it to run the real wiring in process.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	Config  config.Config
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
	// Refresh tunes every role's refresher, for tests that compress time:
	// its non-zero BackoffBase, BackoffMax, PermanentPause, AttemptTimeout,
	// MaxNewTokenTries and Jitter replace the defaults; its other fields are
	// ignored. The zero value keeps the production defaults.
	Refresh refresh.Config
	// STSAttemptTimeout bounds each STS call; 0 = sts.DefaultAttemptTimeout.
	STSAttemptTimeout time.Duration
}

// shutdownGrace is how long Run lets requests in flight finish on stop: more
// than server.DefaultAwaitTimeout, the longest a request waits.
const shutdownGrace = time.Second

// Agent is a running credd daemon.
type Agent struct {
	opts      Options
	log       *slog.Logger
	startedAt time.Time
	roles     []*role

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
}

type role struct {
	cfg       config.Role
	source    *source.Checked
	watcher   watcher
	refresher *refresh.Refresher
	// notifier tells when the source may have a new token (file, login).
	notifier source.Notifier
	login    *login.Session
}

// watcher is a token source that can tell when its token changed.
type watcher interface {
	Watch(ctx context.Context) error
	Changed() <-chan struct{}
}

// Start builds every part and binds the endpoint and the control socket, so
// "port in use" or "already running" surfaces at once. Nothing is fetched or
// served until Run.
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
	if len(opts.Config.Roles) == 0 {
		return nil, errors.New("no role configured")
	}
	a := &Agent{opts: opts, log: opts.Logger, startedAt: opts.Clock.Now(), sandbox: opts.Sandbox}
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
		a.roles = append(a.roles, r)
	}

	// The control socket first: a second daemon must fail before it can
	// touch the token file of the first.
	if a.controlListener, err = control.Listen(opts.Config.StateDir); err != nil {
		return nil, err
	}
	tok, created, err := authtoken.LoadOrCreate(opts.Config.StateDir)
	if err != nil {
		return nil, err
	}
	a.authToken = tok
	providers := map[string]server.Provider{}
	for _, r := range a.roles {
		providers[r.cfg.Name] = r.refresher
	}
	a.handler, err = server.New(server.Config{
		Roles:     providers,
		Token:     tok,
		TokenFile: authtoken.Path(opts.Config.StateDir),
		Clock:     opts.Clock,
		Logger:    opts.Logger,
	})
	if err != nil {
		return nil, err
	}

	if a.listener, err = server.Listen(opts.Config.Listen); err != nil {
		return nil, err
	}
	a.url = server.URL(a.listener)
	a.httpServer = server.NewHTTPServer(a.handler, opts.Logger)
	// Bound open connections, shedding the longest-idle ones first, so no
	// local process can exhaust the daemon's descriptors or lock others out.
	a.listener = server.LimitConns(a.httpServer, a.listener, 0)
	a.control = control.NewServer(a, opts.Logger)
	a.routeLogin()
	for _, r := range a.roles {
		a.log.Info("role configured", "component", "agent", "role", r.cfg.Name, "role_arn", r.cfg.RoleARN,
			"token_source", r.cfg.TokenSource, "because", r.cfg.SourceReason, "session_name", r.cfg.SessionName,
			"duration", r.cfg.Duration, "sts_endpoint", r.cfg.STSEndpoint, "region", r.cfg.Region)
	}
	a.log.Info("credd listening", "component", "agent", "endpoint", a.url, "state_dir", opts.Config.StateDir,
		"token_file", filepath.Join(opts.Config.StateDir, authtoken.FileName), "token_created", created)
	return a, nil
}

func (a *Agent) buildRole(ctx context.Context, rc config.Role) (*role, error) {
	log := a.log.With("role", rc.Name)
	r := &role{cfg: rc}
	var src source.Source
	switch rc.TokenSource {
	case config.SourceFile:
		f := source.NewFile(rc.TokenFile, log)
		src, r.watcher, r.notifier = f, f, f
	case config.SourceActions:
		act, err := source.ActionsFromEnv(rc.Audience, a.opts.Getenv)
		if err != nil {
			return nil, err
		}
		src = act
	case config.SourceCommand:
		src = source.NewCommand(rc.TokenCommand, 0, log)
	case config.SourceSandbox:
		sb, err := a.ensureSandbox(ctx)
		if err != nil {
			return nil, err
		}
		if rc.RoleARN == "" {
			rc.RoleARN = sandbox.DefaultRoleARN
		}
		if rc.STSEndpoint == "" {
			rc.STSEndpoint = sb.STSURL
		}
		if rc.Issuer == "" {
			rc.Issuer = sb.IssuerURL
		}
		audience := rc.Audience
		src = &source.Func{SourceName: "sandbox", Fn: func(context.Context) (string, error) {
			return sb.Issuer.Mint(audience, nil)
		}}
	case config.SourceLogin:
		ls, err := a.loginSource(rc)
		if err != nil {
			return nil, err
		}
		src, r.notifier, r.login = ls, ls, ls.Session()
	default:
		return nil, fmt.Errorf("unknown token source %q", rc.TokenSource)
	}
	r.cfg = rc
	audience := rc.Audience
	if rc.TokenSource == config.SourceLogin {
		audience = rc.ClientID // an ID token's audience is the client it was issued to
	}
	r.source = source.NewChecked(src, token.Checks{Audience: audience, Issuer: rc.Issuer, Now: a.opts.Clock.Now})

	exchanger, err := sts.New(sts.Config{
		RoleARN:     rc.RoleARN,
		SessionName: rc.SessionName,
		Duration:    rc.Duration,
		Region:      rc.Region,
		Endpoint:    rc.STSEndpoint,
		// 0 keeps the default; tests shorten it to provoke timeouts.
		AttemptTimeout: a.opts.STSAttemptTimeout,
	})
	if err != nil {
		return nil, err
	}
	r.refresher, err = refresh.New(refresh.Config{
		Source:    r.source,
		Exchanger: exchanger,
		Clock:     a.opts.Clock,
		Logger:    a.log,
		Name:      rc.Name,
		// Zero values keep the defaults (see Options.Refresh).
		BackoffBase:      a.opts.Refresh.BackoffBase,
		BackoffMax:       a.opts.Refresh.BackoffMax,
		PermanentPause:   a.opts.Refresh.PermanentPause,
		AttemptTimeout:   a.opts.Refresh.AttemptTimeout,
		MaxNewTokenTries: a.opts.Refresh.MaxNewTokenTries,
		Jitter:           a.opts.Refresh.Jitter,
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (a *Agent) ensureSandbox(ctx context.Context) (*sandbox.Sandbox, error) {
	if a.sandbox != nil {
		return a.sandbox, nil
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{
		Issuer: sandbox.IssuerOptions{Logger: a.log},
		STS:    sandbox.STSOptions{Logger: a.log, MaxLifetime: a.opts.SandboxLifetime},
	})
	if err != nil {
		return nil, fmt.Errorf("start the sandbox: %w", err)
	}
	a.sandbox, a.ownsSandbox = sb, true
	a.log.Info("sandbox running", "component", "agent", "issuer", sb.IssuerURL, "sts", sb.STSURL)
	return sb, nil
}

// Run serves until ctx is done, then stops gracefully: the endpoint drains,
// the socket is removed, credentials are dropped; the token file is kept
// because old clients read it only once.
func (a *Agent) Run(ctx context.Context) error {
	defer a.close()
	g, ctx := errgroup.WithContext(ctx)
	for _, r := range a.roles {
		g.Go(func() error { return r.refresher.Run(ctx) })
		if r.watcher != nil {
			g.Go(func() error { return r.watcher.Watch(ctx) })
		}
		if r.notifier != nil {
			g.Go(func() error {
				for {
					select {
					case <-ctx.Done():
						return nil
					case <-r.notifier.Changed():
						r.refresher.Trigger()
					}
				}
			})
		}
	}
	for _, e := range a.logins {
		g.Go(func() error { return e.sess.Run(ctx) })
	}
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
	a.log.Info("credd stopped")
	return err
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
func (a *Agent) Sandbox() *sandbox.Sandbox { return a.sandbox }

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
	}
	if a.sandbox != nil {
		st.Sandbox = &daemon.SandboxStatus{IssuerURL: a.sandbox.IssuerURL, STSURL: a.sandbox.STSURL}
	}
	for _, r := range a.roles {
		st.Roles = append(st.Roles, r.status())
	}
	return st
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
		STSEndpoint: stsEndpoint(r.cfg),
		Audience:    r.cfg.Audience,
	}
	if c := s.Credentials; c != nil {
		rs.AssumedRoleARN, rs.AccountID = c.AssumedRoleARN, c.AccountID
		rs.Expiration, rs.Obtained = c.Expiration, c.Obtained
	}
	r.loginStatus(&rs)
	return rs
}

// stsEndpoint is where the role's STS calls go: the configured endpoint, or
// the regional one the AWS SDK resolves.
func stsEndpoint(rc config.Role) string {
	if rc.STSEndpoint != "" {
		return rc.STSEndpoint
	}
	region := rc.Region
	if region == "" {
		region = sts.DefaultRegion
	}
	if strings.HasPrefix(region, "cn-") {
		return "https://sts." + region + ".amazonaws.com.cn"
	}
	return "https://sts." + region + ".amazonaws.com"
}
