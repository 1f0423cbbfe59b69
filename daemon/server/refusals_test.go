package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
	"github.com/credd-dev/credd/daemon/server"
)

// logLines captures slog records as JSON objects.
type logLines struct{ syncbuf.Buffer }

// warnings returns the warning lines logged so far, and forgets them.
func (l *logLines) warnings(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.Take()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == "WARN" {
			out = append(out, m)
		}
	}
	return out
}

func loggingHandler(t *testing.T, fake *clock.Fake) (*server.Handler, *logLines) {
	t.Helper()
	lines := &logLines{}
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("DEFAULT")), "admin": serving(testCreds("ADMIN"))}, func(c *server.Config) {
		c.Clock = fake
		c.Logger = slog.New(slog.NewJSONHandler(lines, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	return h, lines
}

func TestEachRefusalIsNamedWithItsReasonAndRemedy(t *testing.T) {
	const wrongToken = "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLK"
	for _, tt := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   daemon.Refusal
		status int
	}{
		{"no token", "GET", "/v1/credentials", map[string]string{}, daemon.RefusedNoToken, 401},
		{"a wrong token", "GET", "/v1/credentials", map[string]string{"Authorization": wrongToken}, daemon.RefusedWrongToken, 401},
		{"a Bearer token", "GET", "/v1/credentials", map[string]string{"Authorization": "Bearer " + testToken}, daemon.RefusedTokenScheme, 401},
		{"a foreign Host", "GET", "/v1/credentials", auth("Host", "evil.example:9911"), daemon.RefusedHost, 403},
		{"a browser's Origin", "GET", "/v1/credentials", auth("Origin", "https://evil.example"), daemon.RefusedBrowser, 403},
		{"a proxy's X-Forwarded-For", "GET", "/v1/credentials", auth("X-Forwarded-For", "10.0.0.1"), daemon.RefusedProxy, 403},
		{"a POST", "POST", "/v1/credentials", auth(), daemon.RefusedMethod, 405},
		{"an unknown role", "GET", "/v1/credentials/nope", auth(), daemon.RefusedUnknownRole, 404},
		{"an unknown path", "GET", "/latest/meta-data/" + testToken, auth(), daemon.RefusedUnknownPath, 404},
	} {
		t.Run(tt.name+" is logged as "+string(tt.want), func(t *testing.T) {
			h, lines := loggingHandler(t, clock.NewFake(now))
			r := newRequest(tt.method, tt.path, tt.header)
			r.Header.Set("User-Agent", "aws-sdk-go/1.55.8 (go1.26; linux; amd64)")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			ws := lines.warnings(t)
			if len(ws) != 1 {
				t.Fatalf("warnings = %v, want one", ws)
			}
			got := ws[0]
			if got["reason"] != string(tt.want) || got["client"] != "aws-sdk-go" || got["fix"] != tt.want.Fix() ||
				!strings.Contains(got["msg"].(string), tt.want.Did()) || got["status"] != float64(tt.status) {
				t.Errorf("warning = %v", got)
			}
			for _, secret := range []string{testToken, wrongToken} {
				for k, v := range got {
					if s, ok := v.(string); ok && strings.Contains(s, secret) {
						t.Errorf("the warning's %s holds a token: %q", k, s)
					}
				}
			}
			rc := h.Refusals()
			if len(rc) != 1 || rc[0].Reason != tt.want || rc[0].Client != "aws-sdk-go" || rc[0].Count != 1 || rc[0].Status != tt.status || !rc[0].LastSeen.Equal(now) {
				t.Errorf("Refusals() = %+v", rc)
			}
		})
	}
}

func TestRequestsThatAreNotRefusalsAreNotLoggedAsSuch(t *testing.T) {
	fake := clock.NewFake(now)
	lines := &logLines{}
	waiting := newHandler(t, nil, func(c *server.Config) {
		c.Clock = fake
		c.Logger = slog.New(slog.NewJSONHandler(lines, nil))
	})
	h, hlines := loggingHandler(t, fake)
	for _, tt := range []struct {
		h *server.Handler
		r *http.Request
	}{
		{h, newRequest("GET", "/v1/credentials", auth())},
		{h, newRequest("GET", "/healthz", nil)},
		{waiting, newRequest("GET", "/v1/credentials", auth())},     // 503: no role yet
		{waiting, newRequest("GET", "/v1/credentials/dev", auth())}, // 503 too
	} {
		tt.h.ServeHTTP(httptest.NewRecorder(), tt.r)
	}
	if ws := append(lines.warnings(t), hlines.warnings(t)...); len(ws) != 0 {
		t.Errorf("warnings = %v, want none", ws)
	}
	if rc := append(h.Refusals(), waiting.Refusals()...); len(rc) != 0 {
		t.Errorf("refusals = %+v, want none", rc)
	}
}

func TestRefusalsAreLoggedFirstThenSummedUpOncePerMinute(t *testing.T) {
	fake := clock.NewFake(now)
	h, lines := loggingHandler(t, fake)
	refuse := func(ua string) {
		t.Helper()
		r := newRequest("GET", "/v1/credentials", nil)
		r.Header.Set("User-Agent", ua)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	const cli, curl = "aws-cli/2.15.0 md/Botocore#2.0", "curl/8.5.0"

	refuse(cli) // the first from aws-cli: logged at once
	if ws := lines.warnings(t); len(ws) != 1 || ws[0]["client"] != "aws-cli/botocore" {
		t.Fatalf("first refusal: %v", ws)
	}
	for range 50 { // a retry loop: counted, not logged
		fake.Advance(time.Second)
		refuse(cli)
		if ws := lines.warnings(t); len(ws) != 0 {
			t.Fatalf("a repeat within the minute was logged: %v", ws)
		}
	}
	refuse(curl) // the first from curl: logged at once, even within the minute
	if ws := lines.warnings(t); len(ws) != 1 || ws[0]["client"] != "curl" {
		t.Fatalf("curl's first refusal: %v", ws)
	}
	fake.Advance(30 * time.Second)
	refuse(cli)
	if ws := lines.warnings(t); len(ws) != 0 {
		t.Fatalf("logged within the minute after curl's line: %v", ws)
	}
	fake.Advance(31 * time.Second) // a minute after curl's line
	refuse(curl)
	ws := lines.warnings(t)
	if len(ws) != 1 {
		t.Fatalf("after the minute: %v, want one summary", ws)
	}
	if s := ws[0]; s["count"] != float64(52) || s["clients"] != "aws-cli/botocore,curl" || s["reason"] != "no-token" || s["last_user_agent"] != curl || s["since"] != now.Add(time.Second).Format(time.RFC3339) {
		t.Errorf("summary = %v", s)
	}

	got := map[string]daemon.RefusalCount{}
	for _, rc := range h.Refusals() {
		got[rc.Client] = rc
	}
	if c := got["aws-cli/botocore"]; c.Count != 52 || !c.FirstSeen.Equal(now) || !c.LastSeen.Equal(now.Add(80*time.Second)) {
		t.Errorf("aws-cli = %+v", c)
	}
	if c := got["curl"]; c.Count != 2 || !c.LastSeen.Equal(now.Add(111*time.Second)) {
		t.Errorf("curl = %+v", c)
	}
}

func TestLoggedUserAgentsAreCutAndEscaped(t *testing.T) {
	h, lines := loggingHandler(t, clock.NewFake(now))
	r := newRequest("GET", "/v1/credentials", nil)
	r.Header["User-Agent"] = []string{"evil\x1b]0;pwned\x07\r\nlevel=ERROR forged " + strings.Repeat("é", 200)}
	h.ServeHTTP(httptest.NewRecorder(), r)
	ws := lines.warnings(t)
	if len(ws) != 1 {
		t.Fatalf("warnings = %v", ws)
	}
	ua := ws[0]["user_agent"].(string)
	if strings.ContainsAny(ua, "\x1b\x07\r\n") || !strings.HasPrefix(ua, `evil\x1b]0;pwned\x07\r\nlevel=ERROR forged é`) {
		t.Errorf("user_agent = %q", ua)
	}
	if len(ua) > 200 || !strings.HasSuffix(ua, "é…") {
		t.Errorf("user_agent not cut on a character boundary: %d bytes, %q", len(ua), ua[len(ua)-10:])
	}
}

// However many distinct User-Agents and reasons come in, the book keeps
// one entry per reason and family.
func TestRefusalsAreBounded(t *testing.T) {
	h, _ := loggingHandler(t, clock.NewFake(now))
	for i := range 2000 {
		r := newRequest("GET", "/v1/credentials", nil)
		r.Header.Set("User-Agent", "scanner-"+strings.Repeat("x", i%97)+"/"+string(rune('a'+i%26)))
		if i%2 == 0 {
			r.Header.Set("Authorization", "wrong")
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	rc := h.Refusals()
	if len(rc) != 2 {
		t.Fatalf("%d entries, want 2 (no-token and wrong-token from other): %+v", len(rc), rc)
	}
	for _, c := range rc {
		if c.Client != "other" || c.Count != 1000 {
			t.Errorf("%+v", c)
		}
	}
}

func TestRefusalLoggingIsSafeUnderLoad(t *testing.T) {
	h, _ := loggingHandler(t, clock.NewFake(now))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				r := newRequest("GET", "/v1/credentials", map[string]string{"Authorization": "nope"}).WithContext(context.Background())
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
	wg.Wait()
	if rc := h.Refusals(); len(rc) != 1 || rc[0].Count != 1600 {
		t.Errorf("refusals = %+v", rc)
	}
}
