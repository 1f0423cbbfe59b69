package bridge_test

import (
	"testing"

	"github.com/credd-dev/credd/daemon/internal/deptest"
)

// The bridge's core is platform-neutral: AWS comes in only through the
// command's hooks (KMS signing, secrets, Lambda), so the core runs and is
// tested anywhere; and it shares no code path with the daemon it serves,
// whose rules (no default credential chain) are daemon/sts's deps test.
func TestDeps(t *testing.T) {
	const hooks = "the bridge core reaches AWS only through bridgecli.Hooks, which cmd/credd-bridge fills"
	const daemon = "the bridge is another program; sharing the daemon's packages would drag its rules and its size along"
	deptest.DepChecker{
		Packages: []string{"github.com/credd-dev/credd/daemon/bridge", "github.com/credd-dev/credd/daemon/bridge/cli"},
		BadDeps: map[string]string{
			"github.com/aws/aws-sdk-go-v2/...":             hooks,
			"github.com/aws/aws-lambda-go/...":             hooks,
			"github.com/credd-dev/credd/daemon/agent/...":  daemon,
			"github.com/credd-dev/credd/daemon/config/...": daemon,
			"github.com/credd-dev/credd/daemon/server/...": daemon,
			"github.com/credd-dev/credd/daemon/sts/...":    daemon,
		},
	}.Check(t)
}
