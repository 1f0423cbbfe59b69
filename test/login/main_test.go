// Package login tests the device-code login end to end against a real
// OpenID Provider (node-oidc-provider, started from test/login/idp), the
// built credd binary, `credd login`, and the sandbox STS trusting the IdP.
package login

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/credd-dev/credd/test/internal/harness"
)

// binary is the credd binary built once for the whole package.
var binary harness.Binary

// idpDir holds server.js and its node_modules (npm ci --prefix test/login/idp).
var idpDir, _ = filepath.Abs("idp")

func TestMain(m *testing.M) {
	bin, cleanup := harness.MustBuild()
	binary = bin
	code := m.Run()
	cleanup()
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
