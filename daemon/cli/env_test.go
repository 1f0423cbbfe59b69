package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

func TestExportLinesSurviveAPOSIXShell(t *testing.T) {
	tg := target{
		URL:       "http://127.0.0.1:9911/v1/credentials",
		Token:     "abc_-XYZ",
		TokenFile: "/tmp/it's here/token",
		STSURL:    "http://127.0.0.1:4566",
	}
	script := "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/x\n" + exportLines(tg) +
		`printf '%s|%s|%s|%s|%s|%s|%s' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" "$AWS_ENDPOINT_URL_STS" "$AWS_REGION" "$AWS_DEFAULT_REGION" "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI-unset}"`
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	// botocore reads only AWS_DEFAULT_REGION, the other SDKs AWS_REGION.
	want := strings.Join([]string{tg.URL, tg.Token, tg.TokenFile, tg.STSURL, "us-east-1", "us-east-1", "unset"}, "|")
	if string(out) != want {
		t.Errorf("shell saw %q, want %q", out, want)
	}
}

func TestExportLinesLeaveSTSAndTheRegionAloneOutsideTheSandbox(t *testing.T) {
	out := exportLines(target{URL: "u", Token: "t", TokenFile: "f"})
	for _, name := range []string{"AWS_ENDPOINT_URL_STS", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		if strings.Contains(out, name) {
			t.Errorf("export lines set %s outside the sandbox:\n%s", name, out)
		}
	}
}

func TestClientEnvironReplacesAndRemovesShadowingVariables(t *testing.T) {
	environ := []string{
		"PATH=/bin",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=stale",
		"HOME=/home/u",
	}
	got := clientEnviron(environ, target{URL: "http://127.0.0.1:1/v1/credentials", Token: "fresh", TokenFile: "/s/token"})
	want := []string{
		"PATH=/bin",
		"HOME=/home/u",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=fresh",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/s/token",
	}
	if !slices.Equal(got, want) {
		t.Errorf("environ =\n%q\nwant\n%q", got, want)
	}
}

// shortStateDir is a state dir path short enough for a unix socket, not
// yet created: the daemon creates it.
func shortStateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "credd-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "state")
}

// startDemo runs `credd demo --state-dir dir` after delay, until the test
// ends, and returns its stdout.
func startDemo(t *testing.T, dir string, delay time.Duration) *syncbuf.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			done <- 0
			return
		}
		done <- Run(ctx, []string{"demo", "--state-dir", dir}, IO{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exit %d: %s", code, stderr.String())
		}
	})
	return &stdout
}

// evalExports runs a shell's eval "$(credd env ...)" on out and returns the
// variables it set and eval's exit status.
func evalExports(t *testing.T, out string) (map[string]string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `eval "$1" || exit; env`, "sh", out)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	b, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return nil, ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "AWS_") {
			vars[k] = v
		}
	}
	return vars, 0
}

func TestEnvFailureMakesEvalFail(t *testing.T) {
	dir := shortStateDir(t) // nothing there: no token, no daemon
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no daemon has run", []string{"env", "--state-dir", dir}, exitFailure, "no authorization token"},
		{"a mistyped flag", []string{"env", "--profle", "x"}, exitUsage, "did you mean --profile?"},
		{"a negative wait", []string{"env", "--wait=-1s", "--state-dir", dir}, exitUsage, "--wait -1s is negative"},
		{"an argument", []string{"env", "default"}, exitUsage, `unexpected argument "default"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			if vars, status := evalExports(t, out); status == 0 {
				t.Errorf("eval of %q succeeded and set %v; want it to fail", out, vars)
			}
		})
	}
}

func TestEnvWaitsForADaemonThatIsStarting(t *testing.T) {
	dir := shortStateDir(t)
	// What a daemon that ran before leaves behind: its token, which the
	// starting one replaces. Printing it would fail every request.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := strings.Repeat("s", 43)
	if err := os.WriteFile(authtoken.Path(dir), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	startDemo(t, dir, 300*time.Millisecond)

	start := time.Now()
	out, errOut, code := run(t, "env", "--wait", "20s", "--state-dir", dir)
	if code != 0 || errOut != "" {
		t.Fatalf("credd env --wait: exit %d, stderr %q", code, errOut)
	}
	vars, status := evalExports(t, out)
	if status != 0 {
		t.Fatalf("eval failed (%d): %s", status, out)
	}
	tok, err := os.ReadFile(authtoken.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"]; got == stale || got != string(tok) {
		t.Errorf("exported token %q; want the daemon's %q, not the stale one", got, tok)
	}
	st, err := control.Client{StateDir: dir, Trust: authtoken.Trust{Explicit: true}}.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"]; got != st.Endpoint {
		t.Errorf("exported URL %q, the daemon serves %q", got, st.Endpoint)
	}
	if vars["AWS_DEFAULT_REGION"] == "" || vars["AWS_ENDPOINT_URL_STS"] == "" {
		t.Errorf("a sandbox daemon's exports lack the region or STS endpoint: %v", vars)
	}
	t.Logf("credd env --wait returned %s after the start", time.Since(start).Round(time.Millisecond))
}

func TestEnvWaitSaysWhatItWaitedFor(t *testing.T) {
	dir := shortStateDir(t)
	start := time.Now()
	out, errOut, code := run(t, "env", "--wait", "300ms", "--state-dir", dir)
	took := time.Since(start)
	if code != exitFailure || out != evalFails+"\n" {
		t.Errorf("exit %d, stdout %q; want %d and %q", code, out, exitFailure, evalFails)
	}
	for _, want := range []string{"waited 300ms", authtoken.Path(dir), control.SocketPath(dir), "credd daemon"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q: %s", want, errOut)
		}
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("gave up after %s, want about 300ms", took)
	}
}

func TestEnvWaitGivesUpAtOnceOnAStateDirItMustNotTrust(t *testing.T) {
	dir := shortStateDir(t)
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	start := time.Now()
	_, errOut, code := run(t, "env", "--wait", "20s", "--state-dir", dir)
	if code != exitFailure || time.Since(start) > 5*time.Second || !strings.Contains(errOut, "writable") {
		t.Errorf("exit %d after %s (%s); want %d at once: waiting cannot make the dir trustworthy", code, time.Since(start), errOut, exitFailure)
	}
}
