package kmssigner_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/credd-dev/credd/daemon/bridge/kmssigner"
	"github.com/credd-dev/credd/daemon/sandbox/kmsapi"
)

// bridgeSigner is the bridge core's Signer interface (contract of issue
// 12), repeated here so that this package need not import the core.
type bridgeSigner interface {
	KeyID() string
	Public() *rsa.PublicKey
	Sign(ctx context.Context, signingInput []byte) ([]byte, error)
}

var _ bridgeSigner = (*kmssigner.Signer)(nil)

// standIn serves a KMS stand-in with one RSA signing key under
// alias/bridge, and returns a client made by NewClient from the default
// configuration, which the environment points at static test credentials.
func standIn(t *testing.T) (*kmsapi.Server, *kms.Client, *rsa.PublicKey) {
	t.Helper()
	s := kmsapi.New()
	_, _, pub := s.CreateRSASigningKey("bridge")
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	client, err := kmssigner.NewClient(context.Background(), kmsapi.Region, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return s, client, pub
}

func TestSignsRS256ThatThePublicKeyVerifies(t *testing.T) {
	s, client, pub := standIn(t)
	ctx := context.Background()
	signer, err := kmssigner.New(ctx, client, "alias/bridge")
	if err != nil {
		t.Fatal(err)
	}
	if !signer.Public().Equal(pub) {
		t.Fatal("Public is not the KMS key's public key")
	}
	if got, want := signer.KeyID(), rfc7638(pub); got != want {
		t.Errorf("KeyID = %q, want the RFC 7638 thumbprint %q", got, want)
	}

	// Larger than KMS's 4096-byte limit for RAW messages: DIGEST avoids it.
	input := []byte("eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("A", 10000))
	sig, err := signer.Sign(ctx, input)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(input)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify as RS256: %v", err)
	}
	if got := s.Calls("GetPublicKey"); got != 1 {
		t.Errorf("GetPublicKey called %d times, want once", got)
	}
}

// rfc7638 computes the thumbprint by hand from RFC 7638 §3.1, to check
// the signer's against a second implementation.
func rfc7638(pub *rsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	e := big.NewInt(int64(pub.E)).Bytes()
	canonical := `{"e":"` + b64(e) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}

// fakeKMS is a scripted API.
type fakeKMS struct {
	publicKey func() (*kms.GetPublicKeyOutput, error)
	sign      func(in *kms.SignInput) (*kms.SignOutput, error)
}

func (f *fakeKMS) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	return f.publicKey()
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	return f.sign(in)
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func describe(t *testing.T, pub *rsa.PublicKey) *kms.GetPublicKeyOutput {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &kms.GetPublicKeyOutput{
		KeyId: aws.String("arn:aws:kms:us-east-1:123456789012:key/k"), PublicKey: der,
		KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify,
		SigningAlgorithms: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256},
	}
}

func TestRefusesKeysThatCannotSignRS256(t *testing.T) {
	key := rsaKey(t)
	tests := []struct {
		name   string
		change func(*kms.GetPublicKeyOutput)
		want   string
	}{
		{"an elliptic-curve key", func(o *kms.GetPublicKeyOutput) { o.KeySpec = types.KeySpecEccNistP256 }, "KeySpec ECC_NIST_P256"},
		{"a symmetric key", func(o *kms.GetPublicKeyOutput) { o.KeySpec = types.KeySpecSymmetricDefault }, "KeySpec SYMMETRIC_DEFAULT"},
		{"an encryption key", func(o *kms.GetPublicKeyOutput) { o.KeyUsage = types.KeyUsageTypeEncryptDecrypt }, "KeyUsage ENCRYPT_DECRYPT"},
		{"a key without PKCS #1 v1.5 SHA-256", func(o *kms.GetPublicKeyOutput) {
			o.SigningAlgorithms = []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecRsassaPssSha256}
		}, "does not offer RSASSA_PKCS1_V1_5_SHA_256"},
		{"a public key that is not DER", func(o *kms.GetPublicKeyOutput) { o.PublicKey = []byte("not DER") }, "not DER SubjectPublicKeyInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := describe(t, &key.PublicKey)
			tt.change(out)
			_, err := kmssigner.New(context.Background(), &fakeKMS{publicKey: func() (*kms.GetPublicKeyOutput, error) { return out, nil }}, "alias/bridge")
			if err == nil {
				t.Fatal("New accepted the key")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.name != "a public key that is not DER" && !strings.Contains(err.Error(), "API_CreateKey.html") {
				t.Errorf("error %q does not say which key to create", err)
			}
		})
	}
	t.Run("a GetPublicKey failure names the key and the permission", func(t *testing.T) {
		_, err := kmssigner.New(context.Background(), &fakeKMS{publicKey: func() (*kms.GetPublicKeyOutput, error) {
			return nil, &types.NotFoundException{Message: aws.String("Alias is not found.")}
		}}, "alias/bridge")
		var nf *types.NotFoundException
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "alias/bridge") || !strings.Contains(err.Error(), "kms:GetPublicKey") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSignSendsADigestAndRefusesSignaturesOfAnotherKey(t *testing.T) {
	published := rsaKey(t)
	other := rsaKey(t)
	var got *kms.SignInput
	signWith := published
	fake := &fakeKMS{
		publicKey: func() (*kms.GetPublicKeyOutput, error) { return describe(t, &published.PublicKey), nil },
		sign: func(in *kms.SignInput) (*kms.SignOutput, error) {
			got = in
			sig, err := rsa.SignPKCS1v15(rand.Reader, signWith, crypto.SHA256, in.Message)
			return &kms.SignOutput{KeyId: aws.String("arn:aws:kms:us-east-1:123456789012:key/k"), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, err
		},
	}
	ctx := context.Background()
	signer, err := kmssigner.New(ctx, fake, "alias/bridge")
	if err != nil {
		t.Fatal(err)
	}
	input := []byte("header.payload-with-a-secret-looking-claim")
	if _, err := signer.Sign(ctx, input); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(input)
	if aws.ToString(got.KeyId) != "alias/bridge" || got.MessageType != types.MessageTypeDigest ||
		got.SigningAlgorithm != types.SigningAlgorithmSpecRsassaPkcs1V15Sha256 || string(got.Message) != string(digest[:]) {
		t.Errorf("Sign input: key %q, type %q, algorithm %q, message %x", aws.ToString(got.KeyId), got.MessageType, got.SigningAlgorithm, got.Message)
	}

	t.Run("a signature by another key is not returned", func(t *testing.T) {
		signWith = other
		sig, err := signer.Sign(ctx, input)
		if err == nil || sig != nil {
			t.Fatalf("Sign returned %x, %v; want no signature and an error", sig, err)
		}
		if !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("error %q does not say the signature does not verify", err)
		}
		if strings.Contains(err.Error(), string(input)) {
			t.Errorf("error %q holds the signing input", err)
		}
	})
	t.Run("a KMS failure is wrapped without the input", func(t *testing.T) {
		fake.sign = func(*kms.SignInput) (*kms.SignOutput, error) {
			return nil, &types.DisabledException{Message: aws.String("key is disabled")}
		}
		_, err := signer.Sign(ctx, input)
		var disabled *types.DisabledException
		if !errors.As(err, &disabled) {
			t.Fatalf("err = %v, want the DisabledException wrapped", err)
		}
		if strings.Contains(err.Error(), string(input)) {
			t.Errorf("error %q holds the signing input", err)
		}
	})
}

func TestNewClientWantsARegion(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := kmssigner.NewClient(context.Background(), "", ""); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("err = %v, want one that asks for a region", err)
	}
}
