package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
)

// GitHub REST API conventions, from
// https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api
const (
	githubAccept     = "application/vnd.github+json"
	githubAPIVersion = "2022-11-28"
	// maxGitHubBody bounds what the bridge reads of an answer; a repository
	// document is a few KiB.
	maxGitHubBody = 1 << 20
	// defaultRateLimitWait is GitHub's advice when a rate-limit answer says
	// nothing of when to retry: "wait for at least one minute".
	defaultRateLimitWait = time.Minute
	maxRetryAfter        = time.Hour
)

// githubUser is the part of GET /user the bridge uses
// (https://docs.github.com/en/rest/users/users#get-the-authenticated-user).
type githubUser struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
}

// githubRepo is the part of GET /repos/{owner}/{repo} the bridge uses
// (https://docs.github.com/en/rest/repos/repos#get-a-repository):
// "permissions" are the authenticated user's.
type githubRepo struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
	Owner    struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
	} `json:"owner"`
	Permissions map[string]bool `json:"permissions"`
}

// githubClient calls the few GitHub endpoints the bridge needs and sorts
// their failures into refusals. It never passes GitHub's messages on: they
// may echo the request.
type githubClient struct {
	base         string
	userAgent    string
	http         *http.Client
	clock        clock.Clock
	clientID     string
	clientSecret string
}

// answer is one GitHub response, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (g *githubClient) user(ctx context.Context, token string) (githubUser, *refusal) {
	const what = "GET /user"
	a, ref := g.call(ctx, http.MethodGet, "/user", token, nil)
	if ref != nil {
		return githubUser{}, ref
	}
	switch {
	case a.status == http.StatusOK:
	case a.status == http.StatusUnauthorized:
		return githubUser{}, tokenRefused(what)
	case a.status == http.StatusForbidden:
		return githubUser{}, refuse(CodeGitHubForbidden,
			"GitHub refused to tell who the token belongs to; the token needs to read its user (a GitHub App needs no extra permission for this, a fine-grained token must not be restricted from it)").
			because("%s answered 403", what)
	default:
		return githubUser{}, unexpectedStatus(what, a.status)
	}
	var u githubUser
	if err := json.Unmarshal(a.body, &u); err != nil || u.Login == "" || u.ID <= 0 {
		return githubUser{}, badAnswer(what)
	}
	return u, nil
}

func (g *githubClient) repo(ctx context.Context, token, owner, name string) (githubRepo, *refusal) {
	const what = "GET /repos/{owner}/{repo}"
	path := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name)
	a, ref := g.call(ctx, http.MethodGet, path, token, nil)
	if ref != nil {
		return githubRepo{}, ref
	}
	switch a.status {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return githubRepo{}, tokenRefused(what)
	case http.StatusNotFound, http.StatusForbidden:
		// GitHub answers 404 for a private repository the user cannot see,
		// so "does not exist" and "no access" are one refusal.
		return githubRepo{}, refuse(CodeRepositoryNotAccessible,
			"GitHub does not let this token see %s/%s: check the name, that you have access, and that the GitHub App is installed on it", owner, name).
			because("%s answered %d", what, a.status)
	default:
		return githubRepo{}, unexpectedStatus(what, a.status)
	}
	var r githubRepo
	if err := json.Unmarshal(a.body, &r); err != nil || r.ID <= 0 || r.Owner.Login == "" || r.Owner.ID <= 0 {
		return githubRepo{}, badAnswer(what)
	}
	if _, _, err := splitRepository(r.FullName); err != nil {
		return githubRepo{}, badAnswer(what)
	}
	return r, nil
}

// checkToken asks whether token was issued to the configured GitHub App
// (https://docs.github.com/en/rest/apps/oauth-applications#check-a-token):
// 200 = yes; 404 and 422 = not this app's token.
func (g *githubClient) checkToken(ctx context.Context, token string) (bool, *refusal) {
	const what = "POST /applications/{client_id}/token"
	body, err := json.Marshal(map[string]string{"access_token": token})
	if err != nil {
		return false, refuse(CodeGitHubUnavailable, "could not build the check-token request").because("%s: %v", what, err)
	}
	a, ref := g.call(ctx, http.MethodPost, "/applications/"+url.PathEscape(g.clientID)+"/token", "", body)
	if ref != nil {
		return false, ref
	}
	switch a.status {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound, http.StatusUnprocessableEntity:
		return false, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, refuse(CodeGitHubUnavailable, "the bridge could not verify the token with GitHub; its operator must check the GitHub App's client ID and secret").
			because("%s answered %d: GitHub refused the app's client credentials; check --github-app-client-id and --github-app-client-secret", what, a.status)
	default:
		return false, unexpectedStatus(what, a.status)
	}
}

// call sends one request with the user's token (or, when token is "", the
// app's client credentials) and reads the answer. It turns network
// failures and GitHub's rate-limit answers into refusals.
func (g *githubClient) call(ctx context.Context, method, path, token string, body []byte) (answer, *refusal) {
	what := method + " " + path
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, refuse(CodeGitHubUnavailable, "could not build the GitHub request").because("%s: %v", what, err)
	}
	req.Header.Set("Accept", githubAccept)
	req.Header.Set("X-GitHub-Api-Version", githubAPIVersion)
	req.Header.Set("User-Agent", g.userAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.SetBasicAuth(g.clientID, g.clientSecret)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return answer{}, unreachable(what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxGitHubBody))
	if err != nil {
		return answer{}, unreachable(what, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: data}
	if wait, limited := g.rateLimited(a); limited {
		return answer{}, &refusal{
			code:       CodeRateLimited,
			message:    "GitHub's rate limit for this token is used up; try again later",
			reason:     fmt.Sprintf("%s answered %d with a rate limit", what, a.status),
			retryAfter: wait,
		}
	}
	if a.status >= 500 {
		return answer{}, unexpectedStatus(what, a.status)
	}
	return a, nil
}

// rateLimited sorts out GitHub's rate-limit answers, following
// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit:
// a 403 or 429 with x-ratelimit-remaining 0 (retry after x-ratelimit-reset,
// in UTC epoch seconds) or with retry-after (seconds); a 429 without either
// is a secondary limit, for which GitHub advises waiting a minute.
func (g *githubClient) rateLimited(a answer) (time.Duration, bool) {
	if a.status != http.StatusForbidden && a.status != http.StatusTooManyRequests {
		return 0, false
	}
	if v := a.header.Get("Retry-After"); v != "" {
		return clampWait(parseRetryAfter(v, g.clock.Now())), true
	}
	if strings.TrimSpace(a.header.Get("X-Ratelimit-Remaining")) == "0" {
		if reset, err := strconv.ParseInt(strings.TrimSpace(a.header.Get("X-Ratelimit-Reset")), 10, 64); err == nil {
			return clampWait(time.Unix(reset, 0).Sub(g.clock.Now())), true
		}
		return defaultRateLimitWait, true
	}
	if a.status == http.StatusTooManyRequests {
		return defaultRateLimitWait, true
	}
	return 0, false
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 section
// 10.2.3); anything else means GitHub's default wait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return defaultRateLimitWait
}

// clampWait keeps a wait within 1s..1h, so a skewed clock cannot say "now"
// or "next year".
func clampWait(d time.Duration) time.Duration {
	return min(max(d, time.Second), maxRetryAfter)
}

func tokenRefused(what string) *refusal {
	return refuse(CodeGitHubTokenRefused,
		"GitHub does not accept the token (expired, revoked or not a GitHub token); sign in again (credd login) or, in a Codespace, restart it").
		because("%s answered 401", what)
}

func unexpectedStatus(what string, status int) *refusal {
	return refuse(CodeGitHubUnavailable, "GitHub answered with an error (HTTP %d); try again later", status).
		because("%s answered %d", what, status)
}

func badAnswer(what string) *refusal {
	return refuse(CodeGitHubUnavailable, "GitHub's answer could not be understood; try again later").
		because("%s: the answer is not the expected JSON", what)
}

func unreachable(what string, err error) *refusal {
	msg := "GitHub could not be reached; try again later"
	var timeout interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &timeout) && timeout.Timeout()) {
		msg = "GitHub did not answer in time; try again later"
	}
	return refuse(CodeGitHubUnavailable, "%s", msg).because("%s: %v", what, err)
}
