package sts_test

import (
	"testing"

	"github.com/credd-dev/credd/daemon/internal/deptest"
)

// The rules of the exchange with AWS, checked on everything credd builds:
// the binary and every daemon package.
func TestDeps(t *testing.T) {
	// The credentials root package (static providers) is fine; the
	// providers that make up the chain are not.
	const chain = "the AWS SDK's default credential chain: inside the container it finds credd's own endpoint, so the STS client would call credd itself; daemon/sts builds an anonymous client"
	deptest.DepChecker{
		Packages: []string{"github.com/credd-dev/credd/cmd/...", "github.com/credd-dev/credd/daemon/..."},
		BadDeps: map[string]string{
			"github.com/aws/aws-sdk-go-v2/config/...":                    chain,
			"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds/...":  chain,
			"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds/...": chain,
			"github.com/aws/aws-sdk-go-v2/credentials/processcreds/...":  chain,
			"github.com/aws/aws-sdk-go-v2/credentials/ssocreds/...":      chain,
			"github.com/aws/aws-sdk-go-v2/credentials/stscreds/...":      chain,
			"github.com/aws/aws-sdk-go-v2/feature/ec2/imds/...":          chain,
			"github.com/credd-dev/credd/daemon/bridge/...":               "credd-bridge is another program (with Lambda and KMS in it); credd reaches it over HTTP, in daemon/source's github source",
		},
		Except: map[string]string{
			"github.com/credd-dev/credd/cmd/credd-bridge/...": bridgeOwnRules,
			"github.com/credd-dev/credd/daemon/bridge/...":    bridgeOwnRules,
		},
		OnlyImporters: map[string]deptest.Importers{
			"github.com/aws/aws-sdk-go-v2/service/sts/...": {
				Packages: []string{"github.com/credd-dev/credd/daemon/sts"},
				Why:      "daemon/sts is the only package that knows the AWS SDK's STS types; everyone else exchanges tokens through it",
			},
		},
	}.Check(t)
}

// bridgeOwnRules is why credd-bridge is not held to the daemon's rules: it
// runs in the organisation's AWS account (Lambda, ECS), never in a dev
// container, and its KMS and SSM clients use that platform's role through
// the default chain. Its core has its own rules (daemon/bridge/deps_test.go).
const bridgeOwnRules = "credd-bridge is another program: it runs in AWS under its own role, so the default chain is right there"
