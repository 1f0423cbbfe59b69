package bridge

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

// Keys are slow to make under -race: each test binary makes two.
var (
	testKey      = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
	testOtherKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey(2048) })
)

func mustKey(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// Tokens of the fake GitHub: their values must never show up in a log
// line or a response.
const (
	octoToken     = "ghu_OctocatAppUserToken0123456789abcdef"
	monaToken     = "ghu_MonaAppUserToken0123456789abcdefgh"
	classicToken  = "ghp_ClassicPersonalToken0123456789abcd"
	fineToken     = "github_pat_FineGrained0123456789abcdefghij"
	oauthToken    = "gho_OAuthAppToken0123456789abcdefghijk"
	installToken  = "ghs_InstallationToken0123456789abcdefg"
	unknownToken  = "someOtherTokenShape0123456789"
	revokedToken  = "ghu_RevokedToken0123456789abcdefghijkl"
	appSecret     = "app-client-secret-0123456789"
	defaultRepo   = "credd-dev/demo"
	testIssuerDir = "/gh"
)

var secrets = []string{octoToken, monaToken, classicToken, fineToken, oauthToken, installToken, unknownToken, revokedToken, appSecret}

// testEnv is a bridge served by httptest in front of a fake GitHub.
type testEnv struct {
	t      *testing.T
	gh     *fakeGitHub
	bridge *Bridge
	srv    *httptest.Server
	clock  *clock.Fake
	logs   *syncbuf.Buffer
	signer *FileSigner
}

// newEnv makes a bridge for issuer srv.URL+/gh that allows credd-dev, with
// octocat (push), mona (pull) on credd-dev/demo. edit may change the config.
func newEnv(t *testing.T, edit func(*Config)) *testEnv {
	t.Helper()
	gh := newFakeGitHub(t)
	gh.addUser(octoToken, "octocat", 583231)
	gh.addUser(monaToken, "mona", 9919)
	for _, tok := range []string{classicToken, fineToken, oauthToken, unknownToken} {
		gh.addUser(tok, "octocat", 583231)
	}
	gh.addRepo(defaultRepo, fakeRepo{id: 100000001, ownerID: 100000000,
		perms: map[string]string{"octocat": PermissionAdmin, "mona": PermissionPull}})

	signer, err := NewFileSigner(testKey())
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, gh: gh, clock: clock.NewFake(time.Now().Truncate(time.Second)), logs: &syncbuf.Buffer{}, signer: signer}
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.Mutex
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handler
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	cfg := Config{
		Issuer:    e.srv.URL + testIssuerDir,
		Signer:    signer,
		GitHubAPI: gh.URL(),
		Allow:     []string{"credd-dev"},
		Clock:     e.clock,
		Logger:    slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:   "test",
	}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.AppClientID != "" {
		gh.mu.Lock()
		gh.clientID, gh.secret = cfg.AppClientID, appSecret
		gh.mu.Unlock()
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.bridge = b
	mu.Lock()
	handler = b.Handler()
	mu.Unlock()
	t.Cleanup(func() {
		for _, s := range secrets {
			if strings.Contains(e.logs.String(), s) {
				t.Errorf("a secret (%.8s…) is in the log:\n%s", s, e.logs.String())
			}
		}
	})
	return e
}

func (e *testEnv) issuer() string { return e.bridge.Issuer() }

// reply is one bridge answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) errorResponse(t *testing.T) ErrorResponse {
	t.Helper()
	var er ErrorResponse
	if err := json.Unmarshal(r.body, &er); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return er
}

func (r reply) tokenResponse(t *testing.T) TokenResponse {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	var tr TokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatalf("token body %q: %v", r.body, err)
	}
	return tr
}

// post asks the bridge for a token; it fails the test if the answer
// echoes any secret.
func (e *testEnv) post(token string, body any) reply {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.issuer()+"/token", bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}

func (e *testEnv) get(path string) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func (e *testEnv) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(body), s) || strings.Contains(strings.Join(flatten(resp.Header), " "), s) {
			e.t.Errorf("a secret (%.8s…) is in the answer: %s", s, body)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("Content-Type = %q", ct)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}

// logLines are the JSON log records so far.
func (e *testEnv) logLines() []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// lastLog is the last record with message msg.
func (e *testEnv) lastLog(msg string) map[string]any {
	e.t.Helper()
	lines := e.logLines()
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["msg"] == msg {
			return lines[i]
		}
	}
	e.t.Fatalf("no %q log line in:\n%s", msg, e.logs.String())
	return nil
}

func repoReq(repo string) TokenRequest { return TokenRequest{Repository: repo} }
