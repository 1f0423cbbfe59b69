package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/server"
)

// TestMetadataPaths checks the task metadata paths: delegated without a
// token (the ECS endpoint has none and its readers send none), but behind
// the same Host, browser and proxy refusals as the credentials.
func TestMetadataPaths(t *testing.T) {
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("A"))})

	get := func(path string, header map[string]string) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newRequest(http.MethodGet, path, header))
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		return rec.Code, rec.Body.String()
	}

	// Not mirrored: a 404 that says how to turn it on.
	if code, body := get("/v4/abc", nil); code != http.StatusNotFound || !strings.Contains(body, "--ecs-task-definition") {
		t.Errorf("without a task: %d %s", code, body)
	}

	var seen []string
	h.SetMetadata(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v4/gone" {
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	for _, path := range []string{"/v4/abc", "/v4/abc/task", "/v3/abc/stats"} {
		if code, body := get(path, nil); code != http.StatusOK || body != `{"ok":true}` {
			t.Errorf("GET %s without a token: %d %s", path, code, body)
		}
	}
	if code, _ := get("/v4/gone", nil); code != http.StatusNotFound {
		t.Errorf("the delegate's status is not passed on: %d", code)
	}
	refused := []map[string]string{
		{"Host": "evil.example"},
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
		{"X-Forwarded-For": "10.0.0.1"},
	}
	for _, hdr := range refused {
		if code, _ := get("/v4/abc", hdr); code != http.StatusForbidden {
			t.Errorf("GET /v4/abc with %v: %d, want 403", hdr, code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(http.MethodPost, "/v4/abc", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /v4/abc: %d", rec.Code)
	}
	if len(seen) != 4 {
		t.Errorf("the delegate saw %v; refused requests must not reach it", seen)
	}
	counts := map[int]int64{}
	for _, c := range h.Counts() {
		if c.Path == server.MetadataPaths {
			counts[c.Status] = c.Count
		}
	}
	want := map[int]int64{200: 3, 404: 2, 403: 4, 405: 1}
	for s, n := range want {
		if counts[s] != n {
			t.Errorf("counts of %q: %v, want %v", server.MetadataPaths, counts, want)
			break
		}
	}

	h.SetMetadata(nil)
	if code, _ := get("/v4/abc", nil); code != http.StatusNotFound {
		t.Errorf("after SetMetadata(nil): %d", code)
	}
}
