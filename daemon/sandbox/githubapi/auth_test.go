package githubapi

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

func TestGetUserRefusesWhatGitHubRefuses(t *testing.T) {
	f := newFixture(t)
	good := f.s.IssueToken("octocat", "app-user", "", 0)
	revoked := f.s.IssueToken("octocat", "app-user", "", 0)
	f.s.Revoke(revoked)
	expiring := f.s.IssueToken("octocat", "app-user", "", time.Hour)
	installation := f.s.IssueToken("", "app-installation", "Iv1.app", 2*time.Hour)
	f.clock.Advance(time.Hour)

	tests := []struct {
		name        string
		auth        string
		wantStatus  int
		wantMessage string
	}{
		{"a good token with the Bearer scheme is accepted", "Bearer " + good, http.StatusOK, ""},
		{"a good token with the token scheme is accepted", "token " + good, http.StatusOK, ""},
		{"a revoked token is bad credentials", "Bearer " + revoked, http.StatusUnauthorized, "Bad credentials"},
		{"an expired token is bad credentials", "Bearer " + expiring, http.StatusUnauthorized, "Bad credentials"},
		{"an unknown token is bad credentials", "Bearer ghu_000000000000000000000000000000000000", http.StatusUnauthorized, "Bad credentials"},
		{"an unknown scheme is bad credentials", "Basic b2N0bzpjYXQ=", http.StatusUnauthorized, "Bad credentials"},
		{"no token requires authentication", "", http.StatusUnauthorized, "Requires authentication"},
		{"an installation token acts as no user", "Bearer " + installation, http.StatusForbidden, "Resource not accessible by integration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.newRequest(t, http.MethodGet, "/user", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, body := f.do(t, req)
			wantStatus(t, resp, body, tt.wantStatus)
			if tt.wantMessage != "" {
				if got := decodeMap(t, body)["message"]; got != tt.wantMessage {
					t.Errorf("message = %v, want %q", got, tt.wantMessage)
				}
			}
			assertNoSecrets(t, "error body", string(body), good, revoked, expiring, installation)
		})
	}
}

func TestExpiryFollowsTheInjectedClock(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken("octocat", "app-user", "", 8*time.Hour)

	f.clock.Advance(8*time.Hour - time.Second)
	resp, body := f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusOK)

	f.clock.Advance(time.Second)
	resp, body = f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusUnauthorized)
}

func TestTokensLookLikeGitHubs(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		kind string
		want *regexp.Regexp
	}{
		{"app-user", regexp.MustCompile(`^ghu_[0-9A-Za-z]{36}$`)},
		{"oauth-app", regexp.MustCompile(`^gho_[0-9A-Za-z]{36}$`)},
		{"classic-pat", regexp.MustCompile(`^ghp_[0-9A-Za-z]{36}$`)},
		{"fine-grained-pat", regexp.MustCompile(`^github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}$`)},
		{"app-installation", regexp.MustCompile(`^ghs_[0-9A-Za-z]{36}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			token := f.s.IssueToken("octocat", tt.kind, "", 0)
			if !tt.want.MatchString(token) {
				t.Errorf("token %q does not match %s", token, tt.want)
			}
			if token == f.s.IssueToken("octocat", tt.kind, "", 0) {
				t.Error("two tokens are equal")
			}
		})
	}
}

func TestTokensAreKeptOnlyAsHashes(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken("octocat", "classic-pat", "", 0)
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	for _, rec := range f.s.tokens {
		if rec.lastEight != token[len(token)-8:] {
			t.Errorf("lastEight = %q, want the token's last eight", rec.lastEight)
		}
		if rec.hashHex == token {
			t.Error("the record holds the token itself")
		}
	}
}

func TestIssueTokenPanicsOnAnUnknownKind(t *testing.T) {
	f := newFixture(t)
	defer func() {
		if recover() == nil {
			t.Error("IssueToken with kind \"pat\" did not panic")
		}
	}()
	f.s.IssueToken("octocat", "pat", "", 0)
}
