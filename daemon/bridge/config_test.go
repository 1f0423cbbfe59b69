package bridge

import (
	"strings"
	"testing"
	"time"
)

func validConfig(t *testing.T) Config {
	t.Helper()
	return Config{Issuer: "https://bridge.example.com", Signer: mustSigner(t), Allow: []string{"credd-dev"}}
}

func TestValidateNamesTheFlag(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, "--issuer: required"},
		{"http issuer", func(c *Config) { c.Issuer = "http://bridge.example.com" }, "--issuer"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://bridge.example.com?x=1" }, "--issuer"},
		{"issuer with trailing slash", func(c *Config) { c.Issuer = "https://bridge.example.com/p/" }, "trailing slash"},
		{"relative issuer", func(c *Config) { c.Issuer = "bridge.example.com" }, "--issuer"},
		{"no signer", func(c *Config) { c.Signer = nil }, "--signing-key: required"},
		{"no allow", func(c *Config) { c.Allow = nil }, "--allow: required"},
		{"bad allow", func(c *Config) { c.Allow = []string{"credd-dev/a/b"} }, "--allow"},
		{"bad owner in allow", func(c *Config) { c.Allow = []string{"credd dev"} }, "--allow"},
		{"bad permission", func(c *Config) { c.MinPermission = "write" }, "--min-permission"},
		{"lifetime too short", func(c *Config) { c.TokenLifetime = 30 * time.Second }, "--token-lifetime"},
		{"lifetime too long", func(c *Config) { c.TokenLifetime = 2 * time.Hour }, "--token-lifetime"},
		{"empty audience", func(c *Config) { c.Audiences = []string{""} }, "--audiences"},
		{"unknown kind", func(c *Config) { c.AcceptTokenKinds = []string{"pat"} }, "--accept-token-kinds"},
		{"installation kind", func(c *Config) { c.AcceptTokenKinds = []string{KindAppInstallation} }, "--accept-token-kinds"},
		{"client id without secret", func(c *Config) { c.AppClientID = "Iv1.abc" }, "--github-app-client-secret"},
		{"secret without client id", func(c *Config) { c.AppClientSecret = "s" }, "--github-app-client-id"},
		{"negative rate", func(c *Config) { c.UserRequestsPerMinute = -1 }, "--rate-limit"},
		{"http GitHub API", func(c *Config) { c.GitHubAPI = "http://github.example.com/api/v3" }, "--github-api"},
		{"cache TTL over a minute", func(c *Config) { c.CacheTTL = 2 * time.Minute }, "cache TTL"},
		{"small previous key", func(c *Config) { c.PreviousKeys = append(c.PreviousKeys, &mustKey(1024).PublicKey) }, "--previous-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want it to mention %q", err, tt.want)
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted what Validate refused")
			}
		})
	}
}

func TestValidateAcceptsLoopbackHTTPAndGHES(t *testing.T) {
	for _, issuer := range []string{"http://127.0.0.1:8080", "http://localhost:1/p", "http://[::1]:9", "https://h.example.com/deep/path"} {
		c := validConfig(t)
		c.Issuer = issuer
		c.GitHubAPI = "https://ghes.example.com/api/v3/"
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", issuer, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	b, err := New(validConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	c := b.cfg
	if c.GitHubAPI != "https://api.github.com" || c.MinPermission != "push" || c.TokenLifetime != 5*time.Minute ||
		len(c.Audiences) != 1 || c.Audiences[0] != "sts.amazonaws.com" || len(c.AcceptTokenKinds) != 1 || c.AcceptTokenKinds[0] != KindAppUser ||
		c.UserRequestsPerMinute != 30 || c.CacheTTL != time.Minute || c.HTTPClient.Timeout != 10*time.Second || c.Clock == nil || c.Logger == nil {
		t.Errorf("defaults = %+v", c)
	}
	if b.github.userAgent != "credd-bridge/dev" {
		t.Errorf("User-Agent = %q", b.github.userAgent)
	}
}

func TestTokenKind(t *testing.T) {
	for token, want := range map[string]string{
		"ghu_x": KindAppUser, "gho_x": KindOAuthApp, "ghp_x": KindClassicPAT, "github_pat_x": KindFineGrainedPAT,
		"ghs_x": KindAppInstallation, "ghr_x": KindUnknown, "": KindUnknown, "GHU_x": KindUnknown,
	} {
		if got := TokenKind(token); got != want {
			t.Errorf("TokenKind(%q) = %q, want %q", token, got, want)
		}
	}
}

func TestPermissionAtLeast(t *testing.T) {
	for _, tt := range []struct {
		have, want string
		ok         bool
	}{
		{"admin", "push", true}, {"push", "push", true}, {"maintain", "push", true}, {"triage", "push", false},
		{"pull", "triage", false}, {"none", "pull", false}, {"push", "bogus", false}, {"", "pull", false},
	} {
		if got := PermissionAtLeast(tt.have, tt.want); got != tt.ok {
			t.Errorf("PermissionAtLeast(%q, %q) = %v", tt.have, tt.want, got)
		}
	}
	if got := highestPermission(map[string]bool{"pull": true, "push": true, "admin": false}); got != "push" {
		t.Errorf("highest = %q", got)
	}
	if got := highestPermission(nil); got != PermissionNone {
		t.Errorf("highest of none = %q", got)
	}
}
