package bridgecli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/credd-dev/credd/daemon/regularfile"
)

// maxSecretFile bounds a client-secret file: a secret is short.
const maxSecretFile = 64 << 10

// loadClientSecret resolves --github-app-client-secret's SPEC: file:PATH
// here, ssm: and kms: through the LoadSecret hook. Errors name the scheme
// or path, never the value: a secret pasted in place of a SPEC must not be
// echoed.
func loadClientSecret(ctx context.Context, spec string, hooks Hooks) (string, error) {
	const flagName = "--github-app-client-secret"
	scheme, rest, ok := strings.Cut(spec, ":")
	switch {
	case !ok || rest == "":
		return "", fmt.Errorf("%s: give file:PATH, ssm:PARAMETER or kms:BASE64-CIPHERTEXT, not the secret itself", flagName)
	case scheme == "file":
		secret, err := readSecretFile(ctx, rest)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flagName, err)
		}
		return secret, nil
	case scheme == "ssm" || scheme == "kms":
		if hooks.LoadSecret == nil {
			return "", fmt.Errorf("%s: %s: secrets are not available in this build; use file:PATH", flagName, scheme)
		}
		secret, err := hooks.LoadSecret(ctx, spec)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flagName, err)
		}
		if secret == "" {
			return "", fmt.Errorf("%s: the %s: secret is empty", flagName, scheme)
		}
		return secret, nil
	default:
		return "", fmt.Errorf("%s: unknown scheme; give file:PATH, ssm:PARAMETER or kms:BASE64-CIPHERTEXT", flagName)
	}
}

// readSecretFile reads a secret that only its owner may read, without one
// trailing newline (editors and echo add one).
func readSecretFile(ctx context.Context, path string) (string, error) {
	data, info, err := regularfile.Read(ctx, path, regularfile.Options{Max: maxSecretFile})
	switch {
	case errors.Is(err, regularfile.ErrNotRegular) && info != nil:
		return "", fmt.Errorf("%s is %s, not a regular file", path, regularfile.Kind(info.Mode()))
	case err != nil:
		return "", err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by group or others (mode %04o); run chmod 600 %s", path, perm, path)
	}
	secret := string(data)
	if s, ok := strings.CutSuffix(secret, "\r\n"); ok {
		secret = s
	} else {
		secret = strings.TrimSuffix(secret, "\n")
	}
	if secret == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return secret, nil
}
