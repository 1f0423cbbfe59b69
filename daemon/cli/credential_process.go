package cli

import (
	"context"
	"encoding/json"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
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
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	profile := fs.String("profile", "", "a named role from the daemon's config file (default: the default role)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	t, err := resolveTarget(ctx, config.StateDir(*stateDir, io.Getenv), *profile, io.Getenv)
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
