package server_test

import (
	"testing"

	"github.com/credd-dev/credd/daemon/internal/deptest"
)

func TestDeps(t *testing.T) {
	deptest.DepChecker{
		BadDeps: map[string]string{
			"github.com/aws/...": "the endpoint serves what the one interface it declares hands it; only daemon/sts knows the AWS SDK",
		},
	}.Check(t)
}
