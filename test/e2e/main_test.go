// Package e2e drives the built credd binary as a user would: real
// processes, real sockets, real AWS SDK clients, against the sandbox issuer
// and STS emulator started by the test.
package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/credd-dev/credd/test/internal/harness"
)

// binary is the credd binary built once for the whole package.
var binary harness.Binary

func TestMain(m *testing.M) {
	bin, cleanup := harness.MustBuild()
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func stateDir(t *testing.T) string { return harness.StateDir(t) }

func baseEnv(extra ...string) []string { return harness.BaseEnv(extra...) }

// run runs credd to completion and returns stdout, stderr and the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return binary.Run(t, env, args...)
}

// daemonProc is a credd daemon started by a test.
type daemonProc struct {
	*harness.Daemon
	stateDir string
	env      []string
	cmd      *exec.Cmd
}

// startDaemon starts `credd daemon args...` and waits until its control
// socket answers. It stops the daemon when the test ends.
func startDaemon(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	d := binary.StartDaemon(t, env, args...)
	return &daemonProc{Daemon: d, stateDir: d.StateDir, env: d.Env, cmd: d.Cmd}
}

func (d *daemonProc) stop(t *testing.T) { d.Stop(t) }

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
