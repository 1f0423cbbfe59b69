// Package login tests the device-code login end to end against a real
// OpenID Provider (node-oidc-provider, started from test/login/idp), the
// built credd binary, `credd login`, and the sandbox STS trusting the IdP.
package login

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// binary is the credd binary built once for the whole package.
var binary string

// idpDir holds server.js and its node_modules (npm ci --prefix test/login/idp).
var idpDir, _ = filepath.Abs("idp")

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "credd-login-bin-")
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

// needIdP skips (or, in CI, fails) when node or the IdP's packages are missing.
func needIdP(t *testing.T) {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errMods := os.Stat(filepath.Join(idpDir, "node_modules", "oidc-provider"))
	if errNode == nil && errMods == nil {
		return
	}
	msg := "the test IdP needs node and its packages: run `npm ci --prefix test/login/idp`"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
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

func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "USER=tester"}
	return append(env, extra...)
}

// run runs credd to completion and returns stdout, stderr and the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-d.exited:
			t.Fatalf("daemon exited early: %s", d.Logs())
		default:
		}
		if _, err := os.Stat(filepath.Join(dir, "control.sock")); err == nil {
			return d
		}
	}
	t.Fatalf("daemon did not start: %s", d.Logs())
	return nil
}

func (d *daemonProc) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

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
