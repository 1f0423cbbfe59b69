package bridge

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGitHubAnswersAreCachedForTheTTL(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CacheTTL = 30 * time.Second })
	e.post(octoToken, repoReq(defaultRepo)).tokenResponse(t)
	first := len(e.gh.Calls())
	if first != 2 {
		t.Fatalf("first request made %d GitHub calls: %v", first, e.gh.Calls())
	}
	e.clock.Advance(29 * time.Second)
	e.post(octoToken, repoReq("Credd-Dev/demo")).tokenResponse(t)
	if got := len(e.gh.Calls()); got != first {
		t.Fatalf("a request within the TTL called GitHub: %v", e.gh.Calls()[first:])
	}
	e.clock.Advance(time.Second)
	e.post(octoToken, repoReq(defaultRepo)).tokenResponse(t)
	if got := e.gh.Calls()[first:]; !slices.Equal(got, []string{"GET /user", "GET /repos/credd-dev/demo"}) {
		t.Fatalf("after the TTL GitHub calls = %v", got)
	}
}

func TestRefusedTokensAreNotCached(t *testing.T) {
	e := newEnv(t, nil)
	e.post(revokedToken, repoReq(defaultRepo))
	e.gh.addUser(revokedToken, "octocat", 583231) // e.g. GitHub had a hiccup
	e.post(revokedToken, repoReq(defaultRepo)).tokenResponse(t)
}

func TestPerUserRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.UserRequestsPerMinute = 3 })
	for i := range 3 {
		if r := e.post(octoToken, repoReq(defaultRepo)); r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.post(octoToken, repoReq(defaultRepo))
	if r.status != http.StatusTooManyRequests || r.errorResponse(t).Code != CodeRateLimited {
		t.Fatalf("4th request: %d %s", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "20" { // one request every 20s
		t.Errorf("Retry-After = %q", got)
	}
	// Another user has their own bucket.
	if r := e.post(monaToken, repoReq(defaultRepo)); r.status == http.StatusTooManyRequests {
		t.Errorf("mona was limited by octocat's requests")
	}
	e.clock.Advance(20 * time.Second)
	if r := e.post(octoToken, repoReq(defaultRepo)); r.status != http.StatusOK {
		t.Errorf("after refill: %d %s", r.status, r.body)
	}
}

func TestCheckToken(t *testing.T) {
	edit := func(c *Config) { c.AppClientID, c.AppClientSecret = "Iv1.0123456789abcdef", appSecret }
	t.Run("the app's token passes", func(t *testing.T) {
		e := newEnv(t, edit)
		e.gh.mu.Lock()
		e.gh.appTokens[octoToken] = true
		e.gh.mu.Unlock()
		e.post(octoToken, repoReq(defaultRepo)).tokenResponse(t)
		if !slices.Contains(e.gh.Calls(), "POST /applications/Iv1.0123456789abcdef/token") {
			t.Errorf("no check-token call: %v", e.gh.Calls())
		}
		calls := len(e.gh.Calls())
		e.post(octoToken, repoReq(defaultRepo)).tokenResponse(t)
		if len(e.gh.Calls()) != calls {
			t.Errorf("check-token was not cached: %v", e.gh.Calls()[calls:])
		}
	})
	t.Run("another app's token is refused", func(t *testing.T) {
		e := newEnv(t, edit)
		r := e.post(octoToken, repoReq(defaultRepo))
		if r.status != http.StatusForbidden || r.errorResponse(t).Code != CodeAppMismatch {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("wrong client secret is 502", func(t *testing.T) {
		e := newEnv(t, edit)
		e.gh.mu.Lock()
		e.gh.secret = "rotated"
		e.gh.mu.Unlock()
		r := e.post(octoToken, repoReq(defaultRepo))
		if r.status != http.StatusBadGateway || r.errorResponse(t).Code != CodeGitHubUnavailable {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if l := e.lastLog("token refused"); l["reason"] == nil || !strings.Contains(l["reason"].(string), "--github-app-client-secret") {
			t.Errorf("log does not say what to check: %v", l)
		}
	})
}

func TestAnswerCacheIsBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newAnswerCache(time.Minute, 3)
	for i := range 5 {
		c.put(cacheKey{what: strconv.Itoa(i)}, i, now.Add(time.Duration(i)*time.Second))
	}
	if c.len() != 3 {
		t.Fatalf("len = %d", c.len())
	}
	if _, ok := c.get(cacheKey{what: "0"}, now.Add(5*time.Second)); ok {
		t.Error("the oldest entry was not evicted")
	}
	if v, ok := c.get(cacheKey{what: "4"}, now.Add(5*time.Second)); !ok || v != 4 {
		t.Errorf("newest = %v, %v", v, ok)
	}
	// Expired entries go first, whatever the size.
	c.put(cacheKey{what: "late"}, 9, now.Add(2*time.Hour))
	if c.len() != 1 {
		t.Errorf("len after expiry = %d", c.len())
	}
}

func TestUserLimiterForgetsIdleUsersAndStaysBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newUserLimiter(2, 4)
	for id := range int64(10) {
		if ok, _ := l.allow(id, now); !ok {
			t.Fatalf("user %d refused on first request", id)
		}
		if l.len() > 4 {
			t.Fatalf("%d buckets, max 4", l.len())
		}
	}
	l.allow(100, now.Add(2*time.Minute))
	if l.len() != 1 {
		t.Errorf("idle buckets kept: %d", l.len())
	}
}
