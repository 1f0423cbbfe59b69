package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// sessionName is the role session name every daemon of the suite uses, so
// the assumed-role ARN the clients see is known in advance.
const sessionName = "credd-compat"

// wantARN is what GetCallerIdentity answers for credentials credd got from
// the sandbox.
var wantARN = "arn:aws:sts::" + sandbox.DefaultAccountID + ":assumed-role/credd-sandbox/" + sessionName

// fixture is a sandbox (OIDC issuer and STS emulator, in the test process)
// and one credd daemon exchanging the sandbox's GitHub Actions tokens with
// it. The sandbox outlives daemon restarts, so a client keeps one STS
// endpoint while the daemon under it is restarted.
type fixture struct {
	sb     *sandbox.Sandbox
	stsURL string // where clients send GetCallerIdentity
	daemon *harness.Daemon
	// exports is what `credd env` printed, as name → value.
	exports map[string]string
}

// startSandbox starts a sandbox that stops when the test ends.
func startSandbox(t *testing.T, opts sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	return sb
}

// newFixture starts a sandbox whose credentials live at most lifetime
// (0 = as the daemon asks, 1 h) and a daemon for it.
func newFixture(t *testing.T, lifetime time.Duration) *fixture {
	t.Helper()
	sb := startSandbox(t, sandbox.Options{STS: sandbox.STSOptions{MaxLifetime: lifetime}})

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"USER=compat",
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + sb.ActionsTokenURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + sb.Issuer.RequestToken(),
	}
	h := &fixture{sb: sb, stsURL: sb.STSURL}
	h.daemon = startDaemon(t, env,
		"--token-source", "actions",
		"--role-arn", sandbox.DefaultRoleARN,
		"--session-name", sessionName,
		"--sts-endpoint", sb.STSURL,
		"--region", "us-east-1")
	h.exports = credEnv(t, h.daemon)
	return h
}

// setup is one way of handing the authorization token to a client.
type setup struct {
	name, title     string
	token, fileUsed bool
}

var setups = []setup{
	{"both variables", "Both variables (what `credd env` prints)", true, true},
	{"token variable only", "`AWS_CONTAINER_AUTHORIZATION_TOKEN` only", true, false},
	{"token file only", "`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` only", false, true},
}

// clientEnv is the clean environment a client runs in: what `credd env`
// printed (less the token variables the setup leaves out), the region, the
// emulator's STS endpoint, a fresh HOME and no AWS config or credentials
// files, IMDS off and PATH.
func (h *fixture) clientEnv(t *testing.T, s setup) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL_STS=" + h.stsURL,
	}
	for k, v := range h.exports {
		switch {
		case k == "AWS_CONTAINER_AUTHORIZATION_TOKEN" && !s.token,
			k == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" && !s.fileUsed:
			continue
		}
		env = append(env, k+"="+v)
	}
	return env
}

// wrongTokenEnv is clientEnv with both token variables replaced by a token
// the daemon does not know.
func (h *fixture) wrongTokenEnv(t *testing.T) []string {
	t.Helper()
	const wrong = "not-the-token-credd-wrote"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	env := h.clientEnv(t, setup{name: "wrong token"})
	return append(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN="+wrong, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+file)
}

// credEnv runs `credd env` and returns what it exports.
func credEnv(t *testing.T, d *harness.Daemon) map[string]string {
	t.Helper()
	exports := d.Exports(t)
	if u := exports["AWS_CONTAINER_CREDENTIALS_FULL_URI"]; !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("credd env: FULL_URI = %q, want http://127.0.0.1:...", u)
	}
	return exports
}

// startDaemon starts `credd daemon` on 127.0.0.1:0 with a new state
// directory and waits until it serves credentials. When the test ends it
// stops the daemon, which must exit 0 with no data race.
func startDaemon(t *testing.T, env []string, args ...string) *harness.Daemon {
	t.Helper()
	return serving(t, binary.StartDaemon(t, env, args...))
}

// restart starts d again, once stopped, on the same port and state
// directory, and waits until it serves credentials.
func restart(t *testing.T, d *harness.Daemon) *harness.Daemon {
	t.Helper()
	return serving(t, d.Restart(t))
}

// serving waits until d serves credentials, and has it stopped and its
// exit checked when the test ends.
func serving(t *testing.T, d *harness.Daemon) *harness.Daemon {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-d.Exited():
			t.Fatalf("daemon exited early:\n%s", d.Logs())
		default:
		}
		if st, err := status(t, d); err == nil && len(st.Roles) > 0 && st.Roles[0].Serving {
			t.Cleanup(func() { d.Stop(t); d.CheckStopped(t) })
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not serve credentials within 20s:\n%s", d.Logs())
		}
	}
}

// cliEnv is the environment of short credd commands. The race detector
// otherwise sleeps 1 s at exit.
func cliEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "GORACE=atexit_sleep_ms=0"}
}

// status asks the daemon with `credd status --json`.
func status(t *testing.T, d *harness.Daemon) (daemon.Status, error) {
	t.Helper()
	out, _, _ := binary.Run(t, cliEnv(), "status", "--json", "--state-dir", d.StateDir) // exit 1 or 2 still prints the document
	var st daemon.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("credd status --json: %v: %q", err, out)
	}
	return st, nil
}

// requests counts the daemon's answers on the default role's path by status code.
func requests(t *testing.T, d *harness.Daemon) map[int]int64 {
	t.Helper()
	st, err := status(t, d)
	if err != nil {
		t.Fatal(err)
	}
	n := map[int]int64{}
	for _, r := range st.Requests {
		if r.Path == "/v1/credentials" {
			n[r.Status] += r.Count
		}
	}
	return n
}
