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
	binary = harness.MustBuild()
	code := m.Run()
	harness.Remove()
	os.Exit(code)
}

// clientEnv evaluates `credd env` into a clean environment, as
// `eval "$(credd env)"` would.
func clientEnv(t *testing.T, d *harness.Daemon, extra ...string) map[string]string {
	t.Helper()
	env := d.Exports(t)
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}
