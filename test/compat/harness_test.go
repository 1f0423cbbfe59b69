package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sandbox"
)

// sessionName is the role session name every daemon of the suite uses, so
// the assumed-role ARN the clients see is known in advance.
const sessionName = "credd-compat"

// wantARN is what GetCallerIdentity answers for credentials credd got from
// the sandbox.
var wantARN = "arn:aws:sts::" + sandbox.DefaultAccountID + ":assumed-role/credd-sandbox/" + sessionName

// harness is a sandbox (OIDC issuer and STS emulator, in the test process)
// and one credd daemon exchanging the sandbox's GitHub Actions tokens with
// it. The sandbox outlives daemon restarts, so a client keeps one STS
// endpoint while the daemon under it is restarted.
type harness struct {
	sb     *sandbox.Sandbox
	stsURL string // where clients send GetCallerIdentity
	daemon *daemonProc
	// exports is what `credd env` printed, as name → value.
	exports map[string]string
}

// newHarness starts a sandbox whose credentials live at most lifetime
// (0 = as the daemon asks, 1 h) and a daemon for it on a fixed port.
func newHarness(t *testing.T, lifetime time.Duration) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{MaxLifetime: lifetime}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"USER=compat",
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + sb.ActionsTokenURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + sb.Issuer.RequestToken(),
	}
	h := &harness{sb: sb, stsURL: sb.STSURL}
	h.daemon = startDaemon(t, env,
		"--token-source", "actions",
		"--role-arn", sandbox.DefaultRoleARN,
		"--session-name", sessionName,
		"--sts-endpoint", sb.STSURL,
		"--region", "us-east-1")
	h.exports = credEnv(t, h.daemon.stateDir)
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
func (h *harness) clientEnv(t *testing.T, s setup) []string {
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
func (h *harness) wrongTokenEnv(t *testing.T) []string {
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
func credEnv(t *testing.T, stateDir string) map[string]string {
	t.Helper()
	out, err := credd(t, "env", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("credd env: %v: %s", err, out)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(rest, "=")
			exports[k] = strings.Trim(v, "'")
		}
	}
	if u := exports["AWS_CONTAINER_CREDENTIALS_FULL_URI"]; !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("credd env: FULL_URI = %q, want http://127.0.0.1:...", u)
	}
	return exports
}

// cliEnv is the environment of short credd commands. The race detector
// otherwise sleeps 1 s at exit.
func cliEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "GORACE=atexit_sleep_ms=0"}
}

// credd runs the credd binary to completion and returns its combined output.
func credd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cliEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// daemonProc is a credd daemon on a fixed address and state directory, so
// that it can be restarted under running clients.
type daemonProc struct {
	args     []string
	env      []string
	stateDir string

	mu     sync.Mutex
	logs   bytes.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
	// stopped is the process stop was called for.
	stopped *exec.Cmd
}

// startDaemon starts `credd daemon` on a free loopback port with a new state
// directory and waits until it serves credentials. It stops the daemon when
// the test ends.
func startDaemon(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{env: env, stateDir: stateDir(t)}
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("daemon logs:\n%s", d.Logs())
		}
	})
	for attempt := 1; ; attempt++ {
		// The port was free a moment ago; another test may take it first.
		d.args = append([]string{"daemon", "--state-dir", d.stateDir, "--listen", freeAddr(t), "--log-level", "debug"}, args...)
		err := d.tryStart()
		if err == nil {
			return d
		}
		if attempt == 3 || !strings.Contains(d.Logs(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// start starts the daemon again with the same arguments.
func (d *daemonProc) start(t *testing.T) {
	t.Helper()
	if err := d.tryStart(); err != nil {
		t.Fatal(err)
	}
}

// tryStart starts the daemon and waits until it serves credentials.
func (d *daemonProc) tryStart() error {
	cmd := exec.Command(binary, d.args...)
	cmd.Env = d.env
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return err
	}
	pw.Close()
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.logs.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	go func() { cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			d.stopped = cmd // not to be stopped again
			return fmt.Errorf("daemon exited early:\n%s", d.Logs())
		default:
		}
		if st, err := d.status(); err == nil && len(st.Roles) > 0 && st.Roles[0].Serving {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	d.stopped = cmd
	return fmt.Errorf("daemon did not serve credentials within 20s:\n%s", d.Logs())
}

// stop sends SIGINT and waits for a graceful exit.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		if d.stopped == cmd {
			return
		}
		t.Errorf("daemon exited by itself (%v)", cmd.ProcessState)
		return
	default:
	}
	d.stopped = cmd
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Errorf("daemon did not stop within 10s of SIGINT")
		return
	}
	// The binary is built with -race: a data race makes it exit 66.
	if code := cmd.ProcessState.ExitCode(); code != 0 || strings.Contains(d.Logs(), "WARNING: DATA RACE") {
		t.Errorf("daemon exited %d after SIGINT, want 0", code)
	}
}

func (d *daemonProc) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// status asks the daemon with `credd status --json`.
func (d *daemonProc) status() (daemon.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "status", "--json", "--state-dir", d.stateDir)
	cmd.Env = cliEnv()
	out, _ := cmd.Output() // exit 1 or 2 still prints the document
	var st daemon.Status
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("credd status --json: %v: %q", err, out)
	}
	return st, nil
}

// requests counts the daemon's answers on the default role's path by status code.
func (d *daemonProc) requests(t *testing.T) map[int]int64 {
	t.Helper()
	st, err := d.status()
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

// stateDir returns a short temporary directory: unix socket paths must stay
// under about 100 bytes, which t.TempDir() can exceed.
func stateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "credd-compat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "state")
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
