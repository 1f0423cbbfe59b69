package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// Environment variables the Actions runner sets for jobs with
// `permissions: id-token: write`.
const (
	EnvActionsRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// hintActionsPermission has no parentheses of its own: daemon.Error puts
// a hint in parentheses, and nested ones read as a typo.
const hintActionsPermission = "the job needs `permissions: id-token: write`; Codespaces has no such endpoint: use --token-source login or file"

// ActionsConfig configures the GitHub Actions ID-token source.
type ActionsConfig struct {
	// RequestURL and RequestToken are the runner's
	// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	RequestURL   string
	RequestToken string
	// Audience is the aud to request; "" leaves the endpoint's default (the
	// repository owner's URL), which STS roles rarely trust.
	Audience string
	// HTTPClient defaults to a client with a 10s timeout over a clone of
	// http.DefaultTransport (which honours HTTPS_PROXY: self-hosted runners
	// may need it to reach GitHub).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Actions fetches ID tokens from the GitHub Actions ID-token endpoint.
type Actions struct {
	url          string // with the audience
	host         string // for messages
	requestToken string
	client       *http.Client
	log          *slog.Logger
	// backoff is the wait before each retry within one Token call: three
	// attempts in half a second, then the refresher's own backoff takes over.
	backoff []time.Duration
}

// NewActions returns an Actions source. A missing or unusable URL or
// request token is a *daemon.Error with code ActionsTokenUnavailable.
func NewActions(c ActionsConfig) (*Actions, error) {
	if c.RequestURL == "" || c.RequestToken == "" {
		var missing []string
		if c.RequestURL == "" {
			missing = append(missing, EnvActionsRequestURL)
		}
		if c.RequestToken == "" {
			missing = append(missing, EnvActionsRequestToken)
		}
		return nil, &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeActionsUnavailable,
			Message: strings.Join(missing, " and ") + " not set",
			Hint:    hintActionsPermission,
		}
	}
	u, err := url.Parse(c.RequestURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeActionsUnavailable,
			Message: EnvActionsRequestURL + " is not an http(s) URL",
			Hint:    "it is set by the Actions runner; do not set it by hand",
		}
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Actions{
		url:          withAudience(c.RequestURL, c.Audience),
		host:         u.Host,
		requestToken: c.RequestToken,
		client:       client,
		log:          withComponent(c.Logger, "actions"),
		backoff:      []time.Duration{100 * time.Millisecond, 400 * time.Millisecond},
	}, nil
}

// ActionsFromEnv reads the runner's variables through getenv.
func ActionsFromEnv(audience string, getenv func(string) string) (*Actions, error) {
	return NewActions(ActionsConfig{
		RequestURL:   getenv(EnvActionsRequestURL),
		RequestToken: getenv(EnvActionsRequestToken),
		Audience:     audience,
	})
}

// withAudience appends the audience the way GitHub's own toolkit does:
// the runner's URL already carries api-version.
func withAudience(raw, audience string) string {
	if audience == "" {
		return raw
	}
	sep := "&"
	switch {
	case !strings.Contains(raw, "?"):
		sep = "?"
	case strings.HasSuffix(raw, "?"), strings.HasSuffix(raw, "&"):
		sep = ""
	}
	return raw + sep + "audience=" + url.QueryEscape(audience)
}

func (a *Actions) Name() string { return "actions" }

// Token requests a new ID token, retrying transient failures a couple of
// times with a short backoff.
func (a *Actions) Token(ctx context.Context) (string, error) {
	for attempt := 0; ; attempt++ {
		tok, err := a.fetch(ctx)
		if err == nil {
			return tok, nil
		}
		if attempt == len(a.backoff) || daemon.KindOf(err) != daemon.KindRetryable || ctx.Err() != nil {
			return "", err
		}
		a.log.Debug("ID token request failed; retrying", "attempt", attempt+1, "err", err)
		t := time.NewTimer(a.backoff[attempt])
		select {
		case <-ctx.Done():
			t.Stop()
			return "", err
		case <-t.C:
		}
	}
}

func (a *Actions) fetch(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return "", daemon.Errorf(daemon.KindPermanent, CodeActionsUnavailable, "", "build ID token request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.requestToken)
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		// *url.Error names the URL, which holds no secret (the request token
		// travels in the header).
		return "", daemon.Errorf(daemon.KindRetryable, CodeActionsRequestFailed,
			"check the runner's network access to GitHub; credd will retry",
			"request ID token from %s: %w", a.host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFileBytes))
	if resp.StatusCode != http.StatusOK {
		// The body is never shown: it might echo the request.
		return "", statusError(a.host, resp.StatusCode)
	}
	if err != nil {
		return "", daemon.Errorf(daemon.KindRetryable, CodeActionsRequestFailed, "credd will retry",
			"read ID token response from %s: %w", a.host, err)
	}
	var doc struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || strings.TrimSpace(doc.Value) == "" {
		// Likely a proxy or captive portal answering in GitHub's place.
		return "", &daemon.Error{
			Kind:    daemon.KindRetryable,
			Code:    CodeActionsMalformed,
			Message: fmt.Sprintf("%s answered 200 without a JSON \"value\"", a.host),
			Hint:    "check that " + EnvActionsRequestURL + " reaches GitHub and not a proxy",
		}
	}
	tok := strings.TrimSpace(doc.Value)
	if err := oneLine(tok, "the Actions ID-token endpoint must return"); err != nil {
		return "", err
	}
	return tok, nil
}

func statusError(host string, code int) *daemon.Error {
	e := &daemon.Error{
		Kind:    daemon.KindPermanent,
		Code:    CodeActionsRequestFailed,
		Message: fmt.Sprintf("%s answered %d %s", host, code, http.StatusText(code)),
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Code = CodeActionsDenied
		e.Hint = "the request token is valid only during its job; " + hintActionsPermission
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		e.Kind = daemon.KindRetryable
		e.Hint = "GitHub is having trouble; credd will retry"
	case code == http.StatusNotFound:
		e.Hint = "check " + EnvActionsRequestURL + "; it is set by the Actions runner"
	default:
		e.Hint = "check " + EnvActionsRequestURL + " and " + EnvActionsRequestToken
	}
	return e
}
