// Command gobase is a client of the compatibility suite (test/compat) that
// gets its credentials the way Terraform's AWS provider does: through
// hashicorp/aws-sdk-go-base v2, awsbase.GetAwsConfig with no keys, profile
// or role configured, so its own credential chain (credentials.go,
// getCredentialsProvider, over aws-sdk-go-v2's config.LoadDefaultConfig)
// finds credd. Like the provider, it then validates the credentials with
// STS GetCallerIdentity (GetAwsAccountIDAndPartition) once, and makes its
// STS client from the aws.Config go-base returns. See package protocol for
// its arguments and output.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	awsbase "github.com/hashicorp/aws-sdk-go-base/v2"
	"github.com/hashicorp/aws-sdk-go-base/v2/diag"

	"github.com/credd-dev/credd/test/compat/goclient/protocol"
)

func main() {
	os.Exit(protocol.Main([]string{
		"github.com/hashicorp/aws-sdk-go-base/v2",
		"github.com/aws/aws-sdk-go-v2/config",
	}, func(endpoint string, capture *http.Client) (protocol.Caller, error) {
		var cfg *aws.Config
		return func(ctx context.Context, _ int) (string, error) {
			// The first call sets up as the provider does; go-base reports
			// a failure to find credentials as diagnostics, not an error.
			if cfg == nil {
				base := &awsbase.Config{
					Region:      "us-east-1",
					StsEndpoint: endpoint,
					HTTPClient:  capture,
					CallerName:  "credd compatibility suite",
				}
				ctx, c, diags := awsbase.GetAwsConfig(ctx, base)
				if diags.HasError() {
					return "", diagnosticsError(diags)
				}
				if _, _, diags := awsbase.GetAwsAccountIDAndPartition(ctx, c, base); diags.HasError() {
					return "", diagnosticsError(diags)
				}
				cfg = &c
			}
			client := sts.NewFromConfig(*cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) })
			out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.Arn), nil
		}, nil
	}))
}

// diagnosticsError is what Terraform shows for go-base's error
// diagnostics: each one's summary and detail.
func diagnosticsError(diags diag.Diagnostics) error {
	var parts []string
	for _, d := range diags.Errors() {
		parts = append(parts, d.Summary()+": "+d.Detail())
	}
	return errors.New(strings.Join(parts, "; "))
}
