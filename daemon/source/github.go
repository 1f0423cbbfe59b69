package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/redact"
)

// Where a GitHub token comes from, for hints: a Codespace hands a fresh
// GITHUB_TOKEN to each new terminal, which `credd reload --from-env` passes
// on; elsewhere `credd login` gets one with GitHub's device flow.
const hintNewGitHubToken = "in a Codespace run `credd reload --from-env` from a new terminal, which hands over its GITHUB_TOKEN; elsewhere run `credd login`"

// maxBridgeMessage caps the bridge's message in an error: it names the rule
// that refused, which takes a sentence, not a page.
const maxBridgeMessage = 300

// maxBridgeBody bounds what is read of a bridge answer: a JWT and a date.
const maxBridgeBody = 64 << 10

// maxRetryAfter caps how long a 429's Retry-After holds calls back, so a
// bridge answering nonsense cannot stop refreshes for a day.
const maxRetryAfter = 15 * time.Minute

// GitHubConfig configures the github source, which trades a GitHub user
// token for an identity token at a credd-bridge.
type GitHubConfig struct {
	// BridgeURL is credd-bridge's base (issuer) URL; the source POSTs to
	// BridgeURL + "/token".
	BridgeURL string
	// Repository is OWNER/REPO, whose access the bridge checks.
	Repository string
	// Audience is the aud to ask for; "" leaves the bridge's default.
	Audience string
	// GitHubToken returns the GitHub user token to present; "" with a nil
	// error means there is none (yet). nil is the same as returning "".
	GitHubToken func(ctx context.Context) (string, error)
	// TokenRefused, if set, is told of a GitHub token the bridge answered
	// 401 for (GitHub refused it), so a login can renew or end.
	TokenRefused func(ctx context.Context, token string)
	// HTTPClient defaults to a client with a 10s timeout over a clone of
	// http.DefaultTransport (which honours HTTPS_PROXY).
	HTTPClient *http.Client
	// UserAgent defaults to "credd"; the agent sets credd/VERSION.
	UserAgent string
	// Clock times a 429's Retry-After; nil = the wall clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

// GitHub gets identity tokens from a credd-bridge, proving the user's
// GitHub identity with a GitHub user token.
//
// It asks the bridge anew on every Token call and keeps no JWT: the
// refresher calls Token once per STS attempt, attempts are minutes apart
// while healthy (bridge tokens live 5 minutes), and when STS refuses a
// token as invalid or expired (KindNewToken) the refresher's next call
// must get a new one, not the refused one again. A fresh token also
// carries the user's repository permission as it is now.
type GitHub struct {
	tokenURL   string
	host       string // for messages
	repository string
	audience   string
	ghToken    func(ctx context.Context) (string, error)
	refused    func(ctx context.Context, token string)
	client     *http.Client
	userAgent  string
	clock      clock.Clock
	log        *slog.Logger

	mu sync.Mutex
	// limited is the bridge's last 429 while its Retry-After lasts: calls
	// before limitedUntil return it without asking again.
	limited      *daemon.Error
	limitedUntil time.Time
}

// NewGitHub returns a github source. A missing or unusable bridge URL or
// repository is a *daemon.Error with code BridgeMisconfigured; a missing
// GitHub token is not an error here but Token's (GitHubTokenMissing), so a
// role without one starts and says so in its status.
func NewGitHub(c GitHubConfig) (*GitHub, error) {
	u, err := url.Parse(strings.TrimSpace(c.BridgeURL))
	if c.BridgeURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeBridgeMisconfigured,
			Message: "the bridge URL is not set or not an http(s) URL",
			Hint:    "set --bridge-url to the credd-bridge's issuer URL",
		}
	}
	if owner, repo, ok := strings.Cut(c.Repository, "/"); !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeBridgeMisconfigured,
			Message: fmt.Sprintf("repository %q is not OWNER/REPO", c.Repository),
			Hint:    "set --github-repository (or GITHUB_REPOSITORY) to OWNER/REPO",
		}
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "credd"
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	u.User = nil // never in a message; a bridge takes no basic auth
	return &GitHub{
		tokenURL:   strings.TrimSuffix(u.String(), "/") + "/token",
		host:       u.Host,
		repository: c.Repository,
		audience:   c.Audience,
		ghToken:    c.GitHubToken,
		refused:    c.TokenRefused,
		client:     client,
		userAgent:  ua,
		clock:      clk,
		log:        withComponent(c.Logger, "github"),
	}, nil
}

// Name is "github".
func (g *GitHub) Name() string { return "github" }

// tokenRequest and tokenAnswer are the bridge's POST /token wire format
// (the contract of issue 12, daemon/bridge/wire.go).
type tokenRequest struct {
	Audience   string `json:"audience,omitempty"`
	Repository string `json:"repository"`
}

type tokenAnswer struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

type errorAnswer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Token asks the bridge for an identity token for the repository.
func (g *GitHub) Token(ctx context.Context) (string, error) {
	if e := g.stillLimited(); e != nil {
		return "", e
	}
	gh, err := g.githubToken(ctx)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(tokenRequest{Audience: g.audience, Repository: g.repository})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.tokenURL, bytes.NewReader(body))
	if err != nil {
		return "", daemon.Errorf(daemon.KindPermanent, CodeBridgeMisconfigured, "check --bridge-url", "build the bridge request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+gh)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", g.userAgent)
	resp, err := g.client.Do(req)
	if err != nil {
		// *url.Error names the URL (net/http strips a password from it),
		// never the header that holds the GitHub token.
		return "", daemon.Errorf(daemon.KindRetryable, CodeBridgeUnavailable,
			"check the network access to the bridge and --bridge-url; credd will retry",
			"request a token from the bridge %s: %w", g.host, err)
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBridgeBody))
	if resp.StatusCode != http.StatusOK {
		e := g.refusal(resp, raw, gh)
		g.log.Debug("the bridge refused", "status", resp.StatusCode, "code", e.Code, "kind", e.Kind)
		if e.Code == CodeBridgeGitHubTokenRefused && g.refused != nil {
			g.refused(ctx, gh)
		}
		return "", e
	}
	if readErr != nil {
		return "", daemon.Errorf(daemon.KindRetryable, CodeBridgeUnavailable, "credd will retry",
			"read the answer of bridge %s: %w", g.host, readErr)
	}
	var ans tokenAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || strings.TrimSpace(ans.Token) == "" {
		// Likely a proxy or a captive portal answering in the bridge's place.
		return "", &daemon.Error{
			Kind:    daemon.KindRetryable,
			Code:    CodeBridgeMalformed,
			Message: fmt.Sprintf("bridge %s answered 200 without a JSON \"token\"", g.host),
			Hint:    "check that --bridge-url reaches credd-bridge and not a proxy",
		}
	}
	tok := strings.TrimSpace(ans.Token)
	if err := oneLine(tok, "the bridge must return"); err != nil {
		return "", err
	}
	// Parsed, not quoted: the answer is the bridge's words, and the log
	// gets nothing of it but a time.
	exp, _ := time.Parse(time.RFC3339, ans.ExpiresAt)
	g.log.Debug("bridge issued a token", "repository", g.repository, "expires_at", exp)
	return tok, nil
}

// githubToken is the GitHub token to present, or GitHubTokenMissing.
func (g *GitHub) githubToken(ctx context.Context) (string, error) {
	var tok string
	if g.ghToken != nil {
		var err error
		if tok, err = g.ghToken(ctx); err != nil {
			var e *daemon.Error
			if errors.As(err, &e) {
				return "", err
			}
			return "", &daemon.Error{Kind: daemon.KindRetryable, Code: CodeFailed,
				Message: "get the GitHub token: " + redact.String(err.Error()), Hint: hintNewGitHubToken}
		}
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeGitHubTokenMissing,
			Message: "no GitHub token to prove who you are to the bridge",
			Hint:    hintNewGitHubToken,
		}
	}
	if strings.ContainsAny(tok, "\r\n") {
		// It would end up in a header; never quoted, it may be a secret.
		return "", &daemon.Error{Kind: daemon.KindPermanent, Code: CodeGitHubTokenMissing,
			Message: "the GitHub token spans several lines", Hint: hintNewGitHubToken}
	}
	return tok, nil
}

// bridgeHint is what to do about each of the bridge's refusals (codes of
// the issue-12 contract); the bridge's message says which rule refused.
var bridgeHint = map[string]string{
	"bad_request":               "credd and credd-bridge disagree on the request: check --github-repository (OWNER/REPO) and that both are up to date",
	"token_kind_refused":        "the bridge takes GitHub App user tokens (ghu_): a Codespace's GITHUB_TOKEN is one, or run `credd login`; personal access tokens are refused",
	"app_mismatch":              "the token is not from the bridge's GitHub App: run `credd login` with its client ID",
	"owner_not_allowed":         "the bridge serves only the repositories its --allow rules name: set --github-repository to one of them, or ask its operator",
	"repository_not_accessible": "check --github-repository, and that your GitHub user can see the repository",
	"permission_too_low":        "ask for the permission the bridge requires on the repository, or use another repository",
	"audience_not_allowed":      "set --audience to one the bridge allows",
}

// refusal classifies a non-200 answer. The bridge's message is someone
// else's words: it is redacted, stripped of control characters and capped
// before it reaches an error, and the token sent is cut out whatever shape
// it has.
func (g *GitHub) refusal(resp *http.Response, raw []byte, sent string) *daemon.Error {
	code := resp.StatusCode
	var ans errorAnswer
	_ = json.Unmarshal(raw, &ans)
	msg := fmt.Sprintf("bridge %s answered %d", g.host, code)
	if c := remoteText(ans.Code, 40, sent); c != "" {
		msg += " " + c
	} else {
		msg += " " + http.StatusText(code)
	}
	if m := remoteText(ans.Message, maxBridgeMessage, sent); m != "" {
		msg += ": " + m
	}
	e := &daemon.Error{Kind: daemon.KindPermanent, Code: CodeBridgeRefused, Message: msg, Hint: bridgeHint[ans.Code]}
	switch {
	case code == http.StatusUnauthorized:
		e.Code = CodeBridgeGitHubTokenRefused
		e.Hint = "GitHub refused the GitHub token: it expired or was revoked; " + hintNewGitHubToken
	case code == http.StatusTooManyRequests:
		e.Kind, e.Code = daemon.KindRetryable, CodeBridgeRateLimited
		e.Hint = "credd will retry"
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), g.clock.Now()); ok {
			d = min(d, maxRetryAfter)
			e.Hint = "credd will retry in " + d.String()
			g.mu.Lock()
			g.limited, g.limitedUntil = e, g.clock.Now().Add(d)
			g.mu.Unlock()
		}
	case code == http.StatusRequestTimeout || code >= 500:
		e.Kind, e.Code = daemon.KindRetryable, CodeBridgeUnavailable
		if e.Hint == "" {
			e.Hint = "the bridge or GitHub is having trouble; credd will retry"
		}
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		e.Code = CodeBridgeMisconfigured
		e.Hint = "check --bridge-url: it is the bridge's issuer URL, and credd posts to it + /token"
	case code == http.StatusBadRequest && e.Hint == "":
		e.Hint = bridgeHint["bad_request"]
	case e.Hint == "":
		e.Hint = "check --bridge-url, --github-repository and --audience"
	}
	return e
}

// stillLimited is the last 429 while its Retry-After lasts, so that the
// refresher's quicker backoff does not ask a bridge that said to wait.
func (g *GitHub) stillLimited() *daemon.Error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limited == nil {
		return nil
	}
	now := g.clock.Now()
	if !now.Before(g.limitedUntil) {
		g.limited = nil
		return nil
	}
	e := *g.limited
	e.Hint = "credd will retry in " + g.limitedUntil.Sub(now).Round(time.Second).String()
	return &e
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110, section 10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second, s > 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now), true
	}
	return 0, false
}

// remoteText makes a remote party's text fit for an error: secrets
// redacted (and the exact secret sent, whatever its shape), control
// characters dropped, at most max bytes on a character boundary.
func remoteText(s string, max int, sent string) string {
	if sent != "" {
		s = strings.ReplaceAll(s, sent, redact.Marker)
	}
	s = redact.String(strings.ToValidUTF8(s, ""))
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }), " ")
	if len(s) > max {
		s = s[:max-len("…")]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

var _ Source = (*GitHub)(nil)
