// Package kmssigner signs the bridge's tokens (RS256) with an asymmetric
// RSA key held in AWS KMS, so the private key never leaves KMS.
package kmssigner

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	jose "github.com/go-jose/go-jose/v4"
)

// API is the part of *kms.Client the signer uses.
type API interface {
	Sign(ctx context.Context, in *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// Signer signs with one KMS key. It is safe for concurrent use.
type Signer struct {
	api    API
	kmsKey string // as configured: key id, key ARN, alias/NAME or alias ARN
	pub    *rsa.PublicKey
	kid    string
}

// createKeyHint is what every refusal of a key tells the operator to do.
// KeySpec, KeyUsage and SigningAlgorithms: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html
// and https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html.
const createKeyHint = "create one with `aws kms create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY` " +
	"(https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html) and pass its id, ARN or alias"

// rsaKeySpecs are the KMS key specs that can sign RS256.
var rsaKeySpecs = []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096}

// rs256 is RS256 in KMS's words (RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256).
const rs256 = types.SigningAlgorithmSpecRsassaPkcs1V15Sha256

// New fetches the public key of kmsKey once and refuses a key that cannot
// sign RS256.
func New(ctx context.Context, api API, kmsKey string) (*Signer, error) {
	if kmsKey == "" {
		return nil, errors.New("kms signer: no KMS key given: " + createKeyHint)
	}
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(kmsKey)})
	if err != nil {
		return nil, fmt.Errorf("kms signer: get the public key of %s: %w (check the key id or alias, the region, and that the role may call kms:GetPublicKey and kms:Sign)", kmsKey, err)
	}
	if !slices.Contains(rsaKeySpecs, out.KeySpec) {
		return nil, fmt.Errorf("kms signer: key %s has KeySpec %s, but RS256 needs an RSA key (RSA_2048, RSA_3072 or RSA_4096): %s", kmsKey, out.KeySpec, createKeyHint)
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("kms signer: key %s has KeyUsage %s, but signing needs SIGN_VERIFY (key usage cannot be changed): %s", kmsKey, out.KeyUsage, createKeyHint)
	}
	if !slices.Contains(out.SigningAlgorithms, rs256) {
		return nil, fmt.Errorf("kms signer: key %s does not offer %s (it offers %s), which RS256 needs: %s", kmsKey, rs256, joinAlgorithms(out.SigningAlgorithms), createKeyHint)
	}
	parsed, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("kms signer: the public key of %s is not DER SubjectPublicKeyInfo: %w", kmsKey, err)
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("kms signer: the public key of %s is a %T, not RSA: %s", kmsKey, parsed, createKeyHint)
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return nil, fmt.Errorf("kms signer: key %s: %w", kmsKey, err)
	}
	return &Signer{api: api, kmsKey: kmsKey, pub: pub, kid: kid}, nil
}

// thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url without
// padding: the kid the contract gives every key.
func thumbprint(pub *rsa.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("compute the JWK thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func joinAlgorithms(algs []types.SigningAlgorithmSpec) string {
	if len(algs) == 0 {
		return "none"
	}
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// KeyID is the RFC 7638 SHA-256 thumbprint of the public key, base64url,
// no padding.
func (s *Signer) KeyID() string { return s.kid }

// Public is the key's public half, as KMS reported it at New.
func (s *Signer) Public() *rsa.PublicKey { return s.pub }

// Sign returns the RS256 signature of signingInput. It hashes locally and
// sends KMS only the digest (MessageType DIGEST): a RAW message is limited
// to 4096 bytes (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#KMS-Sign-request-Message),
// and the token never leaves the process.
//
// The signature is verified with the public key from New before it is
// returned: if the alias now points at another key, Sign fails instead
// of minting tokens no one can verify.
func (s *Signer) Sign(ctx context.Context, signingInput []byte) ([]byte, error) {
	digest := sha256.Sum256(signingInput)
	out, err := s.api.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.kmsKey),
		Message:          digest[:],
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: rs256,
	})
	if err != nil {
		return nil, fmt.Errorf("kms signer: sign with %s: %w", s.kmsKey, err)
	}
	if err := rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, digest[:], out.Signature); err != nil {
		return nil, fmt.Errorf("kms signer: KMS key %s (answered as %s) returned a signature its public key from startup does not verify: "+
			"the alias or key changed since the bridge started; restart the bridge so it publishes the current key", s.kmsKey, aws.ToString(out.KeyId))
	}
	return out.Signature, nil
}
