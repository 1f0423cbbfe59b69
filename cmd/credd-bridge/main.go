// Command credd-bridge is a small OIDC issuer that turns a GitHub user token
// into a short-lived token AWS STS accepts; see daemon/bridge. This main
// adds the AWS pieces to the core: KMS signing, client secrets from SSM or
// KMS, and the Lambda function URL entry point.
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/credd-dev/credd/daemon/bridge"
	bridgecli "github.com/credd-dev/credd/daemon/bridge/cli"
	"github.com/credd-dev/credd/daemon/bridge/kmssigner"
	"github.com/credd-dev/credd/daemon/bridge/lambdaurl"
	"github.com/credd-dev/credd/daemon/bridge/secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bridgecli.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, hooks())
	stop()
	os.Exit(code)
}

// hooks connects the AWS clients. They use the platform's role through the
// default credential chain (Lambda's, the ECS task's): right for the
// bridge, which runs in the organisation's account, never in a dev
// container where that chain would lead to credd.
func hooks() bridgecli.Hooks {
	region := os.Getenv("AWS_REGION")
	return bridgecli.Hooks{
		NewKMSSigner: func(ctx context.Context, keyID string) (bridge.Signer, error) {
			client, err := kmssigner.NewClient(ctx, region, "")
			if err != nil {
				return nil, err
			}
			return kmssigner.New(ctx, client, keyID)
		},
		LoadSecret: func(ctx context.Context, spec string) (string, error) {
			clients, err := secret.DefaultClients(ctx, region)
			if err != nil {
				return "", err
			}
			return secret.Load(ctx, spec, clients)
		},
		ServeLambda: func(h http.Handler) error {
			lambdaurl.Start(h)
			return nil
		},
	}
}
