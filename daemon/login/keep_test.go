package login

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/internal/nonfile"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fixture is a fake IdP on a fake clock and a state dir for kept logins.
type fixture struct {
	t   *testing.T
	clk *clock.Fake
	idp *fakeIdP
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(start)
	return &fixture{t: t, clk: clk, idp: newFakeIdP(t, clk), dir: t.TempDir()}
}

func (f *fixture) store() *FileStore { return NewFileStore(f.dir, f.idp.URL(), "credd") }

// session is a Session on the fixture's IdP and clock with store (nil =
// none), logging to a buffer it returns.
func (f *fixture) session(store Store) (*Session, *syncbuf.Buffer) {
	f.t.Helper()
	logs := &syncbuf.Buffer{}
	opts := Options{Issuer: f.idp.URL(), ClientID: "credd", Clock: f.clk,
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

// run runs s until the returned stop is called or the test ends.
func run(t *testing.T, s *Session) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		running := s.runCtx != nil
		s.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, s *Session, what string, cond func(State) bool) State {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		st := s.State()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s; state %+v", what, st)
		}
	}
}

func loggedIn(st State) bool { return st.Status == StatusLoggedIn }

// keptToken reads the refresh token in the kept file, "" if there is none.
func (f *fixture) keptToken() string {
	f.t.Helper()
	data, err := os.ReadFile(f.store().Path())
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var k keptFile
	if err := json.Unmarshal(data, &k); err != nil {
		f.t.Fatal(err)
	}
	return k.RefreshToken
}

func (f *fixture) keep(rt string) {
	f.t.Helper()
	if err := f.store().Save(rt); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) advanceToRenewal(s *Session) {
	f.t.Helper()
	if !f.clk.WaitForTimers(1, 5*time.Second) {
		f.t.Fatal("the session set no renewal timer")
	}
	at, _ := f.clk.NextDeadline()
	f.clk.Set(at)
}

func TestADeviceLoginIsKeptAndANewSessionResumesItWithoutAPrompt(t *testing.T) {
	f := newFixture(t)
	s1, logs1 := f.session(f.store())
	stop := run(t, s1)
	if _, err := s1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s1, "the device login is approved and kept", func(st State) bool { return loggedIn(st) && st.Kept })
	if st.KeepError != nil {
		t.Fatalf("after the login: kept %v, keep error %+v", st.Kept, st.KeepError)
	}
	kept := f.keptToken()
	if kept == "" {
		t.Fatal("the login was not kept")
	}
	stop() // the daemon stops; the file stays

	s2, logs2 := f.session(f.store())
	run(t, s2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := s2.Token(ctx) // waits for the resumed login
	if err != nil || !strings.HasPrefix(tok, "eyJ") {
		t.Fatalf("Token after resuming = %q, %v", tok, err)
	}
	st = s2.State()
	if st.Status != StatusLoggedIn || st.Subject != "alice" || st.Login != nil || !st.Kept {
		t.Errorf("resumed state %+v, want logged in as alice, with no device login", st)
	}
	if got, want := f.idp.grantTypes(), []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}; !slices.Equal(got, want) {
		t.Errorf("the IdP saw grants %v, want %v", got, want)
	}
	for _, l := range []string{logs1.String(), logs2.String()} {
		if strings.Contains(l, kept) || strings.Contains(l, "eyJ") {
			t.Errorf("a token reached the log:\n%s", l)
		}
	}
	// The line is written just after the state change that let Token return.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs2.String(), "kept login resumed"); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("no log line says the kept login was resumed:\n%s", logs2)
			break
		}
	}
}

func TestTheKeptFileIs0600AndHoldsOnlyTheLogin(t *testing.T) {
	f := newFixture(t)
	rt := f.idp.issue()
	f.keep(rt)
	path := f.store().Path()
	if filepath.Dir(path) != f.dir || !strings.HasPrefix(filepath.Base(path), "login-") || len(filepath.Base(path)) != len("login-")+16+len(".json") {
		t.Errorf("kept in %s, want <state-dir>/login-<16 hex>.json", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"clientId", "issuer", "refreshToken", "savedAt"}; !slices.Equal(keys, want) {
		t.Errorf("the file holds %v, want %v", keys, want)
	}
	if m["issuer"] != f.idp.URL() || m["clientId"] != "credd" || m["refreshToken"] != rt {
		t.Errorf("the file holds %s", data)
	}
	entries, _ := os.ReadDir(f.dir)
	if len(entries) != 1 {
		t.Errorf("the state dir holds %d files, want only the kept login (no temp file left)", len(entries))
	}
	if other := KeptFileName(f.idp.URL(), "other-client"); other == filepath.Base(path) {
		t.Error("two clients of one IdP share a file name")
	}
}

func TestARefusedKeptLoginIsErasedAndSaysToLogIn(t *testing.T) {
	f := newFixture(t)
	f.keep("rt-the-idp-forgot")
	s, logs := f.session(f.store())
	run(t, s)
	st := waitFor(t, s, "the login is required", func(st State) bool { return st.Status == StatusLoginRequired })
	if e := st.LastError; e == nil || e.Code != CodeLoginRequired || e.Stage != daemon.StageTokenSource || !strings.Contains(e.Message, "refused the kept login") || !strings.Contains(e.Hint, "credd login") {
		t.Errorf("last error %+v, want LoginRequired from the token source saying the kept login was refused, and to run credd login", st.LastError)
	}
	if f.keptToken() != "" {
		t.Error("the refused login is still kept")
	}
	_, err := s.Token(context.Background())
	var de *daemon.Error
	if !errors.As(err, &de) || de.Code != CodeLoginRequired || de.Kind != daemon.KindPermanent {
		t.Errorf("Token = %v, want a permanent LoginRequired", err)
	}
	if strings.Contains(logs.String(), "rt-the-idp-forgot") {
		t.Errorf("the refresh token reached the log:\n%s", logs)
	}
}

func TestAKeptLoginOutlastsAnIdPOutageAtStart(t *testing.T) {
	f := newFixture(t)
	f.keep(f.idp.issue())
	f.idp.setDown(true)
	s, _ := f.session(f.store())
	run(t, s)
	waitFor(t, s, "the first renewal failed", func(st State) bool {
		return st.Status == StatusResuming && st.LastError != nil && strings.Contains(st.LastError.Message, "503")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Token(ctx)
	var de *daemon.Error
	if !errors.As(err, &de) || de.Code != CodeResuming || de.Kind != daemon.KindRetryable || !strings.Contains(de.Message, "resuming the kept login") {
		t.Errorf("Token while the IdP is down = %v, want a retryable LoginResuming", err)
	}
	if f.keptToken() == "" {
		t.Fatal("a transient failure erased the kept login")
	}
	f.idp.setDown(false)
	f.advanceToRenewal(s) // the backoff
	waitFor(t, s, "the login is resumed", loggedIn)
}

func TestARotatedRefreshTokenIsKept(t *testing.T) {
	f := newFixture(t)
	f.idp.setRotate(true)
	first := f.idp.issue()
	f.keep(first)
	s, logs := f.session(f.store())
	run(t, s)
	var second string
	waitFor(t, s, "the login is resumed and the rotated token kept", func(st State) bool {
		second = f.keptToken()
		return loggedIn(st) && second != first
	})
	if second == "" {
		t.Fatal("the resumed login is no longer kept")
	}
	f.advanceToRenewal(s)
	waitFor(t, s, "the second rotation is kept", func(st State) bool {
		third := f.keptToken()
		return st.Renewals == 2 && third != second && third != ""
	})
	for _, rt := range []string{first, second} {
		if strings.Contains(logs.String(), rt) {
			t.Errorf("a refresh token reached the log:\n%s", logs)
		}
	}
}

func TestALoginThatEndsErasesTheKeptFile(t *testing.T) {
	f := newFixture(t)
	f.keep(f.idp.issue())
	s, _ := f.session(f.store())
	run(t, s)
	waitFor(t, s, "the login is resumed", loggedIn)
	f.idp.revokeAll()
	f.advanceToRenewal(s)
	// The session ends the login, then erases the kept file (outside its
	// lock): State.Kept turns false once the erase has happened.
	st := waitFor(t, s, "the login ended and its kept file erased", func(st State) bool {
		return st.Status == StatusLoginRequired && !st.Kept
	})
	if f.keptToken() != "" {
		t.Error("an ended login is still kept")
	}
	if !strings.Contains(st.LastError.Message, "refused to renew") {
		t.Errorf("last error %+v", st.LastError)
	}
}

func TestLogoutDropsTheTokensAndErasesTheKeptFile(t *testing.T) {
	f := newFixture(t)
	f.keep(f.idp.issue())
	s, _ := f.session(f.store())
	run(t, s)
	waitFor(t, s, "the login is resumed", loggedIn)
	changed := s.Source().Changed()

	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	st := s.State()
	if st.Status != StatusLoggedOut || st.CanRenew || st.Subject != "" || st.Kept {
		t.Errorf("state after logout %+v", st)
	}
	if f.keptToken() != "" {
		t.Error("the kept file survived the logout")
	}
	_, err := s.Token(context.Background())
	var de *daemon.Error
	if !errors.As(err, &de) || de.Code != CodeLoginRequired || !strings.Contains(de.Message, "logged out") || !strings.Contains(de.Hint, "credd login") {
		t.Errorf("Token after logout = %v, want LoginRequired saying logged out, run credd login", err)
	}
	select {
	case <-changed:
	default:
		t.Error("the roles' sources were not told of the logout")
	}
	grants := len(f.idp.grantTypes())
	f.clk.Advance(24 * time.Hour)
	time.Sleep(20 * time.Millisecond)
	if n := len(f.idp.grantTypes()); n != grants {
		t.Errorf("the session renewed after logout (%d token requests, want %d)", n, grants)
	}
}

func TestLogoutCancelsAPendingDeviceLogin(t *testing.T) {
	f := newFixture(t)
	s, _ := f.session(f.store())
	stop := run(t, s)
	st, err := s.Start(context.Background())
	if err != nil || st.Login == nil || st.Login.Status != AttemptPending {
		t.Fatalf("Start = %+v, %v", st, err)
	}
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	got := s.Wait(context.Background(), st.Login.ID)
	if got.Login.Status != AttemptCanceled || got.Login.Error == nil || !strings.Contains(got.Login.Error.Message, "logout") {
		t.Errorf("attempt after logout %+v", got.Login)
	}
	time.Sleep(1500 * time.Millisecond) // past the IdP's 1 s poll interval
	if st := s.State(); st.Status != StatusLoggedOut {
		t.Errorf("the canceled device login still logged in: %+v", st)
	}
	if slices.Contains(f.idp.grantTypes(), "urn:ietf:params:oauth:grant-type:device_code") {
		t.Error("the canceled device login kept polling")
	}
	stop()
}

func TestAKeptFileThatIsNotThisLoginsIsIgnoredWithALogLine(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(f *fixture, path string)
		want    string
	}{
		{"one kept for another issuer", func(f *fixture, path string) {
			writeKept(f.t, path, keptFile{Issuer: "https://other.example", ClientID: "credd", RefreshToken: "rt-secret-of-other"}, 0o600)
		}, "belongs to issuer"},
		{"one kept for another client", func(f *fixture, path string) {
			writeKept(f.t, path, keptFile{Issuer: f.idp.URL(), ClientID: "other", RefreshToken: "rt-secret-of-other"}, 0o600)
		}, "belongs to issuer"},
		{"a group-readable one", func(f *fixture, path string) {
			writeKept(f.t, path, keptFile{Issuer: f.idp.URL(), ClientID: "credd", RefreshToken: "rt-secret-of-other"}, 0o640)
		}, "others could read"},
		{"one that is not JSON", func(f *fixture, path string) {
			os.WriteFile(path, []byte("rt-secret-of-other"), 0o600)
		}, "not a credd login file"},
		{"a symlink", func(f *fixture, path string) {
			target := filepath.Join(f.t.TempDir(), "elsewhere")
			writeKept(f.t, target, keptFile{Issuer: f.idp.URL(), ClientID: "credd", RefreshToken: "rt-secret-of-other"}, 0o600)
			os.Symlink(target, path)
		}, "not a regular file"},
		// Put in the way, these must not block the daemon's start or fill
		// its memory. (f.t: the subtest's, for its Skip and Fatal.)
		{"a FIFO with no writer", func(f *fixture, path string) {
			nonfile.FIFO(f.t, path)
		}, "not a regular file"},
		{"a symlink to a device", func(f *fixture, path string) {
			nonfile.EndlessDevice(f.t, path)
		}, "not a regular file"},
		{"a huge sparse file", func(f *fixture, path string) {
			writeKept(f.t, path, keptFile{Issuer: f.idp.URL(), ClientID: "credd", RefreshToken: "rt-secret-of-other"}, 0o600)
			nonfile.Huge(f.t, path)
		}, "is not used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.prepare(f, f.store().Path())
			s, logs := f.session(f.store())
			run(t, s)
			st := waitFor(t, s, "the kept file is judged", func(st State) bool { return st.KeepError != nil })
			if st.Status != StatusLoggedOut || st.CanRenew || !strings.Contains(st.KeepError.Message, tt.want) || st.KeepError.Code != CodeNotKept {
				t.Errorf("state %+v, keep error %+v; want logged out, and %q", st, st.KeepError, tt.want)
			}
			if !strings.Contains(logs.String(), "kept login ignored") || !strings.Contains(logs.String(), tt.want) {
				t.Errorf("no log line says why the kept login was ignored:\n%s", logs)
			}
			if strings.Contains(logs.String(), "rt-secret-of-other") || strings.Contains(st.KeepError.Message, "rt-secret-of-other") {
				t.Errorf("the token reached the log or the state:\n%s", logs)
			}
			if n := len(f.idp.grantTypes()); n != 0 {
				t.Errorf("the IdP saw %d token requests, want none", n)
			}
		})
	}
}

func writeKept(t *testing.T, path string, k keptFile, mode os.FileMode) {
	t.Helper()
	data, _ := json.Marshal(k)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// brokenStore fails every Save, as a read-only or full state dir would.
type brokenStore struct{}

func (brokenStore) Load() (string, error) { return "", nil }
func (brokenStore) Save(string) error {
	return errors.New("keep the login in /state: read-only file system")
}
func (brokenStore) Erase() error { return nil }

func TestALoginThatCannotBeKeptStillWorksAndSaysSo(t *testing.T) {
	f := newFixture(t)
	s, logs := f.session(brokenStore{})
	run(t, s)
	if _, err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "the login is approved and its keeping failed", func(st State) bool { return loggedIn(st) && st.KeepError != nil })
	if st.Kept || !strings.Contains(st.KeepError.Message, "read-only") || st.KeepError.Hint == "" {
		t.Errorf("state %+v, keep error %+v", st, st.KeepError)
	}
	if _, err := s.Token(context.Background()); err != nil {
		t.Errorf("Token = %v, want the ID token", err)
	}
	if !strings.Contains(logs.String(), "could not be kept") {
		t.Errorf("no log line says the login could not be kept:\n%s", logs)
	}
}
