// Package login tests the device-code login end to end against a real
// OpenID Provider (node-oidc-provider, started from test/login/idp), the
// built credd binary, `credd login`, and the sandbox STS trusting the IdP.
package login

import (
	"os"
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
