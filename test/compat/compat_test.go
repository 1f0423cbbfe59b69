// Package compat runs every AWS CLI and SDK the project supports against
// the real credd binary: each client gets its credentials from credd's
// endpoint through its own default credential chain, in a clean
// environment, and signs GetCallerIdentity calls that the sandbox STS
// emulator verifies. The outcome is the matrix in docs/compatibility.md,
// which a complete, passing run checks (CREDD_WRITE_DOCS=1 rewrites it).
//
// A client that is not installed is skipped with a message, except in CI
// (CI=true), where it is a failure: .ci/run installs them all.
package compat

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/test/internal/harness"
)

var (
	// binary is the credd binary, built with the race detector.
	binary harness.Binary
	// goClients are the Go client programs by name ("v1", "v2").
	goClients = map[string]string{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The clients mostly wait (on credd's refresh timer, on their own
	// retries), so run them all at once unless -parallel was given.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", "16")
	}

	start := time.Now()
	binary = harness.MustBuild()
	dir, err := os.MkdirTemp("", "credd-compat-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		harness.Remove()
		os.Exit(1)
	}
	// Each Go client builds in its own directory: v1 is a module of its
	// own, so that the deprecated aws-sdk-go stays out of credd's go.mod.
	for _, v := range []string{"v1", "v2"} {
		goClients[v] = filepath.Join(dir, "goclient-"+v)
		build := exec.Command("go", "build", "-C", "goclient/"+v, "-o", goClients[v], ".")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "go build goclient/"+v, err)
			os.RemoveAll(dir)
			harness.Remove()
			os.Exit(1)
		}
	}

	code := m.Run()
	os.RemoveAll(dir)
	harness.Remove()
	if err := writeMatrix(code == 0, time.Since(start)); err != nil {
		fmt.Fprintln(os.Stderr, "compat: matrix:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// missing skips a test whose client is not installed, or fails it in CI.
func missing(t *testing.T, name string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v. CI must run every client: .ci/run installs them", name, err)
	}
	t.Skipf("SKIP %s: %v. Install it as .ci/run does; with CI=true a missing client is a failure.", name, err)
}

func TestClients(t *testing.T) {
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := record(c)
			argv, err := c.find()
			if err != nil {
				res.skipped = err.Error()
				missing(t, c.name, err)
			}
			if res.version, err = c.version(argv); err != nil {
				t.Fatal(err)
			}
			h := newFixture(t, 0)
			for _, s := range setups {
				t.Run(s.name, func(t *testing.T) { testSetup(t, c, argv, h, s, res.cell(s.name)) })
			}
			t.Run("wrong token", func(t *testing.T) { testWrongToken(t, c, argv, h, res.cell(colWrongToken)) })
			if c.longLived {
				t.Run("refresh and restart", func(t *testing.T) {
					testLongLived(t, c, argv, res.cell(colRefresh), res.cell(colRestart))
				})
			}
		})
	}
}

// testSetup makes two GetCallerIdentity calls with the token handed over
// as s says, or checks that a client that cannot read the token file
// fails without sending a token.
func testSetup(t *testing.T, c client, argv []string, h *fixture, s setup, cell *string) {
	fail := failer(t, cell)
	served := fetchServed(t, h)
	env := h.clientEnv(t, s)
	supported := s.token || c.readsTokenFile
	n := 2
	if !supported {
		n = 1 // each run waits for the client's retries of the 401
	}
	before, verified := requests(t, h.daemon), h.sb.STS.VerifiedCalls()
	r := c.calls(t, argv, env, h.stsURL, n)
	after := requests(t, h.daemon)
	fetches, unauthorized := after[200]-before[200], after[401]-before[401]
	t.Logf("%s, %s: %d fetches, %d unauthorized; output:\n%s", c.name, s.name, fetches, unauthorized, r.output)

	if !supported {
		switch {
		case r.ok:
			fail("works, but the client table says it ignores the token file: update clients_test.go")
		case fetches != 0 || unauthorized == 0:
			fail("want only 401 answers, got %d fetches and %d 401s", fetches, unauthorized)
		case !containsAny(errorOf(r), unauthorizedMessage(t, h, "")):
			fail("failed, but not with credd's 401 for a request without a token: %s", errorOf(r))
		}
		*cell = "unsupported: ignores the file, sends no token → 401 (expected failure verified)"
		return
	}
	if !r.ok || len(r.lines) != n {
		fail("failed: %s", errorOf(r))
	}
	for _, l := range r.lines {
		if l.ARN != wantARN {
			fail("call %d: ARN %q, want %q", l.N, l.ARN, wantARN)
		}
		if !c.cli && l.AKID != served {
			fail("call %d signed with access key %q, credd serves %q", l.N, l.AKID, served)
		}
	}
	if got := h.sb.STS.VerifiedCalls() - verified; got != int64(n) {
		fail("the emulator verified %d signatures, want %d", got, n)
	}
	wantFetches := int64(1)
	if c.cli {
		wantFetches = int64(n) // one process per call
	}
	if fetches != wantFetches || unauthorized != 0 {
		fail("%d credentials fetches and %d 401s, want %d and 0", fetches, unauthorized, wantFetches)
	}
	if c.cli {
		*cell = fmt.Sprintf("✅ %d runs, %d fetches", n, fetches)
	} else {
		*cell = fmt.Sprintf("✅ %d calls, %d fetch", n, fetches)
	}
}

// testWrongToken checks that a client with a token credd does not know
// fails, and records what its user sees.
func testWrongToken(t *testing.T, c client, argv []string, h *fixture, cell *string) {
	fail := failer(t, cell)
	env := h.wrongTokenEnv(t)
	message := unauthorizedMessage(t, h, "not-the-token")
	before := requests(t, h.daemon)
	r := c.calls(t, argv, env, h.stsURL, 1)
	after := requests(t, h.daemon)
	fetches, unauthorized := after[200]-before[200], after[401]-before[401]
	t.Logf("%s, wrong token: %d fetches, %d unauthorized; output:\n%s", c.name, fetches, unauthorized, r.output)
	if r.ok || fetches != 0 || unauthorized == 0 {
		fail("want a failure after 401s only; got ok=%v, %d fetches, %d 401s", r.ok, fetches, unauthorized)
	}
	seen := errorOf(r)
	shown := false
	for _, m := range message {
		if strings.Contains(seen, m) {
			shown = true
			seen = strings.ReplaceAll(seen, m, "<credd's message>")
		}
	}
	seen = sanitize(seen, h.daemon.StateDir)
	switch {
	case c.showsMessage && !shown:
		fail("credd's message does not reach the user: %s", seen)
	case !c.showsMessage && shown:
		fail("credd's message now reaches the user (update clients_test.go): %s", seen)
	case shown:
		*cell = fmt.Sprintf("✅ shown, after %s: `%s`", plural(unauthorized, "request"), seen)
	default:
		*cell = fmt.Sprintf("hidden by the SDK, after %s: `%s`", plural(unauthorized, "request"), seen)
	}
}

// testLongLived keeps one client process calling GetCallerIdentity while
// credd refreshes short-lived credentials under it, then while credd is
// restarted on the same port and state directory.
func testLongLived(t *testing.T, c client, argv []string, refreshCell, restartCell *string) {
	const lifetime = 30 * time.Second // credd refreshes at about 15 s
	h := newFixture(t, lifetime)
	env := h.clientEnv(t, setups[0])
	lines, stderr := c.loop(t, argv, env, h.stsURL, 170)
	next := func(deadline <-chan time.Time, what string, fail func(string, ...any)) line {
		select {
		case l, ok := <-lines:
			if !ok {
				fail("the process exited while %s; stderr:\n%s", what, stderr())
			}
			if l.OK && l.ARN != wantARN {
				fail("call %d: ARN %q, want %q", l.N, l.ARN, wantARN)
			}
			return l
		case <-deadline:
			fail("timed out %s; stderr:\n%s", what, stderr())
		}
		return line{}
	}

	// Across a refresh: every call succeeds and the key changes.
	fail := failer(t, refreshCell)
	seen := map[string]bool{}
	first := ""
	deadline := time.After(100 * time.Second)
	for {
		l := next(deadline, "waiting for a new access key after credd's refresh", fail)
		if !l.OK {
			fail("call %d failed: %s", l.N, l.Error)
		}
		seen[l.AKID] = true
		if first == "" {
			first = l.AKID
		} else if l.AKID != first {
			t.Logf("call %d: access key changed after %d calls", l.N, l.N-1)
			break
		}
	}
	*refreshCell = "✅ no failed call; the key changed after credd's refresh"

	// Across a restart: the process recovers on its next refresh.
	fail = failer(t, restartCell)
	tokenFile := h.exports["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
	tokenBefore, _ := os.ReadFile(tokenFile)
	h.daemon.Stop(t)
	time.Sleep(2 * time.Second)
	h.daemon = restart(t, h.daemon)
	if tokenAfter, _ := os.ReadFile(tokenFile); string(tokenAfter) != string(tokenBefore) || len(tokenAfter) == 0 {
		fail("the restarted daemon changed the authorization token")
	}
	failed := 0
	deadline = time.After(60 * time.Second)
	for {
		l := next(deadline, "waiting for a call signed with the restarted daemon's credentials", fail)
		if !l.OK {
			failed++
			continue
		}
		if !seen[l.AKID] {
			t.Logf("call %d: recovered with a new key; %d calls failed around the restart", l.N, failed)
			break
		}
	}
	*restartCell = "✅ recovered on its next refresh"
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// failer returns a t.Fatalf that also records the failure in cell.
func failer(t *testing.T, cell *string) func(string, ...any) {
	*cell = "❌ did not finish"
	return func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		*cell = "❌ " + firstLine(msg)
		t.Fatal(msg)
	}
}

// errorOf is the first error a run reports.
func errorOf(r run) string {
	for _, l := range r.lines {
		if !l.OK && l.Error != "" {
			return strings.Join(strings.Fields(l.Error), " ")
		}
	}
	return firstLine(r.output)
}

// fetchServed gets the access key credd serves now, as an SDK would.
func fetchServed(t *testing.T, h *fixture) string {
	t.Helper()
	status, body := get(t, h, h.exports["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
	var creds struct{ AccessKeyId string }
	if status != http.StatusOK || json.Unmarshal(body, &creds) != nil || creds.AccessKeyId == "" {
		t.Fatalf("credd answered %d %s", status, body)
	}
	return creds.AccessKeyId
}

// unauthorizedMessage is credd's 401 message for a request with token ("" =
// without an Authorization header), as JSON text (what botocore shows) and
// decoded (what Go shows).
func unauthorizedMessage(t *testing.T, h *fixture, token string) []string {
	t.Helper()
	status, body := get(t, h, token)
	var e struct{ Code, Message string }
	if status != http.StatusUnauthorized || json.Unmarshal(body, &e) != nil || e.Code != "Unauthorized" || e.Message == "" {
		t.Fatalf("credd answered %d %s to token %q", status, body, token)
	}
	raw := strings.TrimSpace(string(body))
	return []string{raw, e.Code + ": " + e.Message, e.Message}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func get(t *testing.T, h *fixture, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.exports["AWS_CONTAINER_CREDENTIALS_FULL_URI"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
