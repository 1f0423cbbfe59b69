package login

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
)

const ghClientID = "Iv1.credd0test"

// fakeGitHub imitates GitHub's two device-flow endpoints as GitHub
// documents them
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow,
// https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens):
//   - POST /login/device/code answers device_code, user_code,
//     verification_uri ({host}/login/device), expires_in 900, interval 5;
//   - POST /login/oauth/access_token answers every error with HTTP 200 and
//     an "error" field: authorization_pending until approved,
//     access_denied, expired_token after 900 s, slow_down (with the new
//     interval, 5 s more) to a poll within the interval,
//     incorrect_client_credentials for an unknown client ID,
//     incorrect_device_code, bad_refresh_token, device_flow_disabled;
//   - both answer form-encoded unless asked for application/json ("By
//     default, the response takes the following form");
//   - a GitHub App with expiring tokens answers ghu_ with expires_in 28800
//     and a ghr_ refresh token (refresh_token_expires_in 15897600, six
//     months), and a refresh retires both the refresh token and the old
//     access token ("that refresh token and the old user access token will
//     no longer work"); an OAuth app answers gho_ without expiry.
//
// Times come from the test's fake clock.
type fakeGitHub struct {
	t        *testing.T
	srv      *httptest.Server
	clk      *clock.Fake
	expiring bool // a GitHub App with expiring user tokens; else an OAuth app

	mu       sync.Mutex
	codes    map[string]*fakeDeviceCode
	last     *fakeDeviceCode
	refresh  map[string]bool // refresh tokens GitHub honours
	requests []fakeGitHubRequest
	script   []map[string]any // answers to the next token polls, in order
	issued   []string         // every access token handed out
	down     bool             // answer 502
	disabled bool             // device flow disabled in the app's settings
}

type fakeDeviceCode struct {
	code     string
	status   string // pending, approved, denied, used
	expires  time.Time
	interval time.Duration
	lastPoll time.Time
}

type fakeGitHubRequest struct {
	Path, Accept string
	Form         url.Values
}

func newFakeGitHub(t *testing.T, clk *clock.Fake, expiring bool) *fakeGitHub {
	t.Helper()
	g := &fakeGitHub{t: t, clk: clk, expiring: expiring, codes: map[string]*fakeDeviceCode{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/device/code", g.deviceCode)
	mux.HandleFunc("POST /login/oauth/access_token", g.accessToken)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGitHub) URL() string { return g.srv.URL }

func (g *fakeGitHub) deviceCode(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, fakeGitHubRequest{Path: r.URL.Path, Accept: r.Header.Get("Accept"), Form: r.PostForm})
	if r.PostForm.Get("client_id") != ghClientID {
		// GitHub documents no answer for an unknown client ID; a 404 is
		// what it serves for what it does not know, and credd must take
		// any non-2xx as a refusal whatever the body.
		g.answer(w, r, http.StatusNotFound, map[string]any{"error": "Not Found"})
		return
	}
	dc := &fakeDeviceCode{code: rand.Text(), status: "pending", expires: g.clk.Now().Add(900 * time.Second), interval: 5 * time.Second}
	g.codes[dc.code], g.last = dc, dc
	g.answer(w, r, http.StatusOK, map[string]any{
		"device_code": dc.code, "user_code": "WDJB-MJHT", "verification_uri": g.URL() + "/login/device",
		"expires_in": 900, "interval": 5,
	})
}

func (g *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	g.mu.Lock()
	defer g.mu.Unlock()
	f := r.PostForm
	g.requests = append(g.requests, fakeGitHubRequest{Path: r.URL.Path, Accept: r.Header.Get("Accept"), Form: f})
	if g.down {
		g.answer(w, r, http.StatusBadGateway, map[string]any{})
		return
	}
	if f.Get("client_id") != ghClientID {
		g.answer(w, r, http.StatusOK, oauthError("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."))
		return
	}
	switch f.Get("grant_type") {
	case githubDeviceGrant:
		g.poll(w, r, f.Get("device_code"))
	case "refresh_token":
		rt := f.Get("refresh_token")
		if !g.expiring || !g.refresh[rt] {
			g.answer(w, r, http.StatusOK, oauthError("bad_refresh_token", "The refresh token passed is incorrect or expired."))
			return
		}
		delete(g.refresh, rt)
		g.answer(w, r, http.StatusOK, g.tokens())
	default:
		g.answer(w, r, http.StatusOK, oauthError("unsupported_grant_type", ""))
	}
}

// poll answers a device-code poll; called with g.mu held.
func (g *fakeGitHub) poll(w http.ResponseWriter, r *http.Request, code string) {
	dc := g.codes[code]
	if dc == nil || dc.status == "used" {
		g.answer(w, r, http.StatusOK, oauthError("incorrect_device_code", "The device_code provided is not valid."))
		return
	}
	now := g.clk.Now()
	if g.disabled {
		g.answer(w, r, http.StatusOK, oauthError("device_flow_disabled", "Device Flow must be explicitly enabled for this App"))
		return
	}
	if len(g.script) > 0 {
		ans := g.script[0]
		g.script = g.script[1:]
		if ans["error"] == "slow_down" {
			dc.interval += 5 * time.Second
			if _, ok := ans["interval"]; ok {
				ans["interval"] = int(dc.interval / time.Second)
			}
		}
		dc.lastPoll = now
		g.answer(w, r, http.StatusOK, ans)
		return
	}
	if !dc.lastPoll.IsZero() && now.Sub(dc.lastPoll) < dc.interval {
		g.t.Errorf("polled %s after the last poll, within the interval %s", now.Sub(dc.lastPoll), dc.interval)
		dc.interval += 5 * time.Second
		g.answer(w, r, http.StatusOK, map[string]any{"error": "slow_down", "interval": int(dc.interval / time.Second)})
		return
	}
	dc.lastPoll = now
	switch {
	case !now.Before(dc.expires):
		g.answer(w, r, http.StatusOK, oauthError("expired_token", "The device_code has expired."))
	case dc.status == "pending":
		g.answer(w, r, http.StatusOK, oauthError("authorization_pending", "The authorization request is still pending."))
	case dc.status == "denied":
		g.answer(w, r, http.StatusOK, oauthError("access_denied", "The authorization request was denied."))
	default:
		dc.status = "used"
		g.answer(w, r, http.StatusOK, g.tokens())
	}
}

// tokens is a token answer; called with g.mu held.
func (g *fakeGitHub) tokens() map[string]any {
	if !g.expiring {
		at := "gho_" + rand.Text()
		g.issued = append(g.issued, at)
		return map[string]any{"access_token": at, "token_type": "bearer", "scope": "read:user,repo"}
	}
	at, rt := "ghu_"+rand.Text(), "ghr_"+rand.Text()
	g.issued = append(g.issued, at)
	g.refresh[rt] = true
	return map[string]any{"access_token": at, "expires_in": 28800, "refresh_token": rt,
		"refresh_token_expires_in": 15897600, "token_type": "bearer", "scope": ""}
}

// answer writes v as JSON when asked for it, else form-encoded as GitHub
// does by default; called with g.mu held.
func (g *fakeGitHub) answer(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	if r.Header.Get("Accept") == "application/json" {
		writeJSON(w, status, v)
		return
	}
	form := url.Values{}
	for k, x := range v {
		switch x := x.(type) {
		case string:
			form.Set(k, x)
		case int:
			form.Set(k, strconv.Itoa(x))
		}
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	w.WriteHeader(status)
	w.Write([]byte(form.Encode()))
}

func oauthError(code, description string) map[string]any {
	return map[string]any{"error": code, "error_description": description,
		"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"}
}

// setLast changes the status of the last device code (approve, deny).
func (g *fakeGitHub) setLast(status string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last.status = status
}

// answerNext scripts the answers to the next polls.
func (g *fakeGitHub) answerNext(answers ...map[string]any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.script = append(g.script, answers...)
}

func (g *fakeGitHub) revokeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.refresh)
}

func (g *fakeGitHub) setDisabled(on bool) { g.mu.Lock(); g.disabled = on; g.mu.Unlock() }
func (g *fakeGitHub) setDown(on bool)     { g.mu.Lock(); g.down = on; g.mu.Unlock() }

func (g *fakeGitHub) seen() []fakeGitHubRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]fakeGitHubRequest(nil), g.requests...)
}

func (g *fakeGitHub) validRefresh(rt string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refresh[rt]
}

func (g *fakeGitHub) issuedTokens() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.issued...)
}

// TestTheFakeGitHubAnswersErrorsWith200AndFormEncodedByDefault holds the
// stand-in to GitHub's documented wire format.
func TestTheFakeGitHubAnswersErrorsWith200AndFormEncodedByDefault(t *testing.T) {
	g := newFakeGitHub(t, clock.NewFake(start), true)
	post := func(path string, form url.Values, accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, g.URL()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := post("/login/device/code", url.Values{"client_id": {ghClientID}}, "")
	vals, err := url.ParseQuery(string(body))
	if resp.StatusCode != 200 || err != nil || vals.Get("device_code") == "" || vals.Get("interval") != "5" || vals.Get("expires_in") != "900" {
		t.Fatalf("device code answer without Accept: %d %q", resp.StatusCode, body)
	}
	resp, body = post("/login/oauth/access_token", url.Values{"client_id": {ghClientID}, "grant_type": {githubDeviceGrant}, "device_code": {vals.Get("device_code")}}, "application/json")
	var ans map[string]any
	if err := json.Unmarshal(body, &ans); err != nil || resp.StatusCode != 200 || ans["error"] != "authorization_pending" {
		t.Fatalf("a pending poll: %d %s, want 200 with error authorization_pending", resp.StatusCode, body)
	}
}
