// Package bridge tests GitHub identity → AWS end to end and offline: the
// sandbox GitHub API stand-in, the built credd-bridge on loopback, the built
// credd daemon with --token-source github, and the sandbox STS, which
// fetches the bridge's discovery document and JWKS over HTTP and verifies
// the signature before it issues credentials, as STS does for a registered
// IAM OIDC provider. Real AWS clients then call GetCallerIdentity.
package bridge

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/credd-dev/credd/test/internal/harness"
)

var (
	// credd is the daemon binary, built once for the package.
	credd harness.Binary
	// bridgeBin is credd-bridge, built once for the package.
	bridgeBin string
)

func TestMain(m *testing.M) {
	credd = harness.MustBuild()
	dir, err := os.MkdirTemp("", "credd-bridge-bin-")
	if err == nil {
		bridgeBin = filepath.Join(dir, "credd-bridge")
		var out []byte
		out, err = exec.Command("go", "build", "-race", "-o", bridgeBin, "github.com/credd-dev/credd/cmd/credd-bridge").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("build credd-bridge: %w\n%s", err, out)
		}
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	harness.Remove()
	os.Exit(code)
}
