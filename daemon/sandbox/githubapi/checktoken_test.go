package githubapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckTokenKnowsOnlyTheAppsOwnGoodTokens(t *testing.T) {
	f := newFixture(t)
	f.s.AddApp("Iv1.app", "app-secret", true)
	f.s.AddApp("Iv1.other", "other-secret", true)
	mine := f.s.IssueToken("octocat", "app-user", "Iv1.app", 8*time.Hour)
	others := f.s.IssueToken("octocat", "app-user", "Iv1.other", 8*time.Hour)
	pat := f.s.IssueToken("octocat", "classic-pat", "", 0)
	revoked := f.s.IssueToken("octocat", "app-user", "Iv1.app", 8*time.Hour)
	f.s.Revoke(revoked)
	expired := f.s.IssueToken("octocat", "app-user", "Iv1.app", time.Minute)
	f.clock.Advance(time.Minute)

	tests := []struct {
		name       string
		id, secret string
		token      string
		wantStatus int
	}{
		{"the app's own token is found", "Iv1.app", "app-secret", mine, http.StatusOK},
		{"another app's token is not found", "Iv1.app", "app-secret", others, http.StatusNotFound},
		{"a personal access token is not found", "Iv1.app", "app-secret", pat, http.StatusNotFound},
		{"a revoked token is not found", "Iv1.app", "app-secret", revoked, http.StatusNotFound},
		{"an expired token is not found", "Iv1.app", "app-secret", expired, http.StatusNotFound},
		{"no token is a validation error", "Iv1.app", "app-secret", "", http.StatusUnprocessableEntity},
		{"a wrong client secret is refused", "Iv1.app", "wrong", mine, http.StatusUnauthorized},
		{"another app's credentials are refused", "Iv1.other", "other-secret", mine, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.checkToken(t, "Iv1.app", tt.id, tt.secret, tt.token)
			wantStatus(t, resp, body, tt.wantStatus)
			if tt.wantStatus != http.StatusOK {
				assertNoSecrets(t, "error body", string(body), mine, others, pat, revoked, expired, "app-secret")
			}
		})
	}
	assertNoSecrets(t, "log", f.logs.String(), mine, others, pat, revoked, expired, "app-secret", "other-secret")
}

func TestCheckTokenWithoutBasicAuthIsRefused(t *testing.T) {
	f := newFixture(t)
	f.s.AddApp("Iv1.app", "app-secret", true)
	req := f.newRequest(t, http.MethodPost, "/applications/Iv1.app/token", strings.NewReader(`{"access_token":"x"}`))
	resp, body := f.do(t, req)
	wantStatus(t, resp, body, http.StatusUnauthorized)
}
