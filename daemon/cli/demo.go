package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/credd-dev/credd/daemon/agent"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/sts"
)

func runDemo(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("demo", io)
	listen := fs.String("listen", "127.0.0.1:0", "address of the credentials endpoint (loopback only)")
	stateDir := fs.String("state-dir", "", "state directory (default: a new temporary one, removed on exit)")
	check := fs.Bool("check", false, "exit after the self-check instead of serving until Ctrl-C")
	logLevel := fs.String("log-level", "warn", "daemon log level")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	dir := *stateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "credd-demo-")
		if err != nil {
			return fail(io, "demo", exitFailure, err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	dfs := newFlagSet("demo", io)
	flags := config.RegisterDaemonFlags(dfs)
	_ = dfs.Parse([]string{"--token-source", "sandbox", "--listen", *listen, "--state-dir", dir, "--log-level", *logLevel})
	cfg, err := flags.Resolve(func(string) string { return "" })
	if err != nil {
		return fail(io, "demo", exitUsage, err)
	}
	lifetime, err := sandboxLifetime(io)
	if err != nil {
		return fail(io, "demo", exitUsage, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := agent.Start(ctx, agent.Options{Config: cfg, Version: version(), Logger: newLogger(io, cfg.LogLevel), Getenv: io.Getenv, SandboxLifetime: lifetime})
	if err != nil {
		return fail(io, "demo", exitFailure, err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	sb := a.Sandbox()
	fmt.Fprintf(io.Stdout, "credd demo: an OIDC issuer at %s and an STS emulator at %s, both in this process.\n", sb.IssuerURL, sb.STSURL)
	fmt.Fprintf(io.Stdout, "The daemon exchanges the issuer's token for credentials of the role session %s.\n\n", cfg.Roles[0].SessionName)
	fmt.Fprintln(io.Stdout, "# Paste these into another shell to use the credentials:")
	t := target{URL: a.URL(), Token: a.AuthToken(), TokenFile: dir + "/token", STSURL: sb.STSURL}
	fmt.Fprint(io.Stdout, exportLines(t))
	fmt.Fprintln(io.Stdout, "export AWS_REGION="+sts.DefaultRegion)
	fmt.Fprintln(io.Stdout)

	if err := selfCheck(ctx, io, t); err != nil {
		cancel()
		<-done
		return fail(io, "demo", exitFailure, fmt.Errorf("self-check failed: %w", err))
	}
	if *check {
		cancel()
		if err := <-done; err != nil {
			return fail(io, "demo", exitFailure, err)
		}
		return exitOK
	}
	fmt.Fprintf(io.Stdout, "\nServing until Ctrl-C. Try: credd status --state-dir %s\n", dir)
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fail(io, "demo", exitFailure, err)
	}
	return exitOK
}

// selfCheck does what an SDK would: fetch credentials from the endpoint,
// then sign a GetCallerIdentity call with them, which the emulator
// verifies against the credentials it issued.
func selfCheck(ctx context.Context, io IO, t target) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	c, err := fetchCredentials(ctx, t)
	for i := 0; err != nil && i < 20 && ctx.Err() == nil; i++ {
		time.Sleep(100 * time.Millisecond)
		c, err = fetchCredentials(ctx, t)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "self-check: the endpoint served credentials %s… expiring %s (%s after start)\n",
		c.AccessKeyID[:8], c.Expiration.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
	arn, err := sts.CallerIdentity(ctx, sts.CallerIdentityInput{Endpoint: t.STSURL, Region: sts.DefaultRegion, Credentials: c})
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "self-check: GetCallerIdentity signed with them says %s\n", arn)
	fmt.Fprintln(io.Stdout, "self-check: ok")
	return nil
}
