package source_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/source"
)

const requestToken = "runner-request-token-secret"

// idTokenServer is a scripted Actions ID-token endpoint: each request gets
// the next reply; the last one repeats.
type idTokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	replies  []reply
	requests []*http.Request
}

type reply struct {
	status int
	body   string
}

func newIDTokenServer(t *testing.T, replies ...reply) *idTokenServer {
	t.Helper()
	s := &idTokenServer{replies: replies}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r)
		rep := s.replies[min(len(s.requests), len(s.replies))-1]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		fmt.Fprint(w, rep.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *idTokenServer) calls() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

func valueBody(tok string) string {
	b, _ := json.Marshal(map[string]any{"count": 1, "value": tok})
	return string(b)
}

func TestActionsRequestsTheTokenForTheAudience(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		audience  string
		wantQuery string
	}{
		{"an audience is appended to the runner's query", "/idtoken?api-version=2.0", "sts.amazonaws.com", "api-version=2.0&audience=sts.amazonaws.com"},
		{"an audience starts the query when the URL has none", "/idtoken", "sts.amazonaws.com", "audience=sts.amazonaws.com"},
		{"an audience with reserved characters is escaped", "/idtoken?api-version=2.0", "api://My App/x&y=z", "api-version=2.0&audience=api%3A%2F%2FMy+App%2Fx%26y%3Dz"},
		{"an empty audience leaves the endpoint's default", "/idtoken?api-version=2.0", "", "api-version=2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := validJWT(t, 1)
			srv := newIDTokenServer(t, reply{200, valueBody(want)})
			a, err := source.NewActions(source.ActionsConfig{RequestURL: srv.URL + tt.path, RequestToken: requestToken, Audience: tt.audience})
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Token(context.Background())
			if err != nil || got != want {
				t.Fatalf("Token = %q, %v", got, err)
			}
			calls := srv.calls()
			if len(calls) != 1 {
				t.Fatalf("%d requests, want 1", len(calls))
			}
			r := calls[0]
			if r.Method != http.MethodGet || r.URL.Path != "/idtoken" || r.URL.RawQuery != tt.wantQuery {
				t.Errorf("request %s %s?%s, want GET /idtoken?%s", r.Method, r.URL.Path, r.URL.RawQuery, tt.wantQuery)
			}
			if got := r.URL.Query().Get("audience"); got != tt.audience {
				t.Errorf("audience the server read = %q, want %q", got, tt.audience)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+requestToken {
				t.Errorf("Authorization = %q", got)
			}
			if got := r.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q", got)
			}
			if a.Name() != "actions" {
				t.Errorf("Name = %q", a.Name())
			}
		})
	}
}

func TestActionsClassifiesFailures(t *testing.T) {
	good := validJWT(t, 1)
	echo := `{"message":"bad token ` + requestToken + `"}`
	tests := []struct {
		name      string
		replies   []reply
		wantCalls int
		wantCode  daemon.Code // "" = success
		wantKind  daemon.Kind
		wantMsg   string
		wantHint  string
	}{
		{name: "two server errors then success are retried to success",
			replies: []reply{{500, echo}, {502, ""}, {200, valueBody(good)}}, wantCalls: 3},
		{name: "persistent server errors are retryable after three attempts",
			replies: []reply{{500, echo}}, wantCalls: 3,
			wantCode: "ActionsTokenRequestFailed", wantKind: daemon.KindRetryable, wantMsg: "500 Internal Server Error"},
		{name: "throttling is retryable",
			replies: []reply{{429, echo}}, wantCalls: 3,
			wantCode: "ActionsTokenRequestFailed", wantKind: daemon.KindRetryable, wantMsg: "429 Too Many Requests"},
		{name: "an unauthorized request token is permanent and not retried",
			replies: []reply{{401, echo}}, wantCalls: 1,
			wantCode: "ActionsTokenDenied", wantKind: daemon.KindPermanent, wantMsg: "401 Unauthorized", wantHint: "permissions: id-token: write"},
		{name: "a forbidden request is permanent and not retried",
			replies: []reply{{403, echo}}, wantCalls: 1,
			wantCode: "ActionsTokenDenied", wantKind: daemon.KindPermanent, wantMsg: "403 Forbidden", wantHint: "permissions: id-token: write"},
		{name: "a wrong URL is permanent",
			replies: []reply{{404, echo}}, wantCalls: 1,
			wantCode: "ActionsTokenRequestFailed", wantKind: daemon.KindPermanent, wantMsg: "404 Not Found", wantHint: "ACTIONS_ID_TOKEN_REQUEST_URL"},
		{name: "a 200 that is not JSON is retried then reported",
			replies: []reply{{200, "<html>proxy login</html>"}}, wantCalls: 3,
			wantCode: "ActionsTokenMalformed", wantKind: daemon.KindRetryable, wantMsg: `without a JSON "value"`},
		{name: "a 200 with an empty value is retried then reported",
			replies: []reply{{200, `{"value":""}`}}, wantCalls: 3,
			wantCode: "ActionsTokenMalformed", wantKind: daemon.KindRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each retry series takes half a second
			srv := newIDTokenServer(t, tt.replies...)
			a, err := source.NewActions(source.ActionsConfig{RequestURL: srv.URL + "/idtoken?api-version=2.0", RequestToken: requestToken, Audience: "sts.amazonaws.com"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Token(context.Background())
			if n := len(srv.calls()); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
			if tt.wantCode == "" {
				if err != nil || got != good {
					t.Fatalf("Token = %q, %v", got, err)
				}
				return
			}
			e := wantError(t, err, tt.wantCode, tt.wantKind)
			wantContains(t, "message", e.Message, tt.wantMsg)
			wantContains(t, "hint", e.Hint, tt.wantHint)
			wantNotContains(t, "error", err.Error(), requestToken, "bad token", "proxy login")
		})
	}
}

func TestActionsNetworkFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	a, err := source.NewActions(source.ActionsConfig{RequestURL: url + "/idtoken", RequestToken: requestToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Token(context.Background())
	wantError(t, err, "ActionsTokenRequestFailed", daemon.KindRetryable)
	wantNotContains(t, "error", err.Error(), requestToken)
}

func TestActionsStopsRetryingWhenTheContextIsDone(t *testing.T) {
	srv := newIDTokenServer(t, reply{503, ""})
	a, err := source.NewActions(source.ActionsConfig{RequestURL: srv.URL, RequestToken: requestToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = a.Token(ctx)
	if elapsed := time.Since(start); elapsed > 300*time.Millisecond {
		t.Errorf("Token took %s after the context ended", elapsed)
	}
	wantError(t, err, "ActionsTokenRequestFailed", daemon.KindRetryable)
	if n := len(srv.calls()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestActionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // a substring of the message; "" = success
	}{
		{"both variables make a source", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.example/idtoken?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"}, ""},
		{"no variables (as in Codespaces) is unavailable", map[string]string{}, "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN not set"},
		{"a URL without a request token is unavailable", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/"}, "ACTIONS_ID_TOKEN_REQUEST_TOKEN not set"},
		{"a request token without a URL is unavailable", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"}, "ACTIONS_ID_TOKEN_REQUEST_URL not set"},
		{"a URL that is not http(s) is unavailable", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "file:///etc/passwd", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"}, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := source.ActionsFromEnv("sts.amazonaws.com", func(k string) string { return tt.env[k] })
			if tt.wantErr == "" {
				if err != nil || a == nil {
					t.Fatalf("ActionsFromEnv = %v, %v", a, err)
				}
				return
			}
			e := wantError(t, err, "ActionsTokenUnavailable", daemon.KindPermanent)
			wantContains(t, "message", e.Message, tt.wantErr)
			if !strings.Contains(tt.wantErr, "http(s)") {
				wantContains(t, "hint", e.Hint, "permissions: id-token: write", "Codespaces", "--token-source login or file")
			}
		})
	}
}

// The endpoint's refusals read as one sentence each: nothing doubled, not
// a bracket (the hint goes in parentheses in daemon.Error's text) nor a
// prefix. GitHub answers an error with a JSON body whose "message" says
// why, which @actions/core shows (actions/toolkit,
// packages/core/src/oidc-utils.ts: `error.result.message`); a proxy in
// between answers with text. credd never shows the body: it may echo the
// request.
func TestActionsErrorsReadWithoutDoubledWords(t *testing.T) {
	bodies := map[string]string{
		"a JSON body": `{"message":"Unable to get ACTIONS_ID_TOKEN_REQUEST_URL (bad token)"}`,
		"a text body": "Forbidden (id-token: write) [denied]",
	}
	for bodyName, body := range bodies {
		for _, status := range []int{400, 401, 403, 404, 500, 503} {
			t.Run(fmt.Sprintf("%d with %s", status, bodyName), func(t *testing.T) {
				t.Parallel() // a retryable status takes half a second
				srv := newIDTokenServer(t, reply{status, body})
				a, err := source.NewActions(source.ActionsConfig{RequestURL: srv.URL + "/idtoken?api-version=2.0", RequestToken: requestToken, Audience: "sts.amazonaws.com"})
				if err != nil {
					t.Fatal(err)
				}
				_, err = a.Token(context.Background())
				if err == nil {
					t.Fatal("no error")
				}
				wantReadsOnce(t, err.Error())
				wantNotContains(t, "error", err.Error(), "bad token", "denied", requestToken)
			})
		}
	}
	t.Run("not configured", func(t *testing.T) {
		_, err := source.ActionsFromEnv("sts.amazonaws.com", func(string) string { return "" })
		wantReadsOnce(t, err.Error())
	})
}

// wantReadsOnce fails if s doubles a bracket or repeats a leading phrase.
func wantReadsOnce(t *testing.T, s string) {
	t.Helper()
	wantNotContains(t, "error", s, "((", "))", "[[", "]]", "( (", ") )")
	if strings.Count(s, "(") != strings.Count(s, ")") {
		t.Errorf("error %q has unbalanced parentheses", s)
	}
	words := strings.Fields(s)
	for n := 2; n <= 4 && 2*n <= len(words); n++ {
		first := strings.Join(words[:n], " ")
		if strings.Count(s, first) > 1 {
			t.Errorf("error %q repeats %q", s, first)
		}
	}
}
