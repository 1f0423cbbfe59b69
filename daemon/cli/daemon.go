package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/credd-dev/credd/daemon/agent"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/redact"
)

func runDaemon(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("daemon", io)
	flags := config.RegisterDaemonFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(io, "daemon", exitUsage, fmt.Errorf("unexpected argument %q: settings are flags such as --role-arn", fs.Arg(0)))
	}
	cfg, session, err := resolveWithKeptSession(flags, io)
	noRole := ""
	if errors.Is(err, config.ErrNoRole) {
		// In a devcontainer the role often arrives after start, handed
		// over by a lifecycle hook: wait for it rather than exit (the
		// Feature's supervisor would only restart us, forever).
		noRole, err = err.Error(), nil
	}
	if err != nil {
		return fail(io, "daemon", exitUsage, err)
	}
	logger := newLogger(io, cfg.LogLevel)
	if noRole != "" {
		logger.Warn("no role to serve yet; waiting for `credd reload --from-env` (or SIGHUP after fixing the config file) to hand one over", "component", "daemon", "why", noRole)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "client-secret" {
			logger.Warn("--client-secret on the command line is visible to every process in the container (ps, /proc): set CREDD_CLIENT_SECRET or client_secret in the config file instead", "component", "daemon")
		}
	})
	lifetime, err := sandboxLifetime(io)
	if err != nil {
		return fail(io, "daemon", exitUsage, err)
	}
	// Catch SIGHUP before starting, so one sent while the daemon starts is
	// a reload, not the end of the process (Go's default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := agent.Start(ctx, agent.Options{
		Config:          cfg,
		Version:         version(),
		Logger:          logger,
		Getenv:          io.Getenv,
		SandboxLifetime: lifetime,
		NoRole:          noRole,
		Session:         session,
		// A reload resolves the same flags again, over the files as they
		// are then and the session environment handed over.
		Resolve: func(session map[string]string) (config.Config, error) {
			return flags.ResolveLayers(config.Layers{Session: session, Getenv: io.Getenv})
		},
	})
	if err != nil {
		return fail(io, "daemon", exitFailure, err)
	}
	go reloadOnHangup(ctx, a, hup)
	defer exitIfStuck(ctx, logger)()
	if err := a.Run(ctx); err != nil {
		return fail(io, "daemon", exitFailure, err)
	}
	return exitOK
}

// resolveWithKeptSession resolves the settings over the session
// environment the last `credd reload --from-env` handed to an earlier
// daemon on this state dir, so a restart (a crash, a kill, a container
// stop) keeps the role and the identity the session gave it. A kept
// environment that cannot be read or no longer resolves is left aside,
// with a warning: the next lifecycle hook hands over a fresh one.
func resolveWithKeptSession(flags *config.Flags, io IO) (config.Config, map[string]string, error) {
	cfg, err := flags.Resolve(io.Getenv)
	if err != nil && !errors.Is(err, config.ErrNoRole) {
		return cfg, nil, err
	}
	kept, kerr := agent.LoadHandOff(cfg.StateDir)
	if kerr != nil {
		fmt.Fprintf(io.Stderr, "credd daemon: %s\n", kerr)
	}
	if len(kept) == 0 {
		return cfg, nil, err
	}
	withKept, kerr := flags.ResolveLayers(config.Layers{Session: kept, Getenv: io.Getenv})
	if kerr != nil && !errors.Is(kerr, config.ErrNoRole) {
		fmt.Fprintf(io.Stderr, "credd daemon: the session environment kept in %s no longer resolves (%s); starting without it\n", cfg.StateDir, kerr)
		return cfg, nil, err
	}
	return withKept, kept, kerr
}

// reloadOnHangup reloads on SIGHUP, as daemons do, until ctx ends: the
// files are re-read, the handed-off session environment kept. A bad config
// is logged by the agent and the old settings stay; the daemon never exits
// over it.
func reloadOnHangup(ctx context.Context, a *agent.Agent, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_, _ = a.Reload(ctx, agent.ReloadRequest{Trigger: agent.TriggerSIGHUP})
		}
	}
}

// stopDeadline is the longest the daemon may take to exit once told to
// stop: Run itself takes about a second; docker stop waits 10s, then
// SIGKILLs.
const stopDeadline = 5 * time.Second

// exitIfStuck ends the process stopDeadline after ctx ends, unless the
// returned func (Run has returned) is called first: a last resort, so that
// nothing stuck (a goroutine that ignores its context, a cleanup that
// hangs) can make SIGTERM a no-op that only SIGKILL ends.
func exitIfStuck(ctx context.Context, log *slog.Logger) (returned func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(stopDeadline)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			log.Error("credd did not stop within "+stopDeadline.String()+" of being told to; exiting now", "component", "daemon")
			os.Exit(exitFailure)
		}
	}()
	return func() { close(done) }
}

// sandboxLifetime reads CREDD_SANDBOX_LIFETIME, which makes the embedded
// STS emulator issue short-lived credentials so refresh can be watched.
func sandboxLifetime(io IO) (time.Duration, error) {
	v := io.Getenv("CREDD_SANDBOX_LIFETIME")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("CREDD_SANDBOX_LIFETIME=%q: use a duration of 1s or more, such as 2m", v)
	}
	return d, nil
}

// newLogger logs through redact.Handler: the last line of defence for a
// secret in words credd did not write (a command's stderr, an IdP's or an
// endpoint's answer) that reached a log call unredacted.
func newLogger(io IO, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(redact.NewHandler(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: l})))
}
