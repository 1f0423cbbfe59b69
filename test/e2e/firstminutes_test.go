package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/test/internal/harness"
)

// The first ten minutes of a newcomer (issue 15): what they type, as they
// type it, against the built binary.

func TestHelpVersionAndMistakesAsANewcomerMeetsThem(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // a part of stdout; "" = stdout must be empty
		wantStderr string // the one line of stderr; "" = stderr must be empty
	}{
		{"help for a command", []string{"help", "daemon"}, 0, "-role-arn", ""},
		{"a command's -h", []string{"daemon", "-h"}, 0, "-role-arn", ""},
		{"--version", []string{"--version"}, 0, "credd ", ""},
		{"a flag without its dash", []string{"daemon", "--rolearn", "x"}, 2, "",
			"credd daemon: unknown flag --rolearn: did you mean --role-arn? (credd daemon -h lists the flags)"},
		{"a bad value", []string{"demo", "--check=maybe"}, 2, "",
			`credd demo: invalid boolean value "maybe" for --check: parse error (credd demo -h lists the flags)`},
		{"a command with a typo", []string{"stauts"}, 2, "",
			"credd: unknown command \"stauts\": did you mean status? (`credd help` lists the commands)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := binary.Run(t, harness.BaseEnv(), tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if tt.wantStdout == "" && stdout != "" || !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout = %q, want it to hold %q", stdout, tt.wantStdout)
			}
			if tt.wantStderr == "" && stderr != "" || tt.wantStderr != "" && stderr != tt.wantStderr+"\n" {
				t.Errorf("stderr =\n%q\nwant\n%q", stderr, tt.wantStderr)
			}
		})
	}
}

// awsCLIv1 returns the pip AWS CLI v1 on PATH (test/setup.sh installs
// it), or skips: it is the client that reads AWS_DEFAULT_REGION only.
func awsCLIv1(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no `aws` on PATH: install the AWS CLI v1 (pip install awscli, or test/setup.sh) to run this test")
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/1.") {
		t.Skipf("%s is %q (%v), not the pip AWS CLI v1 this test is about: pip install awscli", path, strings.TrimSpace(string(out)), err)
	}
	t.Logf("client: %s", strings.TrimSpace(string(out)))
	return path
}

// clientShellEnv is a client shell's environment before the user pastes
// anything: no AWS variable and no ~/.aws.
func clientShellEnv(t *testing.T) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
}

func TestTheDemosPastedLinesWorkWithThePipAWSCLI(t *testing.T) {
	awsCLIv1(t)
	demo := exec.Command(string(binary), "demo")
	demo.Env = harness.BaseEnv()
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs harness.LockedBuffer
	demo.Stderr = &logs
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		demo.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			demo.Process.Kill()
			<-exited
			t.Errorf("the demo did not stop within 10s of Ctrl-C")
		}
		if t.Failed() {
			t.Logf("demo stderr:\n%s", logs.String())
		}
	})

	// Read what a user sees, up to the hint that it serves.
	lines := make(chan string)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
		demo.Wait()
	}()
	var printed []string
	timeout := time.After(60 * time.Second)
	for serving := false; !serving; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the demo exited:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, line)
			serving = strings.HasPrefix(line, "Serving until Ctrl-C")
		case <-timeout:
			t.Fatalf("the demo did not serve within 60s:\n%s", strings.Join(printed, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()

	// What the user pastes: the exports and the example call after them.
	var paste []string
	for _, line := range printed {
		if strings.HasPrefix(line, "export ") || strings.HasPrefix(line, "unset ") || strings.HasPrefix(line, "aws ") {
			paste = append(paste, line)
		}
	}
	if !strings.HasPrefix(paste[len(paste)-1], "aws --endpoint-url ") {
		t.Fatalf("the demo printed no aws example after the exports:\n%s", strings.Join(printed, "\n"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", strings.Join(paste, "\n"))
	sh.Env = clientShellEnv(t)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the pasted lines failed (%v):\n%s\n\npasted:\n%s", err, out, strings.Join(paste, "\n"))
	}
	var id struct{ Arn string }
	if err := json.Unmarshal(out, &id); err != nil || !strings.Contains(id.Arn, "assumed-role/credd-sandbox/") {
		t.Errorf("aws sts get-caller-identity said %s (%v); want the sandbox role's session", out, err)
	}
}

func TestDaemonInTheBackgroundThenEnvWait(t *testing.T) {
	dir := harness.StateDir(t) // a first start: nothing there yet

	// credd daemon ... &
	d := exec.Command(string(binary), "daemon", "--token-source", "sandbox", "--listen", "127.0.0.1:0", "--state-dir", dir)
	d.Env = harness.BaseEnv()
	var logs harness.LockedBuffer
	d.Stdout, d.Stderr = &logs, &logs
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { d.Wait(); close(exited) }()
	t.Cleanup(func() {
		d.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			d.Process.Kill()
			<-exited
			t.Errorf("the daemon did not stop within 10s of SIGINT")
		}
		if t.Failed() {
			t.Logf("daemon logs:\n%s", logs.String())
		}
	})

	// eval "$(credd env --wait 10s)", at once.
	sh := exec.Command("sh", "-c", `eval "$("$0" env --wait 10s --state-dir "$1")" || exit; env`, string(binary), dir)
	sh.Env = clientShellEnv(t)
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("eval \"$(credd env --wait 10s)\" failed: %v %s", err, errOutput(err))
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "AWS_") {
			vars[k] = v
		}
	}
	url, token := vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"], vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	if url == "" || token == "" {
		t.Fatalf("the shell got no endpoint or token: %v", vars)
	}

	// What an SDK does next with them.
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var creds struct{ AccessKeyId string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &creds) != nil || creds.AccessKeyId == "" {
		t.Errorf("the exported endpoint answered %s: %s", resp.Status, body)
	}
}

func TestEvalOfAFailingEnvFails(t *testing.T) {
	dir := harness.StateDir(t) // no daemon has ever run there
	sh := exec.Command("sh", "-c", `eval "$("$0" env --state-dir "$1")"; echo "eval exit $?"`, string(binary), dir)
	sh.Env = clientShellEnv(t)
	var stderr strings.Builder
	sh.Stderr = &stderr
	out, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "eval exit 1" {
		t.Errorf("the shell said %q, want eval to fail with 1", got)
	}
	if !strings.Contains(stderr.String(), "no authorization token") {
		t.Errorf("stderr = %q, want credd env's reason", stderr.String())
	}
}

// errOutput is what a failed exec.Cmd.Output left on stderr.
func errOutput(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
