package githubapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRateLimitHeadersCountDownPerToken(t *testing.T) {
	f := newFixture(t)
	one := f.s.IssueToken("octocat", "app-user", "", 0)
	two := f.s.IssueToken("octocat", "app-user", "", 0)
	reset := strconv.FormatInt(start.Add(time.Hour).Unix(), 10)

	for i := 1; i <= 3; i++ {
		resp, body := f.get(t, "/user", one)
		wantStatus(t, resp, body, http.StatusOK)
		want := map[string]string{
			"x-ratelimit-limit":     "5000",
			"x-ratelimit-remaining": strconv.Itoa(5000 - i),
			"x-ratelimit-used":      strconv.Itoa(i),
			"x-ratelimit-reset":     reset,
			"x-ratelimit-resource":  "core",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("call %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}
	resp, _ := f.get(t, "/repos/acme/missing", two)
	if got := resp.Header.Get("x-ratelimit-remaining"); got != "4999" {
		t.Errorf("another token's remaining = %q, want its own 4999", got)
	}
}

func TestAtZeroGitHubsRateLimitAnswerComesBackUntilTheWindowResets(t *testing.T) {
	f := newFixture(t)
	u := f.s.AddUser("octocat")
	token := f.s.IssueToken("octocat", "app-user", "", 0)
	f.s.SetRateLimit(token, 1)

	resp, body := f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusOK)
	if got := resp.Header.Get("x-ratelimit-remaining"); got != "0" {
		t.Errorf("remaining after the last call = %q, want 0", got)
	}

	resp, body = f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusForbidden)
	if got := resp.Header.Get("x-ratelimit-remaining"); got != "0" {
		t.Errorf("x-ratelimit-remaining = %q, want 0", got)
	}
	want := fmt.Sprintf("API rate limit exceeded for user ID %d.", u.ID)
	if got := decodeMap(t, body)["message"]; got != want {
		t.Errorf("message = %v, want %q", got, want)
	}
	resp, body = f.get(t, "/repos/acme/app", token)
	wantStatus(t, resp, body, http.StatusForbidden)

	f.clock.Advance(time.Hour)
	resp, body = f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusOK)
	if got := resp.Header.Get("x-ratelimit-remaining"); got != "4999" {
		t.Errorf("remaining in the new window = %q, want 4999", got)
	}
}

func TestEveryAnswerCarriesGitHubsHeaders(t *testing.T) {
	f := newFixture(t)
	f.s.AddApp("Iv1.app", "app-secret", true)
	token := f.s.IssueToken("octocat", "app-user", "Iv1.app", 0)
	requests := map[string]*http.Request{
		"GET /user":              f.newRequest(t, http.MethodGet, "/user", nil),
		"GET /user unauthorized": f.newRequest(t, http.MethodGet, "/user", nil),
		"GET /repos not found":   f.newRequest(t, http.MethodGet, "/repos/acme/missing", nil),
		"an unknown path":        f.newRequest(t, http.MethodGet, "/nope", nil),
		"check a token":          f.newRequest(t, http.MethodPost, "/applications/Iv1.app/token", strings.NewReader(`{"access_token":"`+token+`"}`)),
		"device code":            f.newRequest(t, http.MethodPost, "/login/device/code?client_id=Iv1.app", nil),
		"access token":           f.newRequest(t, http.MethodPost, "/login/oauth/access_token?grant_type=x", nil),
	}
	requests["GET /user"].Header.Set("Authorization", "Bearer "+token)
	requests["check a token"].SetBasicAuth("Iv1.app", "app-secret")
	requests["device code"].Header.Set("Accept", "application/json")
	requests["access token"].Header.Set("Accept", "application/json")
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			resp, _ := f.do(t, req)
			for _, h := range []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used", "x-github-request-id"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("%s missing", h)
				}
			}
			if got := resp.Header.Get("x-ratelimit-resource"); got != "core" {
				t.Errorf("x-ratelimit-resource = %q, want core", got)
			}
			if got := resp.Header.Get("x-github-api-version-selected"); got != "2022-11-28" {
				t.Errorf("x-github-api-version-selected = %q, want 2022-11-28", got)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q, want application/json; charset=utf-8", got)
			}
		})
	}
}
