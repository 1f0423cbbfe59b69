// Package secret loads one secret value (the GitHub App's client secret,
// say) from SSM Parameter Store, a KMS ciphertext, or a file, so that it
// need not sit in a flag or an environment variable in clear.
package secret

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/credd-dev/credd/daemon/regularfile"
)

// SSMAPI is the part of *ssm.Client that Load uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// KMSAPI is the part of *kms.Client that Load uses.
type KMSAPI interface {
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Clients are the AWS clients Load may need; a nil one makes the specs
// that need it fail.
type Clients struct {
	SSM SSMAPI
	KMS KMSAPI
}

// DefaultClients builds both clients from the default AWS configuration
// in region ("" = the configuration's). The default credential chain is
// right for the bridge, which runs in Lambda or ECS under its own role.
func DefaultClients(ctx context.Context, region string) (Clients, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Clients{}, fmt.Errorf("secret: load the AWS configuration: %w", err)
	}
	return Clients{SSM: ssm.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg)}, nil
}

// maxFile bounds a secret file: a secret is short, and a huge file is a
// mistake.
const maxFile = 64 << 10

// Load returns the secret that spec names:
//
//	ssm:NAME     the SSM parameter NAME, decrypted (a SecureString)
//	kms:BASE64   the KMS ciphertext blob BASE64, decrypted
//	file:PATH    the file PATH without one trailing newline; it must not
//	             be readable by group or others
//
// Errors name the spec (never the secret) and say what to do.
func Load(ctx context.Context, spec string, c Clients) (string, error) {
	scheme, rest, _ := strings.Cut(spec, ":")
	var (
		value string
		err   error
	)
	switch scheme {
	case "ssm":
		value, err = fromSSM(ctx, c.SSM, rest)
	case "kms":
		value, err = fromKMS(ctx, c.KMS, rest)
	case "file":
		value, err = fromFile(ctx, rest)
	default:
		// The spec is not repeated: it may be the secret itself, pasted
		// where a spec belongs.
		return "", errors.New("secret: the spec does not start with ssm:, kms: or file: (it is not shown, in case it is the secret itself): " +
			"use ssm:PARAMETER-NAME, kms:BASE64-CIPHERTEXT or file:PATH")
	}
	if err == nil && value == "" {
		err = errors.New("it is empty")
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", shown(scheme, rest), err)
	}
	return value, nil
}

// shown is how an error names a spec: a ciphertext is cut short, since it
// is long and says nothing to a reader.
func shown(scheme, rest string) string {
	if scheme == "kms" && len(rest) > 16 {
		rest = rest[:16] + "…"
	}
	return scheme + ":" + rest
}

func fromSSM(ctx context.Context, api SSMAPI, name string) (string, error) {
	if name == "" {
		return "", errors.New("no parameter name: use ssm:NAME")
	}
	if api == nil {
		return "", errors.New("no SSM client")
	}
	out, err := api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("%w (check the name and region, and that the role may call ssm:GetParameter, and kms:Decrypt for a SecureString)", err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("SSM answered without a value")
	}
	return *out.Parameter.Value, nil
}

func fromKMS(ctx context.Context, api KMSAPI, b64 string) (string, error) {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(blob) == 0 {
		return "", errors.New("not base64: use kms:BASE64, the CiphertextBlob of `aws kms encrypt` as printed (base64)")
	}
	if api == nil {
		return "", errors.New("no KMS client")
	}
	// No KeyId: a symmetric ciphertext names its key
	// (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#KMS-Decrypt-request-KeyId).
	out, err := api.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	if err != nil {
		return "", fmt.Errorf("%w (check the region, and that the role may call kms:Decrypt on the key that encrypted it)", err)
	}
	return string(out.Plaintext), nil
}

func fromFile(ctx context.Context, path string) (string, error) {
	if path == "" {
		return "", errors.New("no path: use file:PATH")
	}
	// Symlinks are followed: mounted secrets (Kubernetes, ECS volumes)
	// are often links to the real file.
	b, fi, err := regularfile.Read(ctx, path, regularfile.Options{Max: maxFile})
	switch {
	case errors.Is(err, regularfile.ErrNotRegular) && fi != nil:
		return "", fmt.Errorf("%s is %s, not a regular file", path, regularfile.Kind(fi.Mode()))
	case err != nil:
		return "", err
	}
	// Windows has no such mode bits.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o044 != 0 {
		return "", fmt.Errorf("%s is readable by group or others (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, ok := bytes.CutSuffix(b, []byte("\n"))
	if ok {
		b, _ = bytes.CutSuffix(b, []byte("\r"))
	}
	return string(b), nil
}
