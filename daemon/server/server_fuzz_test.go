package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/server"
)

const fuzzToken = "fuzz-token-0123456789abcdefghijklmnopqrstuv" // 43 characters

// FuzzServeHTTP sends arbitrary requests (method, target, Host, headers,
// with or without the right token) through net/http's parser to the
// handler: it never panics, never answers 200 without the exact token on a
// GET of a credentials path, and every body is JSON with the JSON type.
func FuzzServeHTTP(f *testing.F) {
	f.Add("GET", "/v1/credentials", "127.0.0.1:9911", "", true)
	f.Add("GET", "/v1/credentials/ops", "localhost", "Accept: application/json", true)
	f.Add("GET", "/v1/credentials", "127.0.0.1", "Origin: http://evil", true)
	f.Add("POST", "/v1/credentials", "127.0.0.1", "Content-Length: 0", true)
	f.Add("GET", "/healthz", "[::1]:1", "", false)
	f.Add("GET", "/v1/credentials", "evil.example", "X-Forwarded-For: 1.2.3.4", true)
	f.Add("GET", "/v1/credentials/../credentials", "127.0.0.1", "Authorization: Bearer x", false)
	f.Add("OPTIONS", "*", "127.0.0.1", "", true)
	creds := &daemon.Credentials{AccessKeyID: "ASIAFUZZ", SecretAccessKey: "secret", SessionToken: "session",
		Expiration: time.Now().Add(24 * time.Hour), Obtained: time.Now()}
	p := serving(creds)
	h, err := server.New(server.Config{Roles: map[string]server.Provider{"default": p, "ops": p}, Token: fuzzToken})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, host, headers string, withToken bool) {
		var b strings.Builder
		b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
		for _, line := range strings.Split(headers, "\n") {
			if line = strings.TrimRight(line, "\r"); line != "" {
				b.WriteString(line + "\r\n")
			}
		}
		if withToken {
			b.WriteString("Authorization: " + fuzzToken + "\r\n")
		}
		b.WriteString("\r\n")
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
		if err != nil {
			return // net/http refuses it before any handler runs
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q for %q", ct, b.String())
		}
		if req.Method != http.MethodHead && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("body is not JSON: %q", w.Body.String())
		}
		if w.Code == http.StatusOK && strings.Contains(w.Body.String(), "SecretAccessKey") {
			auth := req.Header.Values("Authorization")
			if len(auth) != 1 || auth[0] != fuzzToken || req.Method != http.MethodGet {
				t.Fatalf("credentials served to %q", b.String())
			}
		}
		if w.Code != http.StatusOK && strings.Contains(w.Body.String(), creds.SecretAccessKey) {
			t.Fatalf("an error body holds the secret: %q", w.Body.String())
		}
	})
}
