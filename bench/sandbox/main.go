// Command sandbox runs the sandbox OIDC issuer and STS emulator as a
// standalone server for the benchmarks (bench/run.sh): credd and the AWS
// CLI's own web-identity provider are pointed at the same STS, with the same
// added latency on AssumeRoleWithWebIdentity.
//
// It prints one JSON line with its URLs and the token file it wrote, then
// serves until SIGTERM/SIGINT. GET <stats_url> returns the STS call counts
// per action, so a script can tell how many STS calls each client made;
// POST <stats_url minus /stats>/latency?delay=D changes the added latency.
// Everything binds 127.0.0.1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sandbox:", err)
		os.Exit(1)
	}
}

func run() error {
	latency := flag.Duration("latency", 100*time.Millisecond, "latency added to every AssumeRoleWithWebIdentity call (0 = none)")
	tokenFile := flag.String("token-file", "", "write an identity token for the default role here (mode 0600)")
	tokenLifetime := flag.Duration("token-lifetime", 2*time.Hour, "lifetime of the identity tokens the issuer mints")
	stsAddr := flag.String("sts-addr", "127.0.0.1:0", "STS listen address")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error (to stderr)")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	sb, err := sandbox.Start(ctx, sandbox.Options{
		Issuer:  sandbox.IssuerOptions{Logger: logger, TokenLifetime: *tokenLifetime},
		STSAddr: *stsAddr,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	if *latency > 0 {
		// Count 0: every AssumeRoleWithWebIdentity call, until the end.
		sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultLatency, Delay: *latency})
	}

	if *tokenFile != "" {
		tok, err := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*tokenFile, []byte(tok)); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{
			"AssumeRoleWithWebIdentity": sb.STS.Calls("AssumeRoleWithWebIdentity"),
			"GetCallerIdentity":         sb.STS.Calls("GetCallerIdentity"),
			"GetCallerIdentityVerified": sb.STS.VerifiedCalls(),
		})
	})
	// POST /latency?delay=600ms replaces the added latency (0 = none).
	mux.HandleFunc("POST /latency", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("delay"))
		if err != nil || d < 0 {
			http.Error(w, "want ?delay=DURATION", http.StatusBadRequest)
			return
		}
		sb.STS.ClearFaults()
		if d > 0 {
			sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultLatency, Delay: d})
		}
		w.WriteHeader(http.StatusNoContent)
	})
	stats := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = stats.Serve(ln) }()
	defer stats.Close()

	info := map[string]any{
		"issuer_url": sb.IssuerURL,
		"sts_url":    sb.STSURL,
		"stats_url":  "http://" + ln.Addr().String() + "/stats",
		"role_arn":   sandbox.DefaultRoleARN,
		"audience":   sandbox.DefaultAudience,
		"token_file": *tokenFile,
		"latency":    latency.String(),
		"pid":        os.Getpid(),
	}
	if err := json.NewEncoder(os.Stdout).Encode(info); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
