// Command v2 is an aws-sdk-go-v2 client for the compatibility suite
// (test/compat): config.LoadDefaultConfig and service/sts, so with the
// environment `credd env` prints it gets its credentials from credd. See
// package driver for its arguments and output.
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credd-dev/credd/test/compat/goclient/driver"
)

func main() {
	os.Exit(driver.Main([]string{
		"github.com/aws/aws-sdk-go-v2",
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-sdk-go-v2/credentials",
		"github.com/aws/aws-sdk-go-v2/service/sts",
	}, func(endpoint string, capture *http.Client) (driver.Caller, error) {
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			return nil, err
		}
		client := sts.NewFromConfig(cfg, func(o *sts.Options) {
			o.HTTPClient = capture
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		return func(ctx context.Context) (string, error) {
			out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.Arn), nil
		}, nil
	}))
}
