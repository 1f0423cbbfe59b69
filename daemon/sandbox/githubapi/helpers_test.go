package githubapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

// start is when every test's fake clock begins.
var start = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// fixture is a stand-in served on loopback, with its fake clock and log.
type fixture struct {
	s     *Server
	srv   *httptest.Server
	clock *clock.Fake
	logs  *syncbuf.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(start), logs: &syncbuf.Buffer{}}
	f.s = New(Options{Clock: f.clock, Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	f.srv = httptest.NewServer(f.s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request and returns the answer with its body read.
func (f *fixture) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL.Path, err)
	}
	return resp, body
}

// get sends GET path with a bearer token ("" = none).
func (f *fixture) get(t *testing.T, path, token string) (*http.Response, []byte) {
	t.Helper()
	req := f.newRequest(t, http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.do(t, req)
}

func (f *fixture) newRequest(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	return req
}

// checkToken calls "Check a token" with basic auth id:secret.
func (f *fixture) checkToken(t *testing.T, clientID, id, secret, token string) (*http.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"access_token": token})
	req := f.newRequest(t, http.MethodPost, "/applications/"+clientID+"/token", bytes.NewReader(body))
	req.SetBasicAuth(id, secret)
	return f.do(t, req)
}

// wantStatus fails unless resp has status want.
func wantStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d; body %s", resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// decodeMap decodes a JSON object.
func decodeMap(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return m
}

// waitFor waits (in real time, at most 5s) until cond holds; the server's
// state is read under its lock.
func waitFor(t *testing.T, s *Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// assertNoSecrets fails if any secret shows in the log or in the bodies.
func assertNoSecrets(t *testing.T, where string, text string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("%s contains a secret (%s…)", where, secret[:min(6, len(secret))])
		}
	}
}
