// Package bridgecli is credd-bridge's command line: flags and their
// CREDD_BRIDGE_* twins, the signing key and client secret, and serving
// until the context ends.
package bridgecli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/daemon/bridge"
	"github.com/credd-dev/credd/daemon/redact"
)

// Version is set at link time:
// -ldflags "-X github.com/credd-dev/credd/daemon/bridge/cli.Version=v1.2.3".
var Version = ""

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the server failed while running
	ExitUsage   = 2 // bad flags, environment or configuration
)

// drainTimeout is how long a stopping bridge lets requests in flight finish.
const drainTimeout = 5 * time.Second

// Hooks are what a build adds beyond the core: AWS-backed signing, secrets
// and Lambda. A nil hook makes its feature answer "not available in this
// build".
type Hooks struct {
	// NewKMSSigner makes the signer for --kms-key-id.
	NewKMSSigner func(ctx context.Context, keyID string) (bridge.Signer, error)
	// LoadSecret resolves an ssm: or kms: SPEC of --github-app-client-secret.
	LoadSecret func(ctx context.Context, spec string) (string, error)
	// ServeLambda serves the handler as a Lambda function; it is used
	// instead of listening when AWS_LAMBDA_RUNTIME_API is set.
	ServeLambda func(http.Handler) error
	// Listening, if set, is told the bound address once the server listens
	// (tests and supervisors use it with --listen 127.0.0.1:0).
	Listening func(addr net.Addr)
}

// Main runs credd-bridge with args (without the program name) until ctx
// ends, and returns the exit code. Logs are JSON on stderr.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, hooks Hooks) int {
	s, err := parseSettings(args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "credd-bridge: %v\nRun credd-bridge -h for the flags.\n", err)
		return ExitUsage
	case s.version:
		fmt.Fprintf(stdout, "credd-bridge %s\n", version())
		return ExitOK
	}
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(stderr, nil)))
	inLambda := hooks.ServeLambda != nil && getenv("AWS_LAMBDA_RUNTIME_API") != ""
	cfg, err := buildConfig(ctx, s, hooks, log)
	if err == nil && inLambda && cfg.Issuer == "" {
		// Behind a function URL the issuer is the URL's own domain, known
		// only from the first request: CloudFormation cannot put a
		// function's URL into its environment without a cycle.
		return serveLambdaFromURL(cfg, hooks, log)
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		log.Error("credd-bridge cannot start", "error", err)
		return ExitUsage
	}
	b, err := bridge.New(cfg)
	if err != nil {
		log.Error("credd-bridge cannot start", "error", err)
		return ExitUsage
	}
	if !isHTTPS(cfg.Issuer) {
		log.Warn("the issuer is not https: AWS accepts only https issuers, so this bridge is good for local tests only", "issuer", cfg.Issuer)
	}
	if inLambda {
		log.Info("serving as a Lambda function", "issuer", cfg.Issuer, "signing_kid_prefix", kidPrefix(cfg.Signer.KeyID()))
		if err := hooks.ServeLambda(b.Handler()); err != nil {
			log.Error("Lambda serving stopped", "error", err)
			return ExitFailure
		}
		return ExitOK
	}
	return serve(ctx, s.listen, b.Handler(), hooks, log.With("issuer", cfg.Issuer, "signing_kid_prefix", kidPrefix(cfg.Signer.KeyID())))
}

// serveLambdaFromURL serves as a Lambda function whose issuer is
// https://HOST of the function URL that AWS routed the first request
// through (the adapter sets Host from requestContext.domainName, which the
// caller cannot choose). The configuration is checked before serving, with
// a stand-in issuer, so a bad setting fails the cold start.
func serveLambdaFromURL(cfg bridge.Config, hooks Hooks, log *slog.Logger) int {
	probe := cfg
	probe.Issuer = "https://lambda-url.invalid"
	if err := probe.Validate(); err != nil {
		log.Error("credd-bridge cannot start", "error", err)
		return ExitUsage
	}
	h := &issuerFromHost{cfg: cfg, log: log}
	log.Info("serving as a Lambda function; the issuer is the function URL's", "signing_kid_prefix", kidPrefix(cfg.Signer.KeyID()))
	if err := hooks.ServeLambda(h); err != nil {
		log.Error("Lambda serving stopped", "error", err)
		return ExitFailure
	}
	return ExitOK
}

// issuerFromHost builds the bridge on the first request, for the host it
// came to, and then serves only that host: a function URL has one domain.
type issuerFromHost struct {
	cfg bridge.Config
	log *slog.Logger

	mu   sync.Mutex
	host string
	h    http.Handler
}

func (l *issuerFromHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, issuer := l.handler(r.Host)
	if h == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMisdirectedRequest)
		msg := "this bridge's issuer is " + issuer + "; set --issuer (CREDD_BRIDGE_ISSUER) to serve under another name"
		if issuer == "" {
			msg = "the function URL's domain is not a usable issuer; set --issuer (CREDD_BRIDGE_ISSUER)"
		}
		json.NewEncoder(w).Encode(bridge.ErrorResponse{Code: "wrong_host", Message: msg})
		return
	}
	h.ServeHTTP(w, r)
}

// handler returns the bridge for host, or nil and the issuer it serves.
func (l *issuerFromHost) handler(host string) (http.Handler, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		if !strings.EqualFold(host, l.host) {
			return nil, "https://" + l.host
		}
		return l.h, ""
	}
	cfg := l.cfg
	cfg.Issuer = "https://" + strings.ToLower(host)
	b, err := bridge.New(cfg)
	if err != nil {
		l.log.Error("the function URL's domain is not a usable issuer", "host", host, "error", err)
		return nil, ""
	}
	l.host, l.h = strings.ToLower(host), b.Handler()
	l.log.Info("issuer taken from the function URL", "issuer", cfg.Issuer)
	return l.h, ""
}

// buildConfig turns settings into a bridge.Config, loading keys and the
// client secret.
func buildConfig(ctx context.Context, s settings, hooks Hooks, log *slog.Logger) (bridge.Config, error) {
	cfg := bridge.Config{
		Issuer:                s.issuer,
		GitHubAPI:             s.githubAPI,
		Allow:                 s.allow,
		MinPermission:         s.minPermission,
		TokenLifetime:         s.tokenLifetime,
		Audiences:             s.audiences,
		AcceptTokenKinds:      s.acceptTokenKinds,
		AppClientID:           s.clientID,
		UserRequestsPerMinute: s.rateLimit,
		Logger:                log,
		Version:               version(),
	}
	signer, err := loadSigner(ctx, s, hooks)
	if err != nil {
		return cfg, err
	}
	cfg.Signer = signer
	for _, id := range s.previousKMSKeys {
		if hooks.NewKMSSigner == nil {
			return cfg, errors.New("--previous-kms-key-id: KMS keys are not available in this build")
		}
		prev, err := hooks.NewKMSSigner(ctx, id)
		if err != nil {
			return cfg, fmt.Errorf("--previous-kms-key-id: %w", err)
		}
		cfg.PreviousKeys = append(cfg.PreviousKeys, prev.Public())
	}
	for _, path := range s.previousKeys {
		pub, err := bridge.LoadPublicKey(path)
		if err != nil {
			return cfg, fmt.Errorf("--previous-key: %w", err)
		}
		cfg.PreviousKeys = append(cfg.PreviousKeys, pub)
	}
	if s.clientSecretSpec != "" {
		if cfg.AppClientSecret, err = loadClientSecret(ctx, s.clientSecretSpec, hooks); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func loadSigner(ctx context.Context, s settings, hooks Hooks) (bridge.Signer, error) {
	switch {
	case s.signingKey != "" && s.kmsKeyID != "":
		return nil, errors.New("--signing-key and --kms-key-id: give one of them")
	case s.kmsKeyID != "":
		if hooks.NewKMSSigner == nil {
			return nil, errors.New("--kms-key-id: KMS signing is not available in this build; use --signing-key FILE")
		}
		signer, err := hooks.NewKMSSigner(ctx, s.kmsKeyID)
		if err != nil {
			return nil, fmt.Errorf("--kms-key-id: %w", err)
		}
		return signer, nil
	case s.signingKey != "":
		signer, err := bridge.LoadSigningKey(s.signingKey)
		if err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		return signer, nil
	default:
		return nil, nil // Validate names the missing flag
	}
}

// serve listens first, so a taken address fails at once, then serves until
// ctx ends and drains requests in flight.
func serve(ctx context.Context, addr string, h http.Handler, hooks Hooks, log *slog.Logger) int {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		log.Error("cannot listen; check --listen", "listen", addr, "error", err)
		return ExitFailure
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // GitHub calls take up to 10s each
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("credd-bridge listening", "listen", ln.Addr().String(), "version", version())
	if hooks.Listening != nil {
		hooks.Listening(ln.Addr())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		log.Error("server stopped", "error", err)
		return ExitFailure
	case <-ctx.Done():
	}
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Warn("requests still in flight after the drain timeout were cut", "error", err)
		_ = srv.Close()
	}
	<-done
	log.Info("credd-bridge stopped")
	return ExitOK
}

// kidPrefix is enough of a key ID to tell keys apart in the logs: a whole
// thumbprint looks like a secret to the redacting log handler.
func kidPrefix(kid string) string {
	if len(kid) > 8 {
		return kid[:8]
	}
	return kid
}

func isHTTPS(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && u.Scheme == "https"
}

// version is the link-time Version, else the module version, else "dev".
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
