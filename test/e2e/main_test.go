// Package e2e drives the built credd binary as a user would: real
// processes, real sockets, real AWS SDK clients, against the sandbox issuer
// and STS emulator started by the test.
package e2e

import (
	"os"
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

// clientEnv evaluates `credd env` into a clean environment, as
// `eval "$(credd env)"` would.
func clientEnv(t *testing.T, d *harness.Daemon, extra ...string) map[string]string {
	t.Helper()
	out, stderr, code := binary.Run(t, d.Env, "env", "--state-dir", d.StateDir)
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
