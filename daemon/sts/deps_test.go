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
		},
		OnlyImporters: map[string]deptest.Importers{
			"github.com/aws/aws-sdk-go-v2/service/sts/...": {
				Packages: []string{"github.com/credd-dev/credd/daemon/sts"},
				Why:      "daemon/sts is the only package that knows the AWS SDK's STS types; everyone else exchanges tokens through it",
			},
		},
	}.Check(t)
}
