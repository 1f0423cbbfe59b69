package bridge

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Each refusal has its code and status; the cheap ones cost no GitHub call.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*Config)
		token      string
		body       any
		wantStatus int
		wantCode   string
		wantInMsg  string
		noGitHub   bool
	}{
		{name: "no body", token: octoToken, body: "", wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "body is not JSON", token: octoToken, body: "repository=a/b", wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "body has trailing data", token: octoToken, body: `{"repository":"credd-dev/demo"} {}`, wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "body is too large", token: octoToken, body: `{"repository":"credd-dev/demo","x":"` + strings.Repeat("a", 70<<10) + `"}`, wantStatus: 400, wantCode: CodeBadRequest, wantInMsg: "64 KiB", noGitHub: true},
		{name: "no repository", token: octoToken, body: `{"audience":"sts.amazonaws.com"}`, wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "no bearer token", token: "", body: repoReq(defaultRepo), wantStatus: 400, wantCode: CodeBadRequest, wantInMsg: "Bearer", noGitHub: true},
		{name: "repository is not OWNER/REPO", token: octoToken, body: repoReq("credd-dev"), wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "repository is a path trick", token: octoToken, body: repoReq("credd-dev/.."), wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "owner has a bad character", token: octoToken, body: repoReq("credd_dev/demo"), wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "owner too long", token: octoToken, body: repoReq(strings.Repeat("a", 40) + "/demo"), wantStatus: 400, wantCode: CodeBadRequest, noGitHub: true},
		{name: "classic PAT is refused by default", token: classicToken, body: repoReq(defaultRepo), wantStatus: 403, wantCode: CodeTokenKindRefused, wantInMsg: "personal access tokens are refused", noGitHub: true},
		{name: "fine-grained PAT is refused by default", token: fineToken, body: repoReq(defaultRepo), wantStatus: 403, wantCode: CodeTokenKindRefused, wantInMsg: "--accept-token-kinds", noGitHub: true},
		{name: "OAuth app token is refused by default", token: oauthToken, body: repoReq(defaultRepo), wantStatus: 403, wantCode: CodeTokenKindRefused, wantInMsg: "oauth-app", noGitHub: true},
		{name: "unknown token is refused by default", token: unknownToken, body: repoReq(defaultRepo), wantStatus: 403, wantCode: CodeTokenKindRefused, wantInMsg: "unknown", noGitHub: true},
		{name: "installation token is always refused", token: installToken, body: repoReq(defaultRepo),
			edit: func(c *Config) {
				c.AcceptTokenKinds = []string{KindAppUser, KindClassicPAT, KindFineGrainedPAT, KindOAuthApp, KindUnknown}
			},
			wantStatus: 403, wantCode: CodeTokenKindRefused, wantInMsg: "acts for no user", noGitHub: true},
		{name: "audience not allowed", token: octoToken, body: TokenRequest{Repository: defaultRepo, Audience: "https://example.com"},
			wantStatus: 403, wantCode: CodeAudienceNotAllowed, wantInMsg: "sts.amazonaws.com", noGitHub: true},
		{name: "owner not allowed", token: octoToken, body: repoReq("someone-else/demo"), wantStatus: 403, wantCode: CodeOwnerNotAllowed, wantInMsg: "credd-dev", noGitHub: true},
		{name: "repository rule does not cover other repositories", token: octoToken, body: repoReq("credd-dev/other"),
			edit: func(c *Config) { c.Allow = []string{"credd-dev/demo"} }, wantStatus: 403, wantCode: CodeOwnerNotAllowed, noGitHub: true},
		{name: "GitHub refuses the token", token: revokedToken, body: repoReq(defaultRepo), wantStatus: 401, wantCode: CodeGitHubTokenRefused},
		{name: "repository unknown to GitHub", token: octoToken, body: repoReq("credd-dev/nope"), wantStatus: 403, wantCode: CodeRepositoryNotAccessible},
		{name: "permission too low", token: monaToken, body: repoReq(defaultRepo), wantStatus: 403, wantCode: CodePermissionTooLow,
			wantInMsg: "mona has pull on credd-dev/demo; the bridge requires push"},
		{name: "permission enough with a lower minimum", token: monaToken, body: repoReq(defaultRepo),
			edit: func(c *Config) { c.MinPermission = PermissionPull }, wantStatus: 200},
		{name: "classic PAT accepted when listed", token: classicToken, body: repoReq(defaultRepo),
			edit: func(c *Config) { c.AcceptTokenKinds = []string{KindAppUser, KindClassicPAT} }, wantStatus: 200},
		{name: "fine-grained PAT accepted when listed", token: fineToken, body: repoReq(defaultRepo),
			edit: func(c *Config) { c.AcceptTokenKinds = []string{KindFineGrainedPAT} }, wantStatus: 200},
		{name: "allow rules ignore case", token: octoToken, body: repoReq("CREDD-DEV/DEMO"),
			edit: func(c *Config) { c.Allow = []string{"Credd-Dev/demo"} }, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.edit)
			r := e.post(tt.token, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if tt.noGitHub && len(e.gh.Calls()) != 0 {
				t.Errorf("GitHub was called: %v", e.gh.Calls())
			}
			if tt.wantStatus == http.StatusOK {
				return
			}
			er := r.errorResponse(t)
			if er.Code != tt.wantCode || Status(er.Code) != tt.wantStatus {
				t.Errorf("code %q, want %q", er.Code, tt.wantCode)
			}
			if !strings.Contains(er.Message, tt.wantInMsg) {
				t.Errorf("message %q lacks %q", er.Message, tt.wantInMsg)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			refused := e.lastLog("token refused")
			if refused["code"] != tt.wantCode || refused["component"] != "bridge" || refused["remote"] == "" || refused["reason"] == "" {
				t.Errorf("log = %v", refused)
			}
		})
	}
}

func TestRefusalLogNamesTheUserOnceKnown(t *testing.T) {
	e := newEnv(t, nil)
	e.post(monaToken, repoReq(defaultRepo))
	l := e.lastLog("token refused")
	if l["user"] != "mona" || l["repository"] != "credd-dev/demo" || l["token_kind"] != KindAppUser {
		t.Errorf("log = %v", l)
	}
}

// A renamed repository resolves to its new name, and the allow rules must
// hold for that name too.
func TestAllowRulesHoldForGitHubsCanonicalName(t *testing.T) {
	e := newEnv(t, nil)
	e.gh.addRepo("credd-dev/moved", fakeRepo{id: 7, ownerID: 8, fullName: "elsewhere/moved", perms: map[string]string{"octocat": PermissionAdmin}})
	r := e.post(octoToken, repoReq("credd-dev/moved"))
	if r.status != http.StatusForbidden || r.errorResponse(t).Code != CodeOwnerNotAllowed {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if !strings.Contains(r.errorResponse(t).Message, "elsewhere/moved") {
		t.Errorf("message %q does not name the canonical repository", r.errorResponse(t).Message)
	}
}

func TestGitHubFailures(t *testing.T) {
	tests := []struct {
		name           string
		path           string // where the failure happens: "/user" or "/repos/"
		status         int
		header         map[string]string
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{name: "primary rate limit on /user", path: "/user", status: 403,
			header: map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "+120"}, wantStatus: 429, wantCode: CodeRateLimited, wantRetryAfter: "120"},
		{name: "primary rate limit as 429 on /repos", path: "/repos/", status: 429,
			header: map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "+30"}, wantStatus: 429, wantCode: CodeRateLimited, wantRetryAfter: "30"},
		{name: "secondary rate limit with retry-after", path: "/user", status: 403,
			header: map[string]string{"Retry-After": "17"}, wantStatus: 429, wantCode: CodeRateLimited, wantRetryAfter: "17"},
		{name: "429 without headers waits a minute", path: "/repos/", status: 429, wantStatus: 429, wantCode: CodeRateLimited, wantRetryAfter: "60"},
		{name: "other 403 on /user", path: "/user", status: 403, wantStatus: 403, wantCode: CodeGitHubForbidden},
		{name: "403 on /repos", path: "/repos/", status: 403, wantStatus: 403, wantCode: CodeRepositoryNotAccessible},
		{name: "401 on /repos", path: "/repos/", status: 401, wantStatus: 401, wantCode: CodeGitHubTokenRefused},
		{name: "5xx on /user", path: "/user", status: 503, wantStatus: 502, wantCode: CodeGitHubUnavailable},
		{name: "5xx on /repos", path: "/repos/", status: 500, wantStatus: 502, wantCode: CodeGitHubUnavailable},
		{name: "unexpected status", path: "/user", status: 418, wantStatus: 502, wantCode: CodeGitHubUnavailable},
		{name: "bad JSON", path: "/user", status: 200, wantStatus: 502, wantCode: CodeGitHubUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.gh.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, tt.path) {
					return false
				}
				for k, v := range tt.header {
					if rel, ok := strings.CutPrefix(v, "+"); ok {
						secs, _ := strconv.Atoi(rel)
						v = strconv.FormatInt(e.clock.Now().Add(time.Duration(secs)*time.Second).Unix(), 10)
					}
					w.Header().Set(k, v)
				}
				if tt.status == 200 {
					w.WriteHeader(200)
					_, _ = w.Write([]byte(`{"login": "octocat", "id": "not a number"`))
					return true
				}
				// GitHub's messages may echo input: the bridge must not pass them on.
				ghError(w, tt.status, "GitHub says: "+octoToken)
				return true
			})
			r := e.post(octoToken, repoReq(defaultRepo))
			if r.status != tt.wantStatus || r.errorResponse(t).Code != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if got := r.header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			if strings.Contains(string(r.body), "GitHub says") {
				t.Errorf("GitHub's message was passed through: %s", r.body)
			}
		})
	}
}

func TestGitHubTooSlowIs502(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} })
	e.gh.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		select { // hang until the bridge gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return true
	})
	r := e.post(octoToken, repoReq(defaultRepo))
	if r.status != http.StatusBadGateway || r.errorResponse(t).Code != CodeGitHubUnavailable {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if !strings.Contains(r.errorResponse(t).Message, "in time") {
		t.Errorf("message %q", r.errorResponse(t).Message)
	}
}

func TestGitHubUnreachableIs502(t *testing.T) {
	e := newEnv(t, nil)
	e.gh.srv.Close()
	r := e.post(octoToken, repoReq(defaultRepo))
	if r.status != http.StatusBadGateway || r.errorResponse(t).Code != CodeGitHubUnavailable {
		t.Fatalf("%d %s", r.status, r.body)
	}
}
