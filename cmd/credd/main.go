// Command credd serves short-lived AWS credentials from an OIDC identity on
// the ECS container-credentials endpoint.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/credd-dev/credd/daemon/cli"
)

func main() {
	harden(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
