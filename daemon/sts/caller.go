package sts

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credd-dev/credd/daemon"
)

// CallerIdentityInput names the STS endpoint and the credentials to sign with.
type CallerIdentityInput struct {
	Endpoint    string
	Region      string
	Credentials daemon.Credentials
}

// CallerIdentity calls GetCallerIdentity signed with the given credentials
// (and nothing from the environment) and returns the caller's ARN. `credd
// demo`'s self-check uses it to prove the served credentials work.
func CallerIdentity(ctx context.Context, in CallerIdentityInput) (string, error) {
	c := in.Credentials
	opts := awssts.Options{
		Region:      in.Region,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		Retryer:     aws.NopRetryer{},
	}
	if in.Endpoint != "" {
		opts.BaseEndpoint = aws.String(in.Endpoint)
	}
	out, err := awssts.New(opts).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}
