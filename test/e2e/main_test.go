// Package e2e drives the built credd binary as a user would: real
// processes, real sockets, real AWS SDK clients, against the sandbox issuer
// and STS emulator started by the test.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the credd binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "credd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "credd")
	build := exec.Command("go", "build", "-race", "-o", binary, "../../cmd/credd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build credd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stateDir returns a short temporary directory: unix socket paths must stay
// under about 100 bytes, which t.TempDir() can exceed.
func stateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "credd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "state")
}

// run runs credd to completion and returns stdout, stderr and the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run credd %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// daemonProc is a credd daemon started by a test.
type daemonProc struct {
	cmd      *exec.Cmd
	stateDir string
	env      []string
	mu       sync.Mutex
	logs     bytes.Buffer
	exited   chan struct{}
}

// startDaemon starts `credd daemon args...` and waits until its control
// socket answers. It stops the daemon when the test ends.
func startDaemon(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	dir := stateDir(t)
	d := &daemonProc{stateDir: dir, env: env, exited: make(chan struct{})}
	d.cmd = exec.Command(binary, append([]string{"daemon", "--state-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "debug"}, args...)...)
	d.cmd.Env = env
	pr, pw, _ := os.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.logs.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("daemon logs:\n%s", d.Logs())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			t.Fatalf("daemon exited early: %s", d.Logs())
		default:
		}
		if _, err := os.Stat(filepath.Join(dir, "control.sock")); err == nil {
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("daemon did not start: %s", d.Logs())
	return nil
}

func (d *daemonProc) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// stop sends SIGTERM and waits for a graceful exit.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		t.Errorf("daemon did not stop within 10s of SIGINT")
	}
}

// clientEnv evaluates `credd env` into a clean environment, as
// `eval "$(credd env)"` would.
func clientEnv(t *testing.T, d *daemonProc, extra ...string) map[string]string {
	t.Helper()
	out, stderr, code := run(t, d.env, "env", "--state-dir", d.stateDir)
	if code != 0 {
		t.Fatalf("credd env: exit %d: %s", code, stderr)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(rest, "=")
			env[k] = strings.Trim(v, "'")
		}
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// baseEnv is a minimal environment for credd processes.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "USER=tester"}
	return append(env, extra...)
}
