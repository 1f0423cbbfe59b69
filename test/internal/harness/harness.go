// Package harness builds the credd binary and runs it as a user would, for
// the suites under test/: one-shot commands and daemons with their logs.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/control"
)

// Binary is the path of a built credd binary.
type Binary string

// built is the binary of this test process, made by the first Build.
var built struct {
	once sync.Once
	dir  string
	bin  Binary
	err  error
}

// Build returns the credd binary of this test process: the first call
// compiles ./cmd/credd with the race detector into a temporary directory
// that other users can read (a suite runs it as nobody); later calls
// return the same binary. TestMain calls Remove once the tests are done.
func Build() (Binary, error) {
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "credd-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			built.err = err
			return
		}
		path := filepath.Join(dir, "credd")
		out, err := exec.Command("go", "build", "-race", "-o", path, "github.com/credd-dev/credd/cmd/credd").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("build credd: %w\n%s", err, out)
			return
		}
		built.bin = Binary(path)
	})
	return built.bin, built.err
}

// MustBuild is Build for TestMain: it exits the process on failure.
func MustBuild() Binary {
	bin, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		Remove()
		os.Exit(1)
	}
	return bin
}

// Remove deletes the binary Build made, if it made one.
func Remove() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
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

// Daemon is one `credd daemon` process started by a test.
type Daemon struct {
	Cmd      *exec.Cmd
	StateDir string
	Env      []string
	// Started is when the process was started.
	Started time.Time

	bin  Binary
	as   *User    // who the daemon runs as; nil: the test's own user
	args []string // the test's own arguments
	url  string   // the credentials endpoint the daemon advertised

	logs   LockedBuffer
	exited chan struct{}
	asked  atomic.Bool // StopWith sent the daemon a signal to stop
}

// StartDaemon starts `credd daemon` on 127.0.0.1:0 with a fresh state dir,
// debug logs and args, and waits until its control socket answers. The
// daemon is stopped, and its logs shown on failure, when the test ends.
func (b Binary) StartDaemon(t *testing.T, env []string, args ...string) *Daemon {
	t.Helper()
	return b.StartDaemonIn(t, StateDir(t), env, args...)
}

// StartDaemonIn is StartDaemon on a given state dir: a daemon that finds
// what an earlier one left there. Restart also keeps the earlier port.
func (b Binary) StartDaemonIn(t *testing.T, dir string, env []string, args ...string) *Daemon {
	t.Helper()
	return b.start(t, nil, dir, "127.0.0.1:0", env, args)
}

// StartDaemonAs is StartDaemonIn with the daemon running as u.
func (b Binary) StartDaemonAs(t *testing.T, u User, dir string, env []string, args ...string) *Daemon {
	t.Helper()
	return b.start(t, &u, dir, "127.0.0.1:0", env, args)
}

// Restart starts d's daemon again, once it has exited, with the same
// state dir, environment and arguments, on the address the exited one
// bound: clients that hold its URL reach the new daemon. It restarts as
// the Feature's supervisor does, with --keep-token, so clients that hold
// the authorization token keep it; a plain start writes a new one.
func (d *Daemon) Restart(t *testing.T) *Daemon {
	t.Helper()
	select {
	case <-d.exited:
	default:
		t.Fatal("restart: the daemon still runs; stop it first")
	}
	u, err := url.Parse(d.url)
	if err != nil || u.Host == "" {
		t.Fatalf("restart: the daemon advertised %q, not a URL with host and port: %v", d.url, err)
	}
	nd := d.bin.start(t, d.as, d.StateDir, u.Host, d.Env, append(slices.Clip(d.args), "--keep-token", "true"))
	nd.args = d.args
	return nd
}

func (b Binary) start(t *testing.T, as *User, dir, listen string, env, args []string) *Daemon {
	t.Helper()
	d := &Daemon{StateDir: dir, Env: env, bin: b, as: as, args: args, exited: make(chan struct{})}
	d.Cmd = exec.Command(string(b), append([]string{"daemon", "--state-dir", dir, "--listen", listen, "--log-level", "debug"}, args...)...)
	d.Cmd.Env = env
	if as != nil {
		as.apply(d.Cmd)
	}
	// exec copies the output, so Logs is complete once the daemon has
	// exited; WaitDelay bounds the wait for a child that kept the pipe.
	d.Cmd.Stdout, d.Cmd.Stderr = &d.logs, &d.logs
	d.Cmd.WaitDelay = 5 * time.Second
	d.Started = time.Now()
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.Cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.Stop(t)
		if t.Failed() {
			t.Logf("daemon logs:\n%s", d.Logs())
		}
	})
	// Up means answering on the control socket: a socket an earlier
	// daemon left in dir does not answer, nor with this pid.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		select {
		case <-d.exited:
			t.Fatalf("daemon exited early: %s", d.Logs())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := control.Client{StateDir: dir, Trust: authtoken.Trust{Explicit: true}}.Status(ctx)
		cancel()
		if err == nil && st.PID == d.Cmd.Process.Pid {
			d.url = st.Endpoint
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start within 20s: %v\n%s", err, d.Logs())
		}
	}
}

// Endpoint returns the credentials URL the daemon advertises and the
// authorization token it wrote to its state dir.
func (d *Daemon) Endpoint(t *testing.T) (endpoint, token string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(d.StateDir, authtoken.FileName))
	if err != nil {
		t.Fatalf("read the authorization token: %v", err)
	}
	return d.url, string(tok)
}

// Exports runs `credd env` (with args, such as --profile) against the
// daemon and returns what it exports, name → value, as
// `eval "$(credd env)"` would set them.
func (d *Daemon) Exports(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out, stderr, code := d.bin.Run(t, d.Env, append(append([]string{"env"}, args...), "--state-dir", d.StateDir)...)
	if code != 0 {
		t.Fatalf("credd env %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(rest, "=")
			exports[k] = strings.Trim(v, "'")
		}
	}
	return exports
}

// Exited is closed when the daemon has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// ExitCode is the daemon's exit code, or -1 while it runs.
func (d *Daemon) ExitCode() int {
	select {
	case <-d.exited:
		return d.Cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Logs returns everything the daemon printed so far.
func (d *Daemon) Logs() string { return d.logs.String() }

// Stop sends SIGINT and waits for a graceful exit.
func (d *Daemon) Stop(t *testing.T) { t.Helper(); d.StopWith(t, os.Interrupt) }

// StopWith sends sig and waits for the daemon to exit, killing it (and
// failing the test) after 10s. It returns how long the exit took, and
// does nothing if the daemon has exited already.
func (d *Daemon) StopWith(t *testing.T, sig os.Signal) time.Duration {
	t.Helper()
	select {
	case <-d.exited:
		return 0
	default:
	}
	d.asked.Store(true)
	start := time.Now()
	_ = d.Cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.Cmd.Process.Kill()
		<-d.exited
		t.Errorf("daemon did not stop within 10s of %v", sig)
	}
	return time.Since(start)
}

// CheckStopped fails the test unless the daemon exited as a graceful stop
// must: when Stop asked, with exit code 0 and no data race reported (the
// binary is built with -race, which exits 66 on one).
func (d *Daemon) CheckStopped(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
	default:
		t.Errorf("daemon still runs")
		return
	}
	code := d.Cmd.ProcessState.ExitCode()
	switch {
	case !d.asked.Load():
		t.Errorf("daemon exited by itself (%v)", d.Cmd.ProcessState)
	case code != 0 || strings.Contains(d.Logs(), "WARNING: DATA RACE"):
		t.Errorf("daemon exited %d after the signal to stop, want 0 and no data race", code)
	}
}

// LockedBuffer is a bytes.Buffer for a writer and concurrent readers (a
// process's output read while it runs).
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
