// Command v1 is an aws-sdk-go (v1) client for the compatibility suite
// (test/compat): a default session and the STS client, so with the
// environment `credd env` prints it gets its credentials from credd. See
// package driver for its arguments and output.
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/sts"

	"github.com/credd-dev/credd/test/compat/goclient/driver"
)

func main() {
	os.Exit(driver.Main([]string{"github.com/aws/aws-sdk-go"}, func(endpoint string, capture *http.Client) (driver.Caller, error) {
		sess, err := session.NewSession()
		if err != nil {
			return nil, err
		}
		// aws-sdk-go v1 ignores AWS_ENDPOINT_URL_STS: the endpoint is explicit.
		cfg := &aws.Config{HTTPClient: capture}
		if endpoint != "" {
			cfg.Endpoint = aws.String(endpoint)
		}
		client := sts.New(sess, cfg)
		return func(ctx context.Context) (string, error) {
			out, err := client.GetCallerIdentityWithContext(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return "", err
			}
			return aws.StringValue(out.Arn), nil
		}, nil
	}))
}
