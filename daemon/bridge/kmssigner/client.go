package kmssigner

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// NewClient builds a KMS client from the default AWS configuration, in
// region ("" = the configuration's) and at endpoint ("" = KMS's own).
//
// The default credential chain is right here, unlike in the credd daemon
// (which must never pick up ambient credentials, since it hands out
// credentials itself): the bridge runs in Lambda or ECS under its own
// role, and that role, found by the default chain, is what may call
// kms:Sign.
func NewClient(ctx context.Context, region, endpoint string) (*kms.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kms client: load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("kms client: no AWS region: pass one, or set AWS_REGION")
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
