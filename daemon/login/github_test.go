package login

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/endpoints"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

// ghFixture is a fake GitHub on a fake clock and a state dir.
type ghFixture struct {
	t   *testing.T
	clk *clock.Fake
	gh  *fakeGitHub
	dir string
}

// newGHFixture fakes a GitHub App with expiring user tokens, or (expiring
// false) an OAuth app.
func newGHFixture(t *testing.T, expiring bool) *ghFixture {
	t.Helper()
	clk := clock.NewFake(start)
	return &ghFixture{t: t, clk: clk, gh: newFakeGitHub(t, clk, expiring), dir: t.TempDir()}
}

func (f *ghFixture) store() *FileStore { return NewGitHubFileStore(f.dir, f.gh.URL(), ghClientID) }

// session is a GitHub Session on the fixture, logging to the buffer it
// returns; store nil = none.
func (f *ghFixture) session(store Store, scopes ...string) (*Session, *syncbuf.Buffer) {
	f.t.Helper()
	logs := &syncbuf.Buffer{}
	opts := Options{GitHub: true, GitHubURL: f.gh.URL() + "/", ClientID: ghClientID, Scopes: scopes, Clock: f.clk,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if store != nil {
		opts.Store = store
	}
	s, err := New(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return s, logs
}

// kept reads the kept file; ok false when there is none.
func (f *ghFixture) kept() (k keptFile, ok bool) {
	f.t.Helper()
	data, err := os.ReadFile(f.store().Path())
	if errors.Is(err, os.ErrNotExist) {
		return k, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &k); err != nil {
		f.t.Fatal(err)
	}
	return k, true
}

// advance moves the clock to the earliest timer, once one is set.
func (f *ghFixture) advance() {
	f.t.Helper()
	if !f.clk.WaitForTimers(1, 5*time.Second) {
		f.t.Fatal("the session set no timer")
	}
	at, _ := f.clk.NextDeadline()
	f.clk.Set(at)
}

// pollOnce lets the session poll once and waits until GitHub saw it.
func (f *ghFixture) pollOnce() {
	f.t.Helper()
	n := len(f.gh.seen())
	f.advance()
	for deadline := time.Now().Add(5 * time.Second); len(f.gh.seen()) == n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			f.t.Fatal("the session did not poll")
		}
	}
}

// login runs a device login to approval (and, with a Store, until it is
// kept) and returns the token.
func (f *ghFixture) login(s *Session) string {
	f.t.Helper()
	st, err := s.Start(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	f.pollOnce()
	f.gh.setLast("approved")
	f.advance()
	s.Wait(context.Background(), st.Login.ID)
	waitFor(f.t, s, "the login is approved and kept", func(st State) bool {
		return loggedIn(st) && (s.opts.Store == nil || st.Kept)
	})
	tok, err := s.Token(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// noTokenIn fails when any GitHub token reached text.
func noTokenIn(t *testing.T, what, text string) {
	t.Helper()
	for _, p := range []string{"ghu_", "ghr_", "gho_", "github-access-token:"} {
		if strings.Contains(text, p) {
			t.Errorf("a GitHub token (%s…) reached %s:\n%s", p, what, text)
		}
	}
}

func TestAGitHubDeviceLoginGivesTheAccessTokenAndKeepsTheRefreshToken(t *testing.T) {
	f := newGHFixture(t, true)
	s, logs := f.session(f.store())
	run(t, s)

	st, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a := st.Login; a == nil || a.Status != AttemptPending || a.UserCode != "WDJB-MJHT" || a.VerificationURI != f.gh.URL()+"/login/device" || !a.Expires.Equal(start.Add(900*time.Second)) {
		t.Fatalf("Start = %+v, want a pending login with GitHub's user code and URL, expiring in 900 s", st.Login)
	}
	if st.Provider != ProviderGitHub || st.Issuer != f.gh.URL() || st.ClientID != ghClientID {
		t.Errorf("state names %q %q %q, want the GitHub login to %s", st.Provider, st.Issuer, st.ClientID, f.gh.URL())
	}
	if again, _ := s.Start(context.Background()); again.Login.ID != st.Login.ID {
		t.Error("a second Start while one is pending began another login")
	}
	if _, err := s.Token(context.Background()); daemon.AsError(err).Code != CodeLoginRequired || !strings.Contains(err.Error(), "waiting for approval") {
		t.Errorf("Token while pending = %v, want LoginRequired saying a login waits for approval", err)
	}

	f.pollOnce() // authorization_pending
	if got := s.State(); got.Login.Status != AttemptPending {
		t.Fatalf("after a pending poll: %+v", got.Login)
	}
	f.gh.setLast("approved")
	f.advance()
	got := s.Wait(context.Background(), st.Login.ID)
	if got.Login.Status != AttemptApproved {
		t.Fatalf("after approval: %+v", got.Login)
	}
	got = waitFor(t, s, "the login is kept", func(st State) bool { return loggedIn(st) && st.Kept })
	tok, err := s.Token(context.Background())
	if issued := f.gh.issuedTokens(); err != nil || len(issued) != 1 || tok != issued[0] {
		t.Fatalf("Token = %.8q…, %v; want the access token GitHub issued", tok, err)
	}
	if !strings.HasPrefix(tok, "ghu_") || !got.IDTokenExpires.Equal(f.clk.Now().Add(8*time.Hour)) || !got.CanRenew || got.Subject != "" {
		t.Errorf("state %+v, want a renewable ghu_ token expiring in 8 hours", got)
	}
	// Renewal at 80% of the 8 hours.
	if want := f.clk.Now().Add(8 * time.Hour * 4 / 5); !got.NextRenewal.Equal(want) {
		t.Errorf("next renewal %s, want %s", got.NextRenewal, want)
	}

	// What GitHub was sent: JSON asked for, no secret, no scope for an app.
	reqs := f.gh.seen()
	if len(reqs) != 3 || reqs[0].Path != "/login/device/code" || reqs[1].Path != "/login/oauth/access_token" {
		t.Fatalf("GitHub saw %+v", reqs)
	}
	for _, r := range reqs {
		if r.Accept != "application/json" || r.Form.Has("client_secret") || r.Form.Has("scope") || r.Form.Get("client_id") != ghClientID {
			t.Errorf("request to %s: Accept %q, form %v", r.Path, r.Accept, r.Form)
		}
	}
	if g := reqs[2].Form.Get("grant_type"); g != githubDeviceGrant {
		t.Errorf("poll grant_type %q", g)
	}

	// Kept: the refresh token only, 0600, under a GitHub name.
	k, ok := f.kept()
	if !ok || k.Provider != ProviderGitHub || k.Issuer != f.gh.URL() || k.ClientID != ghClientID || !strings.HasPrefix(k.RefreshToken, "ghr_") || k.AccessToken != "" || !f.gh.validRefresh(k.RefreshToken) {
		t.Errorf("kept %+v, want the GitHub login's refresh token", k)
	}
	fi, err := os.Stat(f.store().Path())
	if err != nil || fi.Mode().Perm() != 0o600 || !strings.HasPrefix(filepath.Base(f.store().Path()), "login-github-") {
		t.Errorf("kept in %s (%v, %v), want login-github-….json, mode 0600", f.store().Path(), fi.Mode(), err)
	}
	noTokenIn(t, "the log", logs.String())
	data, _ := json.Marshal(s.State())
	noTokenIn(t, "the state", string(data))
}

func TestAKeptGitHubLoginResumesInANewSessionAndRotatesTheRefreshToken(t *testing.T) {
	f := newGHFixture(t, true)
	s1, logs1 := f.session(f.store())
	stop := run(t, s1)
	first := f.login(s1)
	k1, _ := f.kept()
	stop()

	s2, logs2 := f.session(f.store())
	run(t, s2)
	waitFor(t, s2, "the kept login is loaded", func(st State) bool { return st.Status != StatusLoggedOut })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := s2.Token(ctx) // waits for the resumed login
	if err != nil || !strings.HasPrefix(tok, "ghu_") || tok == first {
		t.Fatalf("Token after resuming = %.8q…, %v; want a new access token", tok, err)
	}
	st := s2.State()
	if st.Status != StatusLoggedIn || st.Login != nil || st.Renewals != 1 {
		t.Errorf("resumed state %+v, want logged in by one renewal, with no device login", st)
	}
	k2 := waitForKept(t, f, func(k keptFile) bool { return k.RefreshToken != k1.RefreshToken })
	if f.gh.validRefresh(k1.RefreshToken) || !f.gh.validRefresh(k2.RefreshToken) {
		t.Error("the kept refresh token is not the rotated one")
	}
	last := f.gh.seen()[len(f.gh.seen())-1]
	if last.Form.Get("grant_type") != "refresh_token" || last.Form.Get("refresh_token") != k1.RefreshToken || last.Form.Has("client_secret") {
		t.Errorf("the resume sent %v, want a refresh grant with the kept token and no secret", last.Form)
	}
	noTokenIn(t, "the log", logs1.String()+logs2.String())
}

func waitForKept(t *testing.T, f *ghFixture, cond func(keptFile) bool) keptFile {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if k, ok := f.kept(); ok && cond(k) {
			return k
		}
		if time.Now().After(deadline) {
			k, _ := f.kept()
			t.Fatalf("the kept file is not as expected: %+v", k)
		}
	}
}

func TestAGitHubTokenIsRenewedBeforeItExpiresAndTheRefreshTokenRotates(t *testing.T) {
	f := newGHFixture(t, true)
	s, logs := f.session(f.store())
	run(t, s)
	first := f.login(s)
	k1, _ := f.kept()
	loginAt := f.clk.Now()

	f.advance() // the renewal timer
	if got := f.clk.Now().Sub(loginAt); got != 8*time.Hour*4/5 {
		t.Errorf("renewed %s after the login, want at 80%% of 8 hours", got)
	}
	st := waitFor(t, s, "the token is renewed", func(st State) bool { return st.Renewals == 1 })
	k2 := waitForKept(t, f, func(k keptFile) bool { return k.RefreshToken != k1.RefreshToken })
	tok, err := s.Token(context.Background())
	if err != nil || tok == first || !st.IDTokenExpires.Equal(f.clk.Now().Add(8*time.Hour)) {
		t.Fatalf("after renewal: Token %v, state %+v; want a new token good for 8 hours", err, st)
	}
	if f.gh.validRefresh(k1.RefreshToken) || !f.gh.validRefresh(k2.RefreshToken) {
		t.Error("the kept refresh token is not the rotated one")
	}

	// Just before expiry (a laptop that slept through the renewal), Token
	// hands out no dying token: it renews first, or finds it renewed.
	f.clk.Set(st.IDTokenExpires.Add(-10 * time.Second))
	tok2, err := s.Token(context.Background())
	if err != nil || tok2 == tok {
		t.Errorf("Token near expiry = %v, same token %v; want a renewed one", err, tok2 == tok)
	}
	noTokenIn(t, "the log", logs.String())
}

func TestAGitHubDeviceLoginThatIsDeniedOrExpiresSaysSo(t *testing.T) {
	tests := []struct {
		name       string
		act        func(f *ghFixture)
		wantStatus string
		wantCode   daemon.Code
		wantHint   string
	}{
		{"denied at GitHub (access_denied)", func(f *ghFixture) {
			f.gh.setLast("denied")
			f.pollOnce()
		}, AttemptDenied, CodeDenied, "credd login"},
		{"expired at GitHub (expired_token)", func(f *ghFixture) {
			f.gh.answerNext(oauthError("expired_token", "The device_code has expired."))
			f.pollOnce()
		}, AttemptExpired, CodeExpired, "credd login"},
		{"the code's life over on our clock", func(f *ghFixture) {
			f.clk.Advance(900 * time.Second) // fires the poll timer
		}, AttemptExpired, CodeExpired, "credd login"},
		{"device flow disabled for the app", func(f *ghFixture) {
			f.gh.setDisabled(true)
			f.pollOnce()
		}, AttemptFailed, CodeIdPRefused, "Enable Device Flow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGHFixture(t, true)
			s, _ := f.session(nil)
			run(t, s)
			st, err := s.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			f.pollOnce() // pending
			tt.act(f)
			got := s.Wait(context.Background(), st.Login.ID)
			if got.Login.Status != tt.wantStatus || got.Login.Error == nil || got.Login.Error.Code != tt.wantCode || !strings.Contains(got.Login.Error.Hint, tt.wantHint) {
				t.Fatalf("attempt %+v, error %+v; want %s with %s and a hint on %q", got.Login, got.Login.Error, tt.wantStatus, tt.wantCode, tt.wantHint)
			}
			if got.Status != StatusLoggedOut {
				t.Errorf("status %s, want logged out", got.Status)
			}
			if _, err := s.Token(context.Background()); daemon.AsError(err).Code != CodeLoginRequired {
				t.Errorf("Token = %v, want LoginRequired", err)
			}
			if f.clk.WaitForTimers(1, 20*time.Millisecond) {
				t.Error("the session still polls after the login ended")
			}
		})
	}
}

// GitHub: "5 extra seconds are added to the minimum interval … The error
// response includes the new interval that you must use."
func TestSlowDownLengthensThePollIntervalAsGitHubSays(t *testing.T) {
	f := newGHFixture(t, true)
	s, logs := f.session(nil)
	run(t, s)
	if _, err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.pollOnce() // at +5 s, GitHub's interval
	nextIn := func() time.Duration {
		t.Helper()
		if !f.clk.WaitForTimers(1, 5*time.Second) {
			t.Fatal("no poll timer")
		}
		at, _ := f.clk.NextDeadline()
		return at.Sub(f.clk.Now())
	}
	if d := nextIn(); d != 5*time.Second {
		t.Fatalf("polls every %s, want GitHub's 5 s", d)
	}
	f.gh.answerNext(map[string]any{"error": "slow_down", "error_description": "Too many requests have been made in the same timeframe.", "interval": 0})
	f.pollOnce()
	if d := nextIn(); d != 10*time.Second {
		t.Errorf("after slow_down with interval 10: next poll in %s, want 10 s", d)
	}
	f.gh.answerNext(map[string]any{"error": "slow_down"}) // without an interval: 5 s more
	f.pollOnce()
	if d := nextIn(); d != 15*time.Second {
		t.Errorf("after slow_down without interval: next poll in %s, want 15 s", d)
	}
	f.gh.setLast("approved")
	f.advance()
	waitFor(t, s, "the login is approved", loggedIn)
	if !strings.Contains(logs.String(), "poll more slowly") {
		t.Errorf("no log line says GitHub asked to slow down:\n%s", logs)
	}
}

func TestARefusedGitHubRefreshEndsTheLoginAndSaysRunCreddLogin(t *testing.T) {
	f := newGHFixture(t, true)
	s, logs := f.session(f.store())
	run(t, s)
	f.login(s)
	k, _ := f.kept()
	f.gh.revokeAll()
	f.advance() // the renewal: bad_refresh_token
	st := waitFor(t, s, "the login ended and its file erased", func(st State) bool { return st.Status == StatusLoginRequired && !st.Kept })
	if e := st.LastError; e == nil || e.Code != CodeLoginRequired || e.Hint != "run `credd login`" || !strings.Contains(e.Message, "bad_refresh_token") || !strings.Contains(e.Message, "GitHub refused to renew") {
		t.Errorf("last error %+v, want LoginRequired naming bad_refresh_token, with the hint to run credd login", st.LastError)
	}
	if _, ok := f.kept(); ok {
		t.Error("the refused login is still kept")
	}
	_, err := s.Token(context.Background())
	if de := daemon.AsError(err); de.Code != CodeLoginRequired || de.Kind != daemon.KindPermanent || !strings.Contains(de.Hint, "credd login") {
		t.Errorf("Token = %v, want a permanent LoginRequired", err)
	}
	if strings.Contains(logs.String(), k.RefreshToken) || strings.Contains(err.Error(), k.RefreshToken) {
		t.Error("the refresh token reached the log or the error")
	}
	noTokenIn(t, "the log", logs.String())
}

func TestAGitHubOutageDuringRenewalIsRetriedNotTheEnd(t *testing.T) {
	f := newGHFixture(t, true)
	s, _ := f.session(f.store())
	run(t, s)
	first := f.login(s)
	f.gh.setDown(true)
	f.advance() // the renewal: 502
	st := waitFor(t, s, "the renewal failed", func(st State) bool { return st.LastError != nil })
	if st.Status != StatusLoggedIn || st.LastError.Code != CodeIdPUnavailable || st.LastError.Kind != daemon.KindRetryable {
		t.Errorf("state %+v, error %+v; want still logged in with a retryable IdPUnavailable", st, st.LastError)
	}
	if tok, err := s.Token(context.Background()); err != nil || tok != first {
		t.Errorf("Token during the outage = %v; want the current, unexpired token", err)
	}
	f.gh.setDown(false)
	f.advance() // the backoff
	waitFor(t, s, "the token is renewed", func(st State) bool { return st.Renewals == 1 && st.LastError == nil })
}

func TestANonExpiringGitHubTokenIsKeptItselfAndServesUntilRefused(t *testing.T) {
	f := newGHFixture(t, false) // an OAuth app: gho_, no expiry, no refresh token
	s1, logs1 := f.session(f.store(), "read:user", "repo")
	stop := run(t, s1)
	tok := f.login(s1)
	if !strings.HasPrefix(tok, "gho_") {
		t.Fatalf("Token = %.8q…, want the OAuth app's gho_ token", tok)
	}
	if scope := f.gh.seen()[0].Form.Get("scope"); scope != "read:user repo" {
		t.Errorf("asked for scope %q, want \"read:user repo\"", scope)
	}
	st := waitFor(t, s1, "the token is kept", func(st State) bool { return st.Kept })
	if st.Status != StatusLoggedIn || st.CanRenew || !st.IDTokenExpires.IsZero() || !st.NextRenewal.IsZero() {
		t.Errorf("state %+v, want logged in, no expiry, nothing to renew", st)
	}
	k, _ := f.kept()
	if k.AccessToken != tok || k.RefreshToken != "" || k.Provider != ProviderGitHub {
		t.Errorf("kept %+v, want the access token itself (it has no refresh token)", k)
	}
	if fi, err := os.Stat(f.store().Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kept file mode %v, %v; want 0600", fi.Mode(), err)
	}
	f.clk.Advance(400 * 24 * time.Hour)
	if got, err := s1.Token(context.Background()); err != nil || got != tok {
		t.Errorf("Token a year on = %v; want the same token", err)
	}
	stop()

	// A restart resumes it without asking GitHub.
	n := len(f.gh.seen())
	s2, logs2 := f.session(f.store(), "read:user", "repo")
	run(t, s2)
	waitFor(t, s2, "the kept token is resumed", loggedIn)
	if got, err := s2.Token(context.Background()); err != nil || got != tok {
		t.Fatalf("Token after a restart = %v; want the kept token", err)
	}
	if len(f.gh.seen()) != n {
		t.Error("resuming a token that does not expire asked GitHub")
	}

	// The bridge says GitHub refused it (401): the login ends.
	changed := s2.Source().Changed()
	s2.Source().TokenRefused(context.Background(), tok)
	st = s2.State()
	if st.Status != StatusLoginRequired || st.LastError == nil || st.LastError.Code != CodeLoginRequired || st.LastError.Hint != "run `credd login`" || st.Kept {
		t.Errorf("after refusal: %+v, error %+v; want LoginRequired, run credd login, nothing kept", st, st.LastError)
	}
	if _, ok := f.kept(); ok {
		t.Error("the refused token is still kept")
	}
	if _, err := s2.Token(context.Background()); daemon.AsError(err).Code != CodeLoginRequired || daemon.KindOf(err) != daemon.KindPermanent {
		t.Errorf("Token after refusal = %v, want a permanent LoginRequired", err)
	}
	select {
	case <-changed:
	default:
		t.Error("the roles' sources were not told the login ended")
	}
	noTokenIn(t, "the log", logs1.String()+logs2.String())
}

func TestARefusedExpiringGitHubTokenIsRenewedOnceThenTheLoginEnds(t *testing.T) {
	f := newGHFixture(t, true)
	s, _ := f.session(nil)
	run(t, s)
	first := f.login(s)

	s.TokenRefused(context.Background(), "ghu_not-the-current-one")
	if st := s.State(); st.Status != StatusLoggedIn || st.Renewals != 0 {
		t.Fatalf("a refusal of a token not held changed the login: %+v", st)
	}
	s.TokenRefused(context.Background(), first)
	second, err := s.Token(context.Background())
	if err != nil || second == first || s.State().Renewals != 1 {
		t.Fatalf("after the first refusal: Token %v, renewals %d; want a renewed token", err, s.State().Renewals)
	}
	s.TokenRefused(context.Background(), second)
	st := s.State()
	if st.Status != StatusLoginRequired || st.LastError == nil || st.LastError.Hint != "run `credd login`" || st.Renewals != 1 {
		t.Errorf("after the renewed token was refused too: %+v; want LoginRequired without another renewal", st)
	}
}

func TestLogoutEndsAGitHubLoginAndErasesItsFile(t *testing.T) {
	f := newGHFixture(t, true)
	s, _ := f.session(f.store())
	run(t, s)
	f.login(s)
	waitFor(t, s, "the login is kept", func(st State) bool { return st.Kept })
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.kept(); ok {
		t.Error("the kept file survived the logout")
	}
	if _, err := s.Token(context.Background()); !strings.Contains(err.Error(), "logged out") {
		t.Errorf("Token after logout = %v", err)
	}
}

func TestGitHubErrorsAnsweredWithHTTP200AreErrorsThatSayWhatToDo(t *testing.T) {
	f := newGHFixture(t, true)
	logs := &syncbuf.Buffer{}
	s, err := New(Options{GitHub: true, GitHubURL: f.gh.URL(), ClientID: "Iv1.not-registered", Clock: f.clk,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	// GitHub knows no app by this client ID: the device code request fails.
	_, err = s.Start(context.Background())
	if de := daemon.AsError(err); de.Code != CodeIdPRefused || !strings.Contains(de.Message, "404") || !strings.Contains(de.Hint, "--client-id") {
		t.Errorf("Start with an unknown client ID = %v (hint %q)", err, daemon.AsError(err).Hint)
	}
	// A token request GitHub refuses with HTTP 200 and "error".
	_, err = s.githubPost(context.Background(), s.github.token, map[string][]string{"client_id": {"nope"}})
	e := classifyGitHub("the device login failed", err)
	if e.Kind != daemon.KindPermanent || !strings.Contains(e.Message, "incorrect_client_credentials") || !strings.Contains(e.Hint, "--client-id") {
		t.Errorf("a 200 with incorrect_client_credentials = %+v", e)
	}
}

func TestGitHubLoginOptions(t *testing.T) {
	s, err := New(Options{GitHub: true, ClientID: "Iv1.x"})
	if err != nil {
		t.Fatal(err)
	}
	// The same endpoints as golang.org/x/oauth2's table for github.com.
	if s.github.deviceCode != endpoints.GitHub.DeviceAuthURL || s.github.token != endpoints.GitHub.TokenURL {
		t.Errorf("endpoints %+v, want x/oauth2's %+v", s.github, endpoints.GitHub)
	}
	if st := s.State(); st.Issuer != DefaultGitHubURL || st.Provider != ProviderGitHub {
		t.Errorf("state %+v", st)
	}
	if len(s.scopes) != 0 {
		t.Errorf("scopes %v, want none by default", s.scopes)
	}
	ghes, err := New(Options{GitHub: true, GitHubURL: "https://ghe.example.com/", ClientID: "Iv1.x"})
	if err != nil || ghes.github.deviceCode != "https://ghe.example.com/login/device/code" || ghes.github.token != "https://ghe.example.com/login/oauth/access_token" {
		t.Errorf("GHES endpoints %+v, %v", ghes.github, err)
	}
	for name, opts := range map[string]Options{
		"a client secret":     {GitHub: true, ClientID: "Iv1.x", ClientSecret: "s3cr3t-value"},
		"an OIDC issuer":      {GitHub: true, ClientID: "Iv1.x", Issuer: "https://idp.example"},
		"no client ID":        {GitHub: true},
		"a URL with no host":  {GitHub: true, ClientID: "Iv1.x", GitHubURL: "github.com"},
		"a URL with a query":  {GitHub: true, ClientID: "Iv1.x", GitHubURL: "https://github.com/?x=1"},
		"a non-HTTP(S) URL":   {GitHub: true, ClientID: "Iv1.x", GitHubURL: "ftp://github.com"},
		"a URL with userinfo": {GitHub: true, ClientID: "Iv1.x", GitHubURL: "https://u:pw-secret-1234@github.com"},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%s: the error holds a secret: %v", name, err)
		}
	}
}

func TestAGitHubLoginIsKeptApartFromOIDCLogins(t *testing.T) {
	dir := t.TempDir()
	gh := NewGitHubFileStore(dir, "", "Iv1.x")
	oidcStore := NewFileStore(dir, DefaultGitHubURL, "Iv1.x")
	if gh.Path() == oidcStore.Path() {
		t.Fatal("a GitHub login and an OIDC login share a file")
	}
	if NewGitHubFileStore(dir, "https://github.com/", "Iv1.x").Path() != gh.Path() {
		t.Error("a trailing slash changes the GitHub login's file")
	}
	if err := gh.Save(keepGitHubToken("gho_kept-access-token")); err != nil {
		t.Fatal(err)
	}
	if got, err := gh.Load(); err != nil || got != keepGitHubToken("gho_kept-access-token") {
		t.Errorf("Load = %q, %v", got, err)
	}
	// An OIDC login's file put in a GitHub login's place is not used.
	data, _ := os.ReadFile(gh.Path())
	var k keptFile
	json.Unmarshal(data, &k)
	k.Provider, k.AccessToken, k.RefreshToken = "", "", "rt-oidc"
	writeKept(t, gh.Path(), k, 0o600)
	if _, err := gh.Load(); err == nil || !strings.Contains(err.Error(), "not a GitHub login") {
		t.Errorf("Load of an OIDC file = %v", err)
	}
}
