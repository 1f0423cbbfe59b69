package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/golden"
	"github.com/credd-dev/credd/daemon/server"
)

const (
	testToken = "tok-abcdefghijklmnopqrstuvwxyzABCDEFGHIJ012"
	testHost  = "127.0.0.1:9911"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// provider is a hand-written fake: Current returns what cur holds, Await
// calls await (nil = return nil at once).
type provider struct {
	cur   atomic.Pointer[daemon.Credentials]
	await func(ctx context.Context) *daemon.Credentials
}

func (p *provider) Current() *daemon.Credentials { return p.cur.Load() }

func (p *provider) Await(ctx context.Context) *daemon.Credentials {
	if p.await == nil {
		return nil
	}
	return p.await(ctx)
}

func serving(c *daemon.Credentials) *provider {
	p := &provider{}
	p.cur.Store(c)
	return p
}

func testCreds(key string) *daemon.Credentials {
	return &daemon.Credentials{
		AccessKeyID:     "ASIA" + key,
		SecretAccessKey: "secret/" + key + "+abc",
		SessionToken:    "session-" + key,
		// The half second must be dropped, never rounded up.
		Expiration:     now.Add(time.Hour + 500*time.Millisecond),
		RoleARN:        "arn:aws:iam::123456789012:role/" + key,
		AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/" + key + "/alice",
		AccountID:      "123456789012",
		Obtained:       now,
	}
}

func newHandler(t testing.TB, roles map[string]server.Provider, mutate ...func(*server.Config)) *server.Handler {
	t.Helper()
	cfg := server.Config{
		Roles:        roles,
		Token:        testToken,
		TokenFile:    "/run/credd/token",
		Clock:        clock.NewFake(now),
		AwaitTimeout: 20 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	return h
}

func newRequest(method, path string, header map[string]string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.Host = testHost
	for k, v := range header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	return r
}

func auth(extra ...string) map[string]string {
	h := map[string]string{"Authorization": testToken}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

func TestEndpoint(t *testing.T) {
	roles := map[string]server.Provider{
		"":      serving(testCreds("DEFAULT")),
		"admin": serving(testCreds("ADMIN")),
		"ci":    serving(nil),
	}
	tests := []struct {
		name    string
		method  string
		path    string
		header  map[string]string
		status  int
		golden  string
		headers map[string]string
	}{
		{name: "the default role is served with the token", path: "/v1/credentials", header: auth(), status: 200, golden: "credentials-default"},
		{name: "a named role is served on its own path", path: "/v1/credentials/admin", header: auth(), status: 200, golden: "credentials-admin"},
		{name: "the default role is also served as /v1/credentials/default", path: "/v1/credentials/default", header: auth(), status: 200, golden: "credentials-default"},
		{name: "the query string is ignored", path: "/v1/credentials?x=1", header: auth(), status: 200, golden: "credentials-default"},
		{name: "Accept and User-Agent are ignored", path: "/v1/credentials", header: auth("Accept", "text/html", "User-Agent", "curl/8"), status: 200, golden: "credentials-default"},
		{name: "localhost is an accepted Host", path: "/v1/credentials", header: auth("Host", "localhost:9911"), status: 200, golden: "credentials-default"},
		{name: "an IPv6 loopback Host in brackets is accepted", path: "/v1/credentials", header: auth("Host", "[::1]:9911"), status: 200, golden: "credentials-default"},
		{name: "a Host without a port is accepted", path: "/v1/credentials", header: auth("Host", "127.0.0.1"), status: 200, golden: "credentials-default"},

		{name: "healthz answers without a token", path: "/healthz", status: 200, golden: "healthz"},
		{name: "healthz ignores a wrong token", path: "/healthz", header: map[string]string{"Authorization": "nope"}, status: 200, golden: "healthz"},

		{name: "a POST is refused with 405 and Allow GET", method: "POST", path: "/v1/credentials", header: auth(), status: 405, golden: "method-not-allowed", headers: map[string]string{"Allow": "GET"}},
		{name: "a HEAD is refused with 405", method: "HEAD", path: "/v1/credentials", header: auth(), status: 405, golden: "method-not-allowed", headers: map[string]string{"Allow": "GET"}},
		{name: "an OPTIONS on healthz is refused with 405", method: "OPTIONS", path: "/healthz", status: 405, golden: "method-not-allowed"},
		{name: "a PUT without a token is refused with 405 before auth", method: "PUT", path: "/v1/credentials", status: 405, golden: "method-not-allowed"},

		{name: "a missing token gets 401 saying how to send one", path: "/v1/credentials", status: 401, golden: "unauthorized-missing"},
		{name: "an empty token counts as missing", path: "/v1/credentials", header: map[string]string{"Authorization": ""}, status: 401, golden: "unauthorized-missing"},
		{name: "a wrong token gets 401 naming the token file", path: "/v1/credentials", header: map[string]string{"Authorization": "tok-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}, status: 401, golden: "unauthorized-wrong"},
		{name: "a token of another length gets the same 401", path: "/v1/credentials", header: map[string]string{"Authorization": "short"}, status: 401, golden: "unauthorized-wrong"},
		{name: "a token in the wrong case gets 401", path: "/v1/credentials", header: map[string]string{"Authorization": strings.ToUpper(testToken)}, status: 401, golden: "unauthorized-wrong"},
		{name: "a Bearer token gets 401 explaining the raw header", path: "/v1/credentials", header: map[string]string{"Authorization": "Bearer " + testToken}, status: 401, golden: "unauthorized-scheme"},
		{name: "a named role needs the token too", path: "/v1/credentials/admin", status: 401, golden: "unauthorized-missing"},
		{name: "an unknown role needs the token before it is named", path: "/v1/credentials/nope", status: 401, golden: "unauthorized-missing"},

		{name: "an unknown role gets 404 listing the configured names", path: "/v1/credentials/nope", header: auth(), status: 404, golden: "unknown-role"},
		{name: "an empty role name gets 404", path: "/v1/credentials/", header: auth(), status: 404, golden: "unknown-role-empty"},
		{name: "an unknown path gets 404 naming the served paths", path: "/latest/meta-data/", header: auth(), status: 404, golden: "not-found"},

		{name: "a foreign Host is refused against DNS rebinding", path: "/v1/credentials", header: auth("Host", "attacker.example:9911"), status: 403, golden: "forbidden-host"},
		{name: "a foreign Host is refused on healthz too", path: "/healthz", header: map[string]string{"Host": "attacker.example"}, status: 403, golden: "forbidden-host"},
		{name: "a loopback-looking name is refused", path: "/v1/credentials", header: auth("Host", "127.0.0.1.attacker.example"), status: 403, golden: "forbidden-host"},
		{name: "an unbracketed IPv6 Host is refused", path: "/v1/credentials", header: auth("Host", "::1"), status: 403, golden: "forbidden-host"},
		{name: "an empty Host is refused", path: "/v1/credentials", header: auth("Host", ""), status: 403, golden: "forbidden-host"},
		{name: "a non-loopback IP Host is refused", path: "/v1/credentials", header: auth("Host", "192.0.2.2:9911"), status: 403, golden: "forbidden-host"},
		{name: "an Origin header is refused as a browser", path: "/v1/credentials", header: auth("Origin", "https://attacker.example"), status: 403, golden: "forbidden-origin"},
		{name: "a Sec-Fetch-Site header is refused as a browser", path: "/v1/credentials", header: auth("Sec-Fetch-Site", "cross-site"), status: 403, golden: "forbidden-sec-fetch-site"},
		{name: "a Sec-Fetch-Mode header is refused as a browser", path: "/v1/credentials", header: auth("Sec-Fetch-Mode", "no-cors"), status: 403, golden: "forbidden-sec-fetch-mode"},
		{name: "an X-Forwarded-For header is refused as a proxy", path: "/v1/credentials", header: auth("X-Forwarded-For", "192.0.2.9"), status: 403, golden: "forbidden-x-forwarded-for"},
		{name: "a Forwarded header is refused as a proxy", path: "/v1/credentials", header: auth("Forwarded", "for=192.0.2.9"), status: 403, golden: "forbidden-forwarded"},
		{name: "an X-Real-IP header is refused as a proxy", path: "/v1/credentials", header: auth("X-Real-IP", "192.0.2.9"), status: 403, golden: "forbidden-x-real-ip"},
		{name: "an empty Origin header is still refused", path: "/v1/credentials", header: auth("Origin", ""), status: 403, golden: "forbidden-origin"},
		{name: "a browser is refused before auth", path: "/v1/credentials", header: map[string]string{"Origin": "null"}, status: 403, golden: "forbidden-origin"},
		{name: "a browser POST is refused as a browser, not as a method", method: "POST", path: "/v1/credentials", header: map[string]string{"Origin": "null"}, status: 403, golden: "forbidden-origin"},

		{name: "a role without credentials gets 503 saying to run credd status", path: "/v1/credentials/ci", header: auth(), status: 503, golden: "unavailable"},
	}
	h := newHandler(t, roles)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newRequest(method, tt.path, tt.header))

			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
				t.Errorf("Content-Type = %q, want exactly application/json", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			for k, v := range tt.headers {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			// A 503 says when to try again; nothing else does.
			if want := map[bool]string{true: "1"}[tt.status == 503]; rec.Header().Get("Retry-After") != want {
				t.Errorf("Retry-After = %q, want %q", rec.Header().Get("Retry-After"), want)
			}
			body := rec.Body.Bytes()
			golden.Check(t, tt.golden, body)
			if tt.status != 200 || tt.path == "/healthz" {
				for _, secret := range []string{"secret/", "session-", testToken} {
					if bytes.Contains(body, []byte(secret)) {
						t.Errorf("body leaks %q: %s", secret, body)
					}
				}
			}
			if tt.status != 200 && !bytes.Contains(body, []byte(`"code":`)) {
				t.Errorf("error body has no lowercase code: %s", body)
			}
			if bytes.Contains(body, []byte(`"Code"`)) {
				t.Errorf("body has a Code field: %s", body)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	p := serving(nil)
	tests := []struct {
		name    string
		cfg     server.Config
		wantErr string
	}{
		{"a missing token is an error", server.Config{Roles: map[string]server.Provider{"": p}}, "token"},
		{"a token with a newline is an error", server.Config{Roles: map[string]server.Provider{"": p}, Token: testToken[1:] + "\n"}, "token"},
		{"a nil provider is an error", server.Config{Roles: map[string]server.Provider{"x": nil}, Token: testToken}, "no provider"},
		{"a role name with a slash is an error", server.Config{Roles: map[string]server.Provider{"a/b": p}, Token: testToken}, "not allowed"},
		{`both "" and "default" is an error`, server.Config{Roles: map[string]server.Provider{"": p, "default": p}, Token: testToken}, "same role"},
		{"a negative await timeout is an error", server.Config{Roles: map[string]server.Provider{"": p}, Token: testToken, AwaitTimeout: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNoDefaultRole(t *testing.T) {
	h := newHandler(t, map[string]server.Provider{"b": serving(nil), "a": serving(nil)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("GET", "/v1/credentials", auth()))
	if rec.Code != 404 {
		t.Fatalf("status = %d, want 404", rec.Code)
	}
	golden.Check(t, "no-default-role", rec.Body.Bytes())
}

func TestCredentialsAvailability(t *testing.T) {
	tests := []struct {
		name       string
		current    *daemon.Credentials
		await      func(ctx context.Context) *daemon.Credentials
		wantStatus int
		wantKey    string
		maxWait    time.Duration
	}{
		{
			name:       "cached credentials are served without waiting",
			current:    testCreds("CACHED"),
			await:      func(context.Context) *daemon.Credentials { panic("Await called") },
			wantStatus: 200, wantKey: "ASIACACHED",
		},
		{
			name: "a cold start waits for the fetch in flight",
			await: func(ctx context.Context) *daemon.Credentials {
				select {
				case <-time.After(5 * time.Millisecond):
					return testCreds("FIRST")
				case <-ctx.Done():
					return nil
				}
			},
			wantStatus: 200, wantKey: "ASIAFIRST",
		},
		{
			name:       "the wait for a cold start is bounded by AwaitTimeout",
			await:      func(ctx context.Context) *daemon.Credentials { <-ctx.Done(); return nil },
			wantStatus: 503,
			maxWait:    time.Second,
		},
		{
			name:       "expired credentials from Current are never served",
			current:    &daemon.Credentials{AccessKeyID: "ASIAOLD", Expiration: now.Add(-time.Second)},
			wantStatus: 503,
		},
		{
			name:       "credentials expiring this instant are not served",
			current:    &daemon.Credentials{AccessKeyID: "ASIAOLD", Expiration: now},
			wantStatus: 503,
		},
		{
			name: "expired credentials from Await are never served",
			await: func(context.Context) *daemon.Credentials {
				return &daemon.Credentials{AccessKeyID: "ASIAOLD", Expiration: now.Add(-time.Hour)}
			},
			wantStatus: 503,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &provider{await: tt.await}
			p.cur.Store(tt.current)
			h := newHandler(t, map[string]server.Provider{"": p})
			start := time.Now()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newRequest("GET", "/v1/credentials", auth()))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantKey != "" && !strings.Contains(rec.Body.String(), `"AccessKeyId":"`+tt.wantKey+`"`) {
				t.Errorf("body %s does not carry %s", rec.Body, tt.wantKey)
			}
			if tt.maxWait > 0 && time.Since(start) > tt.maxWait {
				t.Errorf("request took %v, want under %v", time.Since(start), tt.maxWait)
			}
		})
	}
}

func TestAwaitEndsWhenTheClientGivesUp(t *testing.T) {
	entered := make(chan struct{})
	p := &provider{await: func(ctx context.Context) *daemon.Credentials {
		close(entered)
		<-ctx.Done()
		return nil
	}}
	h := newHandler(t, map[string]server.Provider{"": p}, func(c *server.Config) { c.AwaitTimeout = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newRequest("GET", "/v1/credentials", auth()).WithContext(ctx))
		done <- rec.Code
	}()
	<-entered
	cancel()
	select {
	case code := <-done:
		if code != 503 {
			t.Errorf("status = %d, want 503", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request still waiting after the client went away")
	}
}

func TestAwaitTimeoutDefaultsUnderOneSecond(t *testing.T) {
	var deadline time.Duration
	p := &provider{await: func(ctx context.Context) *daemon.Credentials {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		return nil
	}}
	h := newHandler(t, map[string]server.Provider{"": p}, func(c *server.Config) { c.AwaitTimeout = 0 })
	h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", "/v1/credentials", auth()))
	if deadline <= 700*time.Millisecond || deadline > server.DefaultAwaitTimeout {
		t.Errorf("Await deadline in %v, want about %v", deadline, server.DefaultAwaitTimeout)
	}
}

func TestBodyFollowsTheProvider(t *testing.T) {
	p := serving(testCreds("ONE"))
	h := newHandler(t, map[string]server.Provider{"": p})
	get := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newRequest("GET", "/v1/credentials", auth()))
		return rec.Body.String()
	}
	if got := get(); !strings.Contains(got, "ASIAONE") {
		t.Fatalf("first body %s", got)
	}
	p.cur.Store(testCreds("TWO"))
	if got := get(); !strings.Contains(got, "ASIATWO") || strings.Contains(got, "ASIAONE") {
		t.Fatalf("after a refresh the body is %s, want the new credentials", got)
	}
}

func TestCounts(t *testing.T) {
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("D")), "admin": serving(testCreds("A")), "ci": serving(nil)})
	requests := []struct {
		path   string
		header map[string]string
	}{
		{"/v1/credentials", auth()},
		{"/v1/credentials", auth()},
		{"/v1/credentials", nil},
		{"/v1/credentials/default", auth()},
		{"/v1/credentials/admin", auth()},
		{"/v1/credentials/ci", auth()},
		{"/v1/credentials/unknown", auth()},
		{"/healthz", nil},
		{"/favicon.ico", nil},
		{"/v1/credentials", auth("Origin", "x")},
	}
	for _, r := range requests {
		h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", r.path, r.header))
	}
	want := []daemon.RequestCount{
		{Path: "/v1/credentials", Status: 200, Count: 3},
		{Path: "/v1/credentials", Status: 401, Count: 1},
		{Path: "/v1/credentials", Status: 403, Count: 1},
		{Path: "/v1/credentials/admin", Status: 200, Count: 1},
		{Path: "/v1/credentials/ci", Status: 503, Count: 1},
		{Path: "/healthz", Status: 200, Count: 1},
		{Path: "other", Status: 404, Count: 2},
	}
	if got := h.Counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("Counts() =\n%v\nwant\n%v", got, want)
	}
}

func TestRequestLogHasNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("LOG"))}, func(c *server.Config) { c.Logger = logger })
	h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", "/v1/credentials", auth("User-Agent", "aws-sdk-go-v2/1.48")))
	h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", "/v1/credentials", map[string]string{"Authorization": "wrong-token-value"}))

	out := buf.String()
	for _, want := range []string{`"msg":"request"`, `"path":"/v1/credentials"`, `"status":200`, `"status":401`, `"user_agent":"aws-sdk-go-v2/1.48"`, `"component":"endpoint"`, `"duration":`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{testToken, "wrong-token-value", "ASIALOG", "secret/", "session-"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %q:\n%s", secret, out)
		}
	}
}

// TestServeWithTheGoSDK retrieves credentials with aws-sdk-go-v2's own
// container-credentials provider over a real loopback socket.
func TestServeWithTheGoSDK(t *testing.T) {
	expiry := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	creds := &daemon.Credentials{
		AccessKeyID: "ASIASDK", SecretAccessKey: "sdk/secret+key", SessionToken: "sdk-session",
		Expiration: expiry.Add(300 * time.Millisecond), RoleARN: "arn:aws:iam::123456789012:role/dev", AccountID: "123456789012",
	}
	h, err := server.New(server.Config{
		Roles: map[string]server.Provider{"": serving(creds), "empty": serving(nil)},
		Token: testToken, TokenFile: "/run/credd/token", AwaitTimeout: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, h)

	tests := []struct {
		name     string
		url      string
		token    string
		wantCode string // "" = success
		wantMsg  string
	}{
		{name: "the SDK retrieves the served credentials with the token", url: url, token: testToken},
		{name: "the SDK reports a missing token with its hint", url: url, wantCode: "Unauthorized", wantMsg: "credd env"},
		{name: "the SDK reports a wrong token with its hint", url: url, token: "x" + testToken[1:], wantCode: "Unauthorized", wantMsg: "/run/credd/token"},
		{name: "the SDK reports missing credentials as CredentialsUnavailable", url: url + "/empty", token: testToken, wantCode: "CredentialsUnavailable", wantMsg: "credd status"},
		{name: "the SDK reports an unknown role", url: url + "/nope", token: testToken, wantCode: "UnknownRole", wantMsg: "configured: default, empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := endpointcreds.New(tt.url, func(o *endpointcreds.Options) {
				o.AuthorizationToken = tt.token
				o.Retryer = aws.NopRetryer{}
			})
			got, err := p.Retrieve(context.Background())
			if tt.wantCode != "" {
				var apiErr interface {
					ErrorCode() string
					ErrorMessage() string
				}
				if !errors.As(err, &apiErr) {
					t.Fatalf("Retrieve error = %v, want an API error %s", err, tt.wantCode)
				}
				if apiErr.ErrorCode() != tt.wantCode || !strings.Contains(apiErr.ErrorMessage(), tt.wantMsg) {
					t.Errorf("error = %s: %s; want %s mentioning %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tt.wantCode, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			want := aws.Credentials{
				AccessKeyID: "ASIASDK", SecretAccessKey: "sdk/secret+key", SessionToken: "sdk-session",
				Source: got.Source, CanExpire: true, Expires: expiry, AccountID: "123456789012",
			}
			if !got.Expires.Equal(want.Expires) {
				t.Errorf("Expires = %v, want %v (truncated, never later than the real expiry)", got.Expires, want.Expires)
			}
			got.Expires = want.Expires
			if got != want {
				t.Errorf("Retrieve =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestHealthzOverRealSocketNeedsNoToken(t *testing.T) {
	url := serve(t, newHandler(t, map[string]server.Provider{"": serving(nil)}))
	resp, err := http.Get(strings.TrimSuffix(url, "/v1/credentials") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || buf.String() != "{\"status\":\"ok\"}\n" {
		t.Errorf("healthz = %d %q", resp.StatusCode, buf.String())
	}
}

func TestOptionsStarIsRefusedOverRealSocket(t *testing.T) {
	url := serve(t, newHandler(t, map[string]server.Provider{"": serving(nil)}))
	addr := strings.TrimPrefix(strings.TrimSuffix(url, "/v1/credentials"), "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "OPTIONS * HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 405") {
		t.Errorf("OPTIONS * answered %q, want 405", buf[:n])
	}
}

// serve runs h on a real loopback listener and returns its credentials URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewHTTPServer(h, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return server.URL(l)
}

func TestListen(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		wantErr string // "" = success
	}{
		{name: "127.0.0.1 with a free port is accepted", addr: "127.0.0.1:0"},
		{name: "localhost is mapped to 127.0.0.1", addr: "localhost:0"},
		{name: "an IPv4-mapped 127.0.0.1 is accepted", addr: "[::ffff:127.0.0.1]:0"},
		{name: "all interfaces are refused", addr: "0.0.0.0:0", wantErr: "loopback only"},
		{name: "an empty host is refused", addr: ":0", wantErr: "every interface"},
		{name: "IPv6 any is refused", addr: "[::]:0", wantErr: "every interface"},
		{name: "a LAN address is refused", addr: "192.0.2.2:9911", wantErr: "use 127.0.0.1:PORT"},
		{name: "a host name is refused without resolving it", addr: "example.com:9911", wantErr: "not a loopback address"},
		{name: "127.0.0.2 is refused because old SDKs reject it", addr: "127.0.0.2:0", wantErr: "not every AWS SDK"},
		{name: "::1 is refused because old SDKs reject it", addr: "[::1]:0", wantErr: "not every AWS SDK"},
		{name: "a missing port is refused", addr: "127.0.0.1", wantErr: "use 127.0.0.1:PORT"},
		{name: "a named port is refused", addr: "127.0.0.1:http", wantErr: "0 to 65535"},
		{name: "an out-of-range port is refused", addr: "127.0.0.1:70000", wantErr: "0 to 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := server.Listen(tt.addr)
			if tt.wantErr != "" {
				if err == nil {
					l.Close()
					t.Fatalf("Listen(%q) succeeded, want an error", tt.addr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Listen(%q) error %q does not mention %q", tt.addr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen(%q): %v", tt.addr, err)
			}
			defer l.Close()
			url := server.URL(l)
			if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/v1/credentials") || strings.HasSuffix(url, ":0/v1/credentials") {
				t.Errorf("URL = %q, want http://127.0.0.1:PORT/v1/credentials", url)
			}
		})
	}
}

func TestListenReportsAPortInUse(t *testing.T) {
	l, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = server.Listen(fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "credd status") {
		t.Fatalf("second Listen error = %v, want a port-in-use hint", err)
	}
}

func TestNewHTTPServerBoundsClients(t *testing.T) {
	srv := server.NewHTTPServer(http.NotFoundHandler(), nil)
	got := []any{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, srv.ErrorLog != nil, srv.DisableGeneralOptionsHandler}
	want := []any{5 * time.Second, 5 * time.Second, 10 * time.Second, 2 * time.Minute, 16 << 10, true, true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("server settings = %v, want %v", got, want)
	}
}

// discardWriter is a ResponseWriter that allocates nothing per request.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

func TestServeCredentialsDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("BENCH"))})
	r := newRequest("GET", "/v1/credentials", auth("User-Agent", "aws-sdk-go-v2"))
	w := &discardWriter{h: make(http.Header)}
	h.ServeHTTP(w, r) // encode once
	allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
	if w.status != 200 {
		t.Fatalf("status %d", w.status)
	}
	if allocs != 0 {
		t.Errorf("success path allocates %v times per request, want 0", allocs)
	}
}

func BenchmarkServeCredentials(b *testing.B) {
	// The wall clock and a logger at info level, as in production.
	p := serving(&daemon.Credentials{
		AccessKeyID: "ASIABENCH", SecretAccessKey: "secret", SessionToken: "session",
		Expiration: time.Now().Add(time.Hour), RoleARN: "arn:aws:iam::123456789012:role/dev", AccountID: "123456789012",
	})
	h := newHandler(b, map[string]server.Provider{"": p}, func(c *server.Config) {
		c.Clock = nil
		c.Logger = slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	r := newRequest("GET", "/v1/credentials", auth("User-Agent", "aws-sdk-go-v2", "Accept", "application/json"))
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.status != 200 {
		b.Fatalf("status %d", w.status)
	}
}
