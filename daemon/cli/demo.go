package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/credd-dev/credd/daemon/agent"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/doctor"
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
	fmt.Fprint(io.Stdout, tryLines(sb.STSURL))
	fmt.Fprintln(io.Stdout)

	if err := selfCheck(ctx, io, t); err != nil {
		interrupted := ctx.Err() != nil // Ctrl-C (or the caller) ended the demo mid-check
		cancel()
		<-done
		if interrupted {
			return exitOK
		}
		return fail(io, "demo", exitFailure, fmt.Errorf("self-check failed: %w", err))
	}
	if *check {
		cancel()
		if err := <-done; err != nil {
			return fail(io, "demo", exitFailure, err)
		}
		return exitOK
	}
	fmt.Fprint(io.Stdout, "\n"+servingLines(selfCommand(), dir))
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

// tryLines is a first call to paste after the exports. It names the
// emulator explicitly because the service-specific AWS_ENDPOINT_URL_STS
// came with botocore 1.31.0 / boto3 1.28.0 and AWS CLI 2.13.0 ("Configure
// the endpoint URL ... via an environment variable for a specific AWS
// service": .changes/1.31.0.json in boto/botocore, .changes/2.13.0.json in
// aws/aws-cli): older clients, such as Debian's AWS CLI 2.9 and boto3
// 1.26, ignore it and would send the sandbox's keys to the real STS.
func tryLines(stsURL string) string {
	return "# Then ask STS who you are; this works with every AWS CLI:\n" +
		"aws --endpoint-url " + doctor.ShellWord(stsURL) + " sts get-caller-identity\n" +
		"# Clients before AWS CLI 2.13 and boto3 1.28 ignore AWS_ENDPOINT_URL_STS: pass the endpoint explicitly, as above.\n"
}

// servingLines say how to look at the running demo, as a command the user
// can run as printed: self is selfCommand().
func servingLines(self, dir string) string {
	s := fmt.Sprintf("Serving until Ctrl-C. Try: %s status --state-dir %s\n", self, doctor.ShellWord(dir))
	if self == goRunCommand {
		s += "(from the repository's root; `go install ./cmd/credd` puts credd in $(go env GOPATH)/bin)\n"
	}
	return s
}
