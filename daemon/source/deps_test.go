package source_test

import (
	"testing"

	"github.com/credd-dev/credd/daemon/internal/deptest"
)

func TestDeps(t *testing.T) {
	const independent = "a token source only gets identity tokens: it knows nothing of the exchange, the endpoint, the refresher or the wiring that uses it"
	deptest.DepChecker{
		BadDeps: map[string]string{
			"github.com/aws/...":                            "token sources never talk to AWS; only daemon/sts knows the AWS SDK",
			"github.com/credd-dev/credd/daemon/sts/...":     independent,
			"github.com/credd-dev/credd/daemon/server/...":  independent,
			"github.com/credd-dev/credd/daemon/refresh/...": independent,
			"github.com/credd-dev/credd/daemon/agent/...":   independent,
			"github.com/credd-dev/credd/daemon/cli/...":     independent,
		},
	}.Check(t)
}
