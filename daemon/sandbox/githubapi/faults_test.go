package githubapi

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestServerErrorFaultsHitTheNextNMatchingRequests(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken("octocat", "app-user", "", 0)
	f.s.AddRepo("acme/app", false)
	f.s.InjectFault("/user", Fault{Status: http.StatusBadGateway}, 2)

	resp, body := f.get(t, "/repos/acme/app", token)
	wantStatus(t, resp, body, http.StatusOK) // another path is untouched
	for range 2 {
		resp, body = f.get(t, "/user", token)
		wantStatus(t, resp, body, http.StatusBadGateway)
		if got := decodeMap(t, body)["message"]; got != "Bad Gateway" {
			t.Errorf("message = %v, want Bad Gateway", got)
		}
	}
	resp, body = f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusOK)

	if got := f.s.Requests("/user"); got != 3 {
		t.Errorf("Requests(/user) = %d, want 3", got)
	}
	if got := f.s.Requests(""); got != 4 {
		t.Errorf("Requests(\"\") = %d, want 4", got)
	}
	if got := f.s.Requests("/applications/"); got != 0 {
		t.Errorf("Requests(/applications/) = %d, want 0", got)
	}
}

func TestAFaultForeverLastsUntilTheServerGoes(t *testing.T) {
	f := newFixture(t)
	f.s.InjectFault("", Fault{Status: http.StatusServiceUnavailable}, 0)
	for range 3 {
		resp, body := f.get(t, "/user", "")
		wantStatus(t, resp, body, http.StatusServiceUnavailable)
	}
}

func TestRateLimitedFaultsAnswerAsGitHubsRateLimit(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken("octocat", "app-user", "", 0)
	f.s.InjectFault("/repos/", Fault{RateLimited: true}, 1)
	f.s.InjectFault("/repos/", Fault{RateLimited: true, Status: http.StatusTooManyRequests}, 1)

	resp, body := f.get(t, "/repos/acme/app", token)
	wantStatus(t, resp, body, http.StatusForbidden)
	if got := resp.Header.Get("x-ratelimit-remaining"); got != "0" {
		t.Errorf("x-ratelimit-remaining = %q, want 0", got)
	}
	if resp.Header.Get("x-ratelimit-reset") == "" {
		t.Error("x-ratelimit-reset missing")
	}

	resp, body = f.get(t, "/repos/acme/app", token)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("retry-after") == "" || resp.Header.Get("x-ratelimit-remaining") != "0" {
		t.Errorf("retry-after %q, remaining %q; want both", resp.Header.Get("retry-after"), resp.Header.Get("x-ratelimit-remaining"))
	}
}

func TestADelayFaultHoldsTheAnswerUntilTheClientGivesUp(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken("octocat", "app-user", "", 0)
	f.s.InjectFault("/user", Fault{Delay: time.Minute}, 1)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req := f.newRequest(t, http.MethodGet, "/user", nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("status %d, want the client's deadline to pass", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}

	resp2, body := f.get(t, "/user", token)
	wantStatus(t, resp2, body, http.StatusOK) // the fault is used up
}

func TestAShortDelayFaultThenAnswersNormally(t *testing.T) {
	f := newFixture(t)
	token := f.s.IssueToken("octocat", "app-user", "", 0)
	f.s.InjectFault("/user", Fault{Delay: time.Millisecond}, 1)
	resp, body := f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusOK)
}
