// Command config118 is an aws-sdk-go-v2 client for the compatibility suite
// (test/compat) pinned to config v1.18, a release from before the SDK read
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (config v1.25.0, see
// config/CHANGELOG.md) or AWS_ENDPOINT_URL_STS: config.LoadDefaultConfig
// and service/sts, the endpoint passed explicitly. See package protocol for
// its arguments and output.
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credd-dev/credd/test/compat/goclient/protocol"
)

func main() {
	os.Exit(protocol.Main([]string{
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-sdk-go-v2/credentials",
	}, func(endpoint string, capture *http.Client) (protocol.Caller, error) {
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, err
		}
		client := sts.NewFromConfig(cfg, func(o *sts.Options) {
			o.HTTPClient = capture
			o.BaseEndpoint = aws.String(endpoint)
		})
		return func(ctx context.Context, _ int) (string, error) {
			out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.Arn), nil
		}, nil
	}))
}
