// Package harness builds the credd binary and runs it as a user would, for
// the suites under test/: one-shot commands and daemons with their logs.
package harness

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

// Binary is the path of a built credd binary.
type Binary string

// Build compiles ../../cmd/credd (relative to a suite's directory) with the
// race detector into a temporary directory. Call cleanup when done.
func Build() (bin Binary, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "credd-bin-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "credd")
	build := exec.Command("go", "build", "-race", "-o", path, "../../cmd/credd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build credd: %w", err)
	}
	return Binary(path), func() { os.RemoveAll(dir) }, nil
}

// MustBuild is Build for TestMain: it exits the process on failure.
func MustBuild() (Binary, func()) {
	bin, cleanup, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return bin, cleanup
}

// StateDir returns a short temporary state directory: unix socket paths
// must stay under about 100 bytes, which t.TempDir() can exceed.
func StateDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "credd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "state")
}

// BaseEnv is a minimal environment for credd processes, plus extra.
func BaseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "USER=tester"}
	return append(env, extra...)
}

// Run runs credd to completion and returns stdout, stderr and the exit code.
func (b Binary) Run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, string(b), args...)
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

// Daemon is a `credd daemon` started by a test.
type Daemon struct {
	Cmd      *exec.Cmd
	StateDir string
	Env      []string

	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
}

// StartDaemon starts `credd daemon` on 127.0.0.1:0 with a fresh state dir,
// debug logs and args, and waits until its control socket exists. The
// daemon is stopped, and its logs shown on failure, when the test ends.
func (b Binary) StartDaemon(t *testing.T, env []string, args ...string) *Daemon {
	t.Helper()
	return b.StartDaemonIn(t, StateDir(t), env, args...)
}

// StartDaemonIn is StartDaemon on a given state dir: a restart that finds
// what an earlier daemon left there.
func (b Binary) StartDaemonIn(t *testing.T, dir string, env []string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{StateDir: dir, Env: env, exited: make(chan struct{})}
	d.Cmd = exec.Command(string(b), append([]string{"daemon", "--state-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "debug"}, args...)...)
	d.Cmd.Env = env
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d.Cmd.Stdout, d.Cmd.Stderr = pw, pw
	if err := d.Cmd.Start(); err != nil {
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
	go func() { d.Cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.Stop(t)
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

// Exited is closed when the daemon has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Logs returns everything the daemon printed so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// Stop sends SIGINT and waits for a graceful exit.
func (d *Daemon) Stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.Cmd.Process.Kill()
		t.Errorf("daemon did not stop within 10s of SIGINT")
	}
}
