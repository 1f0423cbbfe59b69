package cli

import (
	"context"
	"encoding/json"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// processCredentials is the credential_process output format, Version 1.
type processCredentials struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func runCredentialProcess(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("credential-process", io)
	tf := addTargetFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := tf.check(); err != nil {
		return fail(io, "credential-process", exitUsage, err)
	}
	t, err := tf.resolve(ctx, io.Getenv)
	if err != nil {
		return fail(io, "credential-process", exitFailure, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := fetchCredentials(ctx, t)
	if err != nil {
		return fail(io, "credential-process", exitFailure, err)
	}
	out := processCredentials{
		Version: 1, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, Expiration: c.Expiration.UTC().Format(daemon.ExpirationLayout),
	}
	enc := json.NewEncoder(io.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fail(io, "credential-process", exitFailure, err)
	}
	return exitOK
}
