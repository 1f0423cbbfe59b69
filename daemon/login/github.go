package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/redact"
)

// GitHub's device flow, as GitHub documents it (it is RFC 8628 in spirit,
// not to the letter):
// https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow
// and the renewal of expiring user tokens:
// https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
//
// golang.org/x/oauth2 (v0.38.0) is not used for it: its token requests
// (internal/token.go) do treat a 200 answer with an "error" field as an
// error, but its DeviceAuth takes a 200 answer with an "error" for an
// empty device code, DeviceAccessToken polls on a wall-clock ticker (no
// injected clock) and ignores the interval GitHub sends with slow_down,
// token requests send no Accept: application/json, and Expiry is computed
// from time.Now. The two POSTs below are all GitHub's flow needs.

// ProviderGitHub is State.Provider of a GitHub login.
const ProviderGitHub = "github"

// DefaultGitHubURL is GitHub's web host, where the device flow's endpoints
// are (not the API's, https://api.github.com).
const DefaultGitHubURL = "https://github.com"

const (
	// githubDeviceGrant is the grant_type of the device flow's token poll.
	githubDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
	// githubInterval is the poll interval when GitHub gives none (GitHub
	// sends 5; RFC 8628 §3.2 says 5 when absent).
	githubInterval = 5 * time.Second
	// githubSlowDown is what slow_down adds to the interval: "5 extra
	// seconds are added to the minimum interval" (GitHub's error codes for
	// the device flow).
	githubSlowDown = 5 * time.Second
	// githubMaxInterval bounds an interval GitHub sends.
	githubMaxInterval = 15 * time.Minute
	// githubMaxLife bounds a token's life GitHub sends (8 hours in fact).
	githubMaxLife = 366 * 24 * time.Hour
	// githubCodeLife is a device code's life when GitHub gives none: "The
	// default is 900 seconds or 15 minutes."
	githubCodeLife = 900 * time.Second
	// maxGitHubAnswer bounds what is read of an answer.
	maxGitHubAnswer = 1 << 20
)

// NormalizeGitHubURL is githubURL as a GitHub login names it (State.Issuer,
// the kept file): DefaultGitHubURL for "", else without a trailing slash.
func NormalizeGitHubURL(githubURL string) string {
	if githubURL = strings.TrimSpace(githubURL); githubURL == "" {
		return DefaultGitHubURL
	}
	return strings.TrimRight(githubURL, "/")
}

// githubEndpoints are the device flow's two endpoints on one GitHub host.
type githubEndpoints struct {
	deviceCode string // POST {GitHubURL}/login/device/code
	token      string // POST {GitHubURL}/login/oauth/access_token
}

// githubOptions checks the options of a GitHub login, sets Issuer to the
// GitHub URL and returns its endpoints.
func githubOptions(opts *Options) (githubEndpoints, error) {
	base := NormalizeGitHubURL(opts.GitHubURL)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return githubEndpoints{}, fmt.Errorf("login: GitHub URL %q is not a GitHub web address: use https://github.com, or https://HOST for GitHub Enterprise Server", redact.String(opts.GitHubURL))
	}
	if opts.Issuer != "" && opts.Issuer != base {
		return githubEndpoints{}, errors.New("login: a GitHub login takes GitHubURL, not an issuer: leave Issuer empty")
	}
	if opts.ClientSecret != "" {
		return githubEndpoints{}, errors.New("login: GitHub's device flow takes no client secret: leave it out")
	}
	opts.Issuer, opts.GitHubURL = base, base
	return githubEndpoints{deviceCode: base + "/login/device/code", token: base + "/login/oauth/access_token"}, nil
}

// keptGitHubPrefix marks, in what a Store keeps, a GitHub token that never
// expires: it comes without a refresh token, so keeping the token itself
// is the only way its login survives a restart. It is as secret as a
// refresh token, and kept the same way (0600). No GitHub token holds a
// colon, so the mark cannot be mistaken for part of a refresh token.
const keptGitHubPrefix = "github-access-token:"

func keepGitHubToken(token string) string { return keptGitHubPrefix + token }

// keptGitHubToken returns the access token in a kept value, if it holds one.
func keptGitHubToken(kept string) (string, bool) {
	token, ok := strings.CutPrefix(kept, keptGitHubPrefix)
	return token, ok && token != ""
}

// githubAnswer is the JSON of both endpoints. GitHub answers errors of the
// token endpoint with HTTP 200 and an "error" field ("error codes for the
// device flow"), so the field is what tells success from failure.
type githubAnswer struct {
	// Device code answer.
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int64  `json:"expires_in"` // also the access token's life
	Interval        int64  `json:"interval"`   // also sent with slow_down
	// Token answer (expires_in above: absent for a token that does not
	// expire; refresh_token comes with an expiring one).
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	// Error answer.
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// githubError is an error answer: an OAuth error code (in a 200 answer or
// not), or an HTTP status with no code.
type githubError struct {
	Status      int
	Code        string
	Description string
	Interval    int64 // with slow_down: the interval to use from now on
}

func (e *githubError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("GitHub answered HTTP %d", e.Status)
	}
	msg := "GitHub answered " + e.Code
	if e.Status < 200 || e.Status > 299 {
		msg = fmt.Sprintf("GitHub answered HTTP %d, %s", e.Status, e.Code)
	}
	if e.Description != "" {
		msg += " (" + redact.String(e.Description) + ")"
	}
	return msg
}

// errGitHubAnswer is an answer that is not the JSON GitHub sends. Its body
// is not quoted: it could hold a token.
var errGitHubAnswer = errors.New("GitHub's answer is not the JSON it documents")

// githubPost sends form to endpoint and returns GitHub's answer, or a
// *githubError for an error answer.
func (s *Session) githubPost(ctx context.Context, endpoint string, form url.Values) (*githubAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Without it GitHub answers form-encoded ("By default, the response
	// takes the following form: access_token=…").
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "credd")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGitHubAnswer))
	if err != nil {
		return nil, fmt.Errorf("read GitHub's answer: %w", err)
	}
	var ans githubAnswer
	parseErr := json.Unmarshal(body, &ans)
	switch {
	case parseErr == nil && ans.Error != "":
		return nil, &githubError{Status: resp.StatusCode, Code: ans.Error, Description: ans.ErrorDescription, Interval: ans.Interval}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &githubError{Status: resp.StatusCode}
	case parseErr != nil:
		return nil, errGitHubAnswer
	}
	return &ans, nil
}

// githubHints says what to do about each error code GitHub documents for
// the device flow, and bad_refresh_token for a renewal.
var githubHints = map[string]string{
	"device_flow_disabled":         "enable Device Flow in the app's settings on GitHub (Developer settings, the app, \"Enable Device Flow\")",
	"incorrect_client_credentials": "check --client-id: it must be the client ID of the GitHub App or OAuth app (not the App ID), registered on --github-url",
	"unsupported_grant_type":       "run `credd login` again; if this persists, report it: GitHub did not take credd's request",
	"incorrect_device_code":        "run `credd login` again",
	"bad_refresh_token":            "run `credd login`",
}

// classifyGitHub sorts an error talking to GitHub: an error answer is
// permanent, except rate limits and 5xx, which are retryable like network
// trouble. What GitHub wrote is redacted.
func classifyGitHub(what string, err error) *daemon.Error {
	var ge *githubError
	if errors.As(err, &ge) {
		if ge.Code == "" && (ge.Status >= 500 || ge.Status == http.StatusTooManyRequests) {
			return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeIdPUnavailable,
				Message: what + ": " + ge.Error(), Hint: "credd keeps trying; check https://www.githubstatus.com if it persists", Err: err}
		}
		hint := githubHints[ge.Code]
		if hint == "" {
			hint = "check --client-id and --github-url (GitHub's web host, https://github.com or https://HOST for GitHub Enterprise Server)"
		}
		return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeIdPRefused, Message: what + ": " + ge.Error(), Hint: hint, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeIdPUnreachable,
			Message: what + ": GitHub could not be reached: " + redact.String(err.Error()), Hint: "check the network and --github-url", Err: err}
	}
	return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeIdPError, Message: what + ": " + redact.String(err.Error()), Err: err}
}

// seconds is n seconds that GitHub sent, at most limit (against an
// overflow); def when GitHub sent none.
func seconds(n int64, def, limit time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	if n >= int64(limit/time.Second) {
		return limit
	}
	return time.Duration(n) * time.Second
}
