package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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
	"github.com/credd-dev/credd/daemon/source"
)

// ghToken is shaped like a GitHub App user token (ghu_ prefix, per
// https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/).
const ghToken = "ghu_16C7e42F292c6912E7710c838347Ae178B4a"

// bridgeAnswer is one scripted answer of the fake bridge.
type bridgeAnswer struct {
	status int
	header map[string]string
	body   string
}

// fakeBridge imitates credd-bridge's POST {issuer}/token as the issue-12
// contract describes it, answering from a script and recording requests.
type fakeBridge struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  []bridgeAnswer // the last one repeats
	requests []recorded
}

type recorded struct {
	method, path string
	header       http.Header
	body         string
}

func newFakeBridge(t *testing.T, answers ...bridgeAnswer) *fakeBridge {
	t.Helper()
	b := &fakeBridge{answers: answers}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.requests = append(b.requests, recorded{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
		a := b.answers[0]
		if len(b.answers) > 1 {
			b.answers = b.answers[1:]
		}
		b.mu.Unlock()
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBridge) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

func (b *fakeBridge) last() recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests[len(b.requests)-1]
}

func issued(t *testing.T, jwt string) bridgeAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": jwt, "expires_at": "2030-01-01T00:05:00Z"})
	return bridgeAnswer{status: http.StatusOK, body: string(body)}
}

func refused(status int, code, message string) bridgeAnswer {
	body, _ := json.Marshal(map[string]string{"code": code, "message": message})
	return bridgeAnswer{status: status, body: string(body)}
}

func newGitHub(t *testing.T, bridgeURL string, edit func(*source.GitHubConfig)) *source.GitHub {
	t.Helper()
	c := source.GitHubConfig{
		BridgeURL:   bridgeURL,
		Repository:  "octo/app",
		Audience:    "sts.amazonaws.com",
		GitHubToken: func(context.Context) (string, error) { return ghToken, nil },
		UserAgent:   "credd/v1.2.3",
	}
	if edit != nil {
		edit(&c)
	}
	g, err := source.NewGitHub(c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGitHubSendsExactlyWhatTheBridgeExpects(t *testing.T) {
	jwt := validJWT(t, 1)
	b := newFakeBridge(t, issued(t, jwt))
	g := newGitHub(t, b.srv.URL+"/issuer/", nil)
	if g.Name() != "github" {
		t.Errorf("Name() = %q", g.Name())
	}
	tok, err := g.Token(context.Background())
	if err != nil || tok != jwt {
		t.Fatalf("Token() = %q, %v; want the bridge's JWT", tok, err)
	}
	r := b.last()
	if r.method != http.MethodPost || r.path != "/issuer/token" {
		t.Errorf("request %s %s, want POST /issuer/token", r.method, r.path)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer " + ghToken,
		"Accept":        "application/json",
		"Content-Type":  "application/json",
		"User-Agent":    "credd/v1.2.3",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if want := `{"audience":"sts.amazonaws.com","repository":"octo/app"}`; r.body != want {
		t.Errorf("body = %s, want %s", r.body, want)
	}
}

func TestGitHubLeavesTheAudienceToTheBridgeWhenNoneIsSet(t *testing.T) {
	b := newFakeBridge(t, issued(t, validJWT(t, 1)))
	g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) { c.Audience, c.UserAgent = "", "" })
	if _, err := g.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := b.last(); r.body != `{"repository":"octo/app"}` || r.header.Get("User-Agent") != "credd" {
		t.Errorf("body %s, User-Agent %q; want no audience and User-Agent credd", r.body, r.header.Get("User-Agent"))
	}
}

// The source keeps no JWT: after STS refuses one as invalid (KindNewToken)
// the refresher's next call must get a new token, not the same one.
func TestGitHubAsksTheBridgeAnewForEveryToken(t *testing.T) {
	first, second := validJWT(t, 1), validJWT(t, 2)
	b := newFakeBridge(t, issued(t, first), issued(t, second))
	g := newGitHub(t, b.srv.URL, nil)
	for i, want := range []string{first, second} {
		tok, err := g.Token(context.Background())
		if err != nil || tok != want {
			t.Fatalf("call %d: Token() = %q, %v; want the bridge's newest JWT", i+1, tok, err)
		}
	}
	if b.count() != 2 {
		t.Errorf("%d bridge requests for two tokens, want 2", b.count())
	}
}

// A new GitHub token (a reload handing over a fresh GITHUB_TOKEN, a login)
// is used at the next call: the source reads it every time.
func TestGitHubReadsTheGitHubTokenAtEveryCall(t *testing.T) {
	b := newFakeBridge(t, issued(t, validJWT(t, 1)))
	current := "ghu_first000000000000000000000000000000"
	g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) {
		c.GitHubToken = func(context.Context) (string, error) { return current, nil }
	})
	for _, tok := range []string{current, "ghu_second00000000000000000000000000000"} {
		current = tok
		if _, err := g.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := b.last().header.Get("Authorization"); got != "Bearer "+tok {
			t.Errorf("Authorization = %q, want the current token", got)
		}
	}
}

func TestGitHubClassifiesTheBridgesAnswers(t *testing.T) {
	tests := []struct {
		name     string
		answer   bridgeAnswer
		code     daemon.Code
		kind     daemon.Kind
		message  []string
		hint     []string
		notInMsg []string
	}{
		{"a GitHub token GitHub refused", refused(401, "github_token_refused", "GitHub answered 401 to GET /user"),
			source.CodeBridgeGitHubTokenRefused, daemon.KindPermanent,
			[]string{"401 github_token_refused", "GET /user"}, []string{"expired or was revoked", "credd reload --from-env", "new terminal", "credd login"}, nil},
		{"a repository no rule allows", refused(403, "owner_not_allowed", "octo/app is not allowed: the bridge allows acme/*"),
			source.CodeBridgeRefused, daemon.KindPermanent,
			[]string{"403 owner_not_allowed", "the bridge allows acme/*"}, []string{"--allow rules", "--github-repository"}, nil},
		{"a permission too low", refused(403, "permission_too_low", "octocat has pull on octo/app; the bridge requires push"),
			source.CodeBridgeRefused, daemon.KindPermanent,
			[]string{"octocat has pull on octo/app; the bridge requires push"}, []string{"permission"}, nil},
		{"a personal access token", refused(403, "token_kind_refused", "classic-pat tokens are refused: personal access tokens are refused"),
			source.CodeBridgeRefused, daemon.KindPermanent,
			[]string{"token_kind_refused", "classic-pat"}, []string{"ghu_", "credd login"}, nil},
		{"an audience the bridge does not issue", refused(403, "audience_not_allowed", "allowed: sts.amazonaws.com"),
			source.CodeBridgeRefused, daemon.KindPermanent,
			[]string{"allowed: sts.amazonaws.com"}, []string{"--audience"}, nil},
		{"a bad request", refused(400, "bad_request", "repository is not OWNER/REPO"),
			source.CodeBridgeRefused, daemon.KindPermanent,
			[]string{"400 bad_request"}, []string{"OWNER/REPO"}, nil},
		{"the bridge's rate limit", refused(429, "rate_limited", "too many requests for octocat"),
			source.CodeBridgeRateLimited, daemon.KindRetryable,
			[]string{"429 rate_limited"}, []string{"credd will retry"}, nil},
		{"GitHub unavailable behind the bridge", refused(502, "github_unavailable", "GitHub answered 503"),
			source.CodeBridgeUnavailable, daemon.KindRetryable,
			[]string{"502 github_unavailable", "GitHub answered 503"}, []string{"credd will retry"}, nil},
		{"a bridge failing without JSON", bridgeAnswer{status: 500, body: "<html>oops</html>"},
			source.CodeBridgeUnavailable, daemon.KindRetryable,
			[]string{"500 Internal Server Error"}, []string{"credd will retry"}, []string{"<html>"}},
		{"a bridge URL that leads elsewhere", bridgeAnswer{status: 404, body: "not here"},
			source.CodeBridgeMisconfigured, daemon.KindPermanent,
			[]string{"404 Not Found"}, []string{"--bridge-url", "/token"}, nil},
		{"a 200 without a token", bridgeAnswer{status: 200, body: `{"hello":"proxy"}`},
			source.CodeBridgeMalformed, daemon.KindRetryable,
			[]string{`200 without a JSON "token"`}, []string{"proxy"}, nil},
		{"a 200 that is not JSON", bridgeAnswer{status: 200, body: "<html>captive portal</html>"},
			source.CodeBridgeMalformed, daemon.KindRetryable, nil, nil, []string{"captive"}},
		{"a bridge message with control characters", refused(403, "owner_not_allowed", "line one\n\x1b[31mred\x1b[0m\u202e"),
			source.CodeBridgeRefused, daemon.KindPermanent,
			[]string{"line one"}, nil, []string{"\n", "\x1b", "\u202e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBridge(t, tt.answer)
			_, err := newGitHub(t, b.srv.URL, nil).Token(context.Background())
			e := wantError(t, err, tt.code, tt.kind)
			wantContains(t, "message", e.Message, tt.message...)
			wantContains(t, "hint", e.Hint, tt.hint...)
			wantNotContains(t, "message", e.Message, tt.notInMsg...)
			wantNotContains(t, "error", err.Error(), ghToken)
		})
	}
}

func TestGitHubCapsAndRedactsTheBridgesMessage(t *testing.T) {
	jwt := validJWT(t, 1)
	long := strings.Repeat("é", 400)
	b := newFakeBridge(t, refused(403, "owner_not_allowed", "you sent "+ghToken+" and "+jwt+" and "+long))
	_, err := newGitHub(t, b.srv.URL, nil).Token(context.Background())
	e := wantError(t, err, source.CodeBridgeRefused, daemon.KindPermanent)
	wantNotContains(t, "message", e.Message, ghToken, jwt)
	if len(e.Message) > 400 || !strings.HasSuffix(e.Message, "…") {
		t.Errorf("message of %d bytes, want the bridge's part capped with …: %q", len(e.Message), e.Message)
	}
	if !strings.Contains(e.Message, "you sent") {
		t.Errorf("message lost the bridge's words: %q", e.Message)
	}
}

// An echo of the token sent is cut out even when it has no shape redact
// knows (a GitHub Enterprise token, a test token).
func TestGitHubCutsTheTokenSentOutOfTheBridgesMessage(t *testing.T) {
	const odd = "plainsecretvalue"
	b := newFakeBridge(t, refused(401, "github_token_refused", "token plainsecretvalue is bad"))
	g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) {
		c.GitHubToken = func(context.Context) (string, error) { return odd, nil }
	})
	_, err := g.Token(context.Background())
	wantError(t, err, source.CodeBridgeGitHubTokenRefused, daemon.KindPermanent)
	wantNotContains(t, "error", err.Error(), odd)
}

func TestGitHubWithoutAGitHubTokenAsksNothing(t *testing.T) {
	for name, fn := range map[string]func(context.Context) (string, error){
		"no function":        nil,
		"an empty token":     func(context.Context) (string, error) { return "", nil },
		"only blanks":        func(context.Context) (string, error) { return " \n", nil },
		"a multi-line token": func(context.Context) (string, error) { return ghToken + "\n" + ghToken, nil },
	} {
		t.Run(name, func(t *testing.T) {
			b := newFakeBridge(t, issued(t, validJWT(t, 1)))
			g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) { c.GitHubToken = fn })
			_, err := g.Token(context.Background())
			e := wantError(t, err, source.CodeGitHubTokenMissing, daemon.KindPermanent)
			wantContains(t, "hint", e.Hint, "credd reload --from-env", "new terminal", "credd login")
			wantNotContains(t, "error", err.Error(), ghToken)
			if b.count() != 0 {
				t.Errorf("the bridge was asked %d times without a GitHub token", b.count())
			}
		})
	}
}

func TestGitHubPassesOnTheGitHubTokenFunctionsErrors(t *testing.T) {
	b := newFakeBridge(t, issued(t, validJWT(t, 1)))
	classified := &daemon.Error{Kind: daemon.KindPermanent, Code: "LoginRequired", Message: "log in"}
	g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) {
		c.GitHubToken = func(context.Context) (string, error) { return "", classified }
	})
	if _, err := g.Token(context.Background()); !errors.Is(err, classified) {
		t.Errorf("err = %v, want the function's own *daemon.Error", err)
	}
	g = newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) {
		c.GitHubToken = func(context.Context) (string, error) { return "", errors.New("keyring locked near " + ghToken) }
	})
	_, err := g.Token(context.Background())
	e := wantError(t, err, source.CodeFailed, daemon.KindRetryable)
	wantContains(t, "message", e.Message, "keyring locked")
	wantNotContains(t, "message", e.Message, ghToken)
}

func TestGitHubHonoursRetryAfter(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	limited := refused(429, "rate_limited", "slow down")
	limited.header = map[string]string{"Retry-After": "30"}
	jwt := validJWT(t, 1)
	b := newFakeBridge(t, limited, issued(t, jwt))
	g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) { c.Clock = clk })

	_, err := g.Token(context.Background())
	e := wantError(t, err, source.CodeBridgeRateLimited, daemon.KindRetryable)
	wantContains(t, "hint", e.Hint, "retry in 30s")
	clk.Advance(10 * time.Second)
	_, err = g.Token(context.Background())
	e = wantError(t, err, source.CodeBridgeRateLimited, daemon.KindRetryable)
	wantContains(t, "hint", e.Hint, "retry in 20s")
	if b.count() != 1 {
		t.Fatalf("%d bridge requests while Retry-After lasts, want 1", b.count())
	}
	clk.Advance(20 * time.Second)
	if tok, err := g.Token(context.Background()); err != nil || tok != jwt {
		t.Fatalf("after Retry-After: %q, %v", tok, err)
	}
}

func TestGitHubReadsRetryAfterAsAnHTTPDate(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	limited := refused(429, "rate_limited", "slow down")
	limited.header = map[string]string{"Retry-After": now.Add(2 * time.Minute).Format(http.TimeFormat)}
	b := newFakeBridge(t, limited)
	_, err := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) { c.Clock = clk }).Token(context.Background())
	e := wantError(t, err, source.CodeBridgeRateLimited, daemon.KindRetryable)
	wantContains(t, "hint", e.Hint, "retry in 2m0s")
}

func TestGitHubTimesOutAsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	g := newGitHub(t, srv.URL, func(c *source.GitHubConfig) {
		c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
	})
	_, err := g.Token(context.Background())
	e := wantError(t, err, source.CodeBridgeUnavailable, daemon.KindRetryable)
	wantContains(t, "hint", e.Hint, "credd will retry")
}

func TestGitHubUnreachableIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := newGitHub(t, url, nil).Token(context.Background())
	wantError(t, err, source.CodeBridgeUnavailable, daemon.KindRetryable)
}

func TestGitHubNeverLogsTheTokens(t *testing.T) {
	jwt := validJWT(t, 1)
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := newFakeBridge(t, issued(t, jwt), refused(401, "github_token_refused", "bad "+ghToken), refused(403, "owner_not_allowed", "no"))
	g := newGitHub(t, b.srv.URL, func(c *source.GitHubConfig) { c.Logger = logger })
	for range 3 {
		_, _ = g.Token(context.Background())
	}
	if logs.String() == "" {
		t.Fatal("nothing logged at debug: the test checks nothing")
	}
	wantNotContains(t, "log", logs.String(), ghToken, jwt)
}

func TestNewGitHubRefusesAnUnusableConfiguration(t *testing.T) {
	tests := []struct {
		name string
		edit func(*source.GitHubConfig)
		want string
	}{
		{"no bridge URL", func(c *source.GitHubConfig) { c.BridgeURL = "" }, "--bridge-url"},
		{"a bridge URL without a scheme", func(c *source.GitHubConfig) { c.BridgeURL = "bridge.example" }, "--bridge-url"},
		{"no repository", func(c *source.GitHubConfig) { c.Repository = "" }, "OWNER/REPO"},
		{"a repository without an owner", func(c *source.GitHubConfig) { c.Repository = "app" }, "OWNER/REPO"},
		{"a repository path", func(c *source.GitHubConfig) { c.Repository = "octo/app/x" }, "OWNER/REPO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := source.GitHubConfig{BridgeURL: "https://bridge.example", Repository: "octo/app"}
			tt.edit(&c)
			_, err := source.NewGitHub(c)
			e := wantError(t, err, source.CodeBridgeMisconfigured, daemon.KindPermanent)
			wantContains(t, "error", e.Error(), tt.want)
		})
	}
}
