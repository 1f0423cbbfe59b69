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
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
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
}

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
}

type role struct {
	cfg       config.Role
	source    *source.Checked
	watcher   watcher
	refresher *refresh.Refresher
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
	a.control = control.NewServer(a, opts.Logger)
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
		src, r.watcher = f, f
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
		return nil, errors.New("--token-source login (device-code login) is not available in this build yet: use file, actions, command or sandbox")
	default:
		return nil, fmt.Errorf("unknown token source %q", rc.TokenSource)
	}
	r.cfg = rc
	r.source = source.NewChecked(src, token.Checks{Audience: rc.Audience, Issuer: rc.Issuer, Now: a.opts.Clock.Now})

	exchanger, err := sts.New(sts.Config{
		RoleARN:     rc.RoleARN,
		SessionName: rc.SessionName,
		Duration:    rc.Duration,
		Region:      rc.Region,
		Endpoint:    rc.STSEndpoint,
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
			g.Go(func() error {
				for {
					select {
					case <-ctx.Done():
						return nil
					case <-r.watcher.Changed():
						r.refresher.Trigger()
					}
				}
			})
		}
	}
	g.Go(func() error {
		if err := a.httpServer.Serve(a.listener); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("endpoint: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return a.httpServer.Shutdown(shutdownCtx)
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
	}
	if c := s.Credentials; c != nil {
		rs.AssumedRoleARN, rs.AccountID = c.AssumedRoleARN, c.AccountID
		rs.Expiration, rs.Obtained = c.Expiration, c.Obtained
	}
	return rs
}
