package refresh_test

import (
	"testing"

	"github.com/credd-dev/credd/daemon/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		BadDeps: map[string]string{
			"github.com/aws/...": "the refresher consumes the small interfaces it declares; only daemon/sts knows the AWS SDK, so refresh stays testable with hand-written fakes",
		},
	}.Check(t)
}
