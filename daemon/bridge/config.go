package bridge

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
)

// Defaults and bounds of Config.
const (
	DefaultGitHubAPI             = "https://api.github.com"
	DefaultMinPermission         = PermissionPush
	DefaultTokenLifetime         = 5 * time.Minute
	MinTokenLifetime             = time.Minute
	MaxTokenLifetime             = time.Hour
	DefaultAudience              = "sts.amazonaws.com"
	DefaultUserRequestsPerMinute = 30
	DefaultCacheTTL              = time.Minute
	// GitHubTimeout bounds each GitHub call of the default HTTP client.
	GitHubTimeout = 10 * time.Second
)

// Config configures a Bridge. Zero values mean the documented defaults.
type Config struct {
	Issuer                string           // public URL, https (http allowed only for loopback hosts); exactly the iss
	Signer                Signer           // signs the JWTs; required
	PreviousKeys          []*rsa.PublicKey // still published in the JWKS after a rotation
	GitHubAPI             string           // default https://api.github.com
	Allow                 []string         // OWNER or OWNER/REPO, case-insensitive match (GitHub names are)
	MinPermission         string           // pull|triage|push|maintain|admin; default push
	TokenLifetime         time.Duration    // default 5m; 1m..1h
	Audiences             []string         // default [sts.amazonaws.com]
	AcceptTokenKinds      []string         // default [app-user]
	AppClientID           string           // optional: verify tokens with the check-token API
	AppClientSecret       string           // required with AppClientID
	UserRequestsPerMinute int              // per GitHub user id, default 30
	CacheTTL              time.Duration    // GitHub answers cached ≤ this, default and max 1m
	HTTPClient            *http.Client     // for GitHub; default a client with a 10s timeout
	Clock                 clock.Clock      // nil = real
	Logger                *slog.Logger     // audit log; nil = discard
	Version               string           // for the User-Agent
}

// Validate returns an error naming the flag (--issuer, --allow, …) and what
// to do. It checks c as given; defaults fill in zero values.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(validateIssuer(c.Issuer))
	if c.Signer == nil {
		add(errors.New("--signing-key: required: give a PEM RSA private key of at least 2048 bits (or --kms-key-id where this build supports it)"))
	} else if pub := c.Signer.Public(); pub == nil || pub.N == nil {
		add(errors.New("--signing-key: the signer has no public key"))
	} else {
		add(checkKeySize(pub))
	}
	for i, k := range c.PreviousKeys {
		if k == nil || k.N == nil {
			add(fmt.Errorf("--previous-key: key %d is empty", i+1))
		} else if err := checkKeySize(k); err != nil {
			add(fmt.Errorf("--previous-key: %w", err))
		}
	}
	if c.GitHubAPI != "" {
		add(validateGitHubAPI(c.GitHubAPI))
	}
	if len(c.Allow) == 0 {
		add(errors.New("--allow: required: name the owners (OWNER) or repositories (OWNER/REPO) whose users may get tokens"))
	}
	for _, a := range c.Allow {
		if _, err := parseAllowRule(a); err != nil {
			add(fmt.Errorf("--allow: %w", err))
		}
	}
	if c.MinPermission != "" && !slices.Contains(permissionOrder, c.MinPermission) {
		add(fmt.Errorf("--min-permission: %q is not one of %s", c.MinPermission, strings.Join(permissionOrder, ", ")))
	}
	if c.TokenLifetime != 0 && (c.TokenLifetime < MinTokenLifetime || c.TokenLifetime > MaxTokenLifetime) {
		add(fmt.Errorf("--token-lifetime: %s is outside %s..%s", c.TokenLifetime, MinTokenLifetime, MaxTokenLifetime))
	}
	for _, a := range c.Audiences {
		if a == "" || strings.ContainsAny(a, " \t\r\n,") {
			add(fmt.Errorf("--audiences: %q is not an audience: give non-empty values without spaces, separated by commas", a))
		}
	}
	for _, k := range c.AcceptTokenKinds {
		switch {
		case k == KindAppInstallation:
			add(fmt.Errorf("--accept-token-kinds: %s tokens (ghs_) act for no user, so the bridge cannot accept them; remove it", k))
		case !slices.Contains(TokenKinds(), k):
			add(fmt.Errorf("--accept-token-kinds: %q is not one of %s, %s, %s, %s, %s", k, KindAppUser, KindOAuthApp, KindClassicPAT, KindFineGrainedPAT, KindUnknown))
		}
	}
	if c.AppClientID != "" && c.AppClientSecret == "" {
		add(errors.New("--github-app-client-secret: required with --github-app-client-id, to call GitHub's check-token API"))
	}
	if c.AppClientID == "" && c.AppClientSecret != "" {
		add(errors.New("--github-app-client-id: required with --github-app-client-secret"))
	}
	if c.AppClientID != "" && (strings.ContainsAny(c.AppClientID, "/?#%: \t\r\n") || len(c.AppClientID) > 100) {
		add(errors.New("--github-app-client-id: not a client ID; copy it from the GitHub App's settings page"))
	}
	if c.UserRequestsPerMinute < 0 {
		add(fmt.Errorf("--rate-limit: %d is negative; give requests per minute per user (default %d)", c.UserRequestsPerMinute, DefaultUserRequestsPerMinute))
	}
	if c.CacheTTL < 0 || c.CacheTTL > DefaultCacheTTL {
		add(fmt.Errorf("cache TTL %s is outside 0..%s", c.CacheTTL, DefaultCacheTTL))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero values.
func (c Config) withDefaults() Config {
	if c.GitHubAPI == "" {
		c.GitHubAPI = DefaultGitHubAPI
	}
	c.GitHubAPI = strings.TrimSuffix(c.GitHubAPI, "/")
	if c.MinPermission == "" {
		c.MinPermission = DefaultMinPermission
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if len(c.Audiences) == 0 {
		c.Audiences = []string{DefaultAudience}
	}
	if len(c.AcceptTokenKinds) == 0 {
		c.AcceptTokenKinds = []string{KindAppUser}
	}
	if c.UserRequestsPerMinute == 0 {
		c.UserRequestsPerMinute = DefaultUserRequestsPerMinute
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: GitHubTimeout}
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

// validateIssuer: AWS IAM takes only https issuers; http is allowed for a
// loopback host, where tests and local trials run.
func validateIssuer(s string) error {
	if s == "" {
		return errors.New("--issuer: required: give the bridge's public https URL, e.g. https://bridge.example.com")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("--issuer: %q is not an absolute URL; give e.g. https://bridge.example.com", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
	default:
		return fmt.Errorf("--issuer: %q must use https (AWS accepts only https issuers; http only for a loopback host)", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return fmt.Errorf("--issuer: %q must have no user, query or fragment", s)
	}
	if strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("--issuer: %q ends in '/'; write it without the trailing slash", s)
	}
	if u.RawPath != "" || strings.Contains(u.Path, "//") || strings.Contains(u.Path, "/./") || strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") || strings.HasSuffix(u.Path, "/.") {
		return fmt.Errorf("--issuer: %q has an unusual path; use plain path segments", s)
	}
	return nil
}

func validateGitHubAPI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--github-api: %q is not a base URL; give https://api.github.com or https://HOST/api/v3", s)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !IsLoopbackHost(u.Hostname())) {
		return fmt.Errorf("--github-api: %q must use https (http only for a loopback host)", s)
	}
	return nil
}

// IsLoopbackHost reports whether h is localhost or a loopback IP address.
func IsLoopbackHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
