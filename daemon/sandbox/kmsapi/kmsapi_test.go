package kmsapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/credd-dev/credd/daemon/sandbox/kmsapi"
)

// start serves s on loopback and returns a real SDK client for it, with
// static test credentials and no retries.
func start(t *testing.T, s *kmsapi.Server) (*kms.Client, string) {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return kms.New(kms.Options{
		Region:       kmsapi.Region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-test", ""),
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
	}), srv.URL
}

func TestSignVerifiesWithThePublicKeyForEveryWayToNameTheKey(t *testing.T) {
	s := kmsapi.New()
	id, arn, pub := s.CreateRSASigningKey("bridge")
	client, _ := start(t, s)
	ctx := context.Background()
	msg := []byte("header.payload")
	digest := sha256.Sum256(msg)

	for _, name := range []string{id, arn, "alias/bridge", "arn:aws:kms:us-east-1:123456789012:alias/bridge"} {
		t.Run("digest pkcs1 via "+name, func(t *testing.T) {
			out, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(name), Message: digest[:],
				MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.KeyId) != arn {
				t.Errorf("KeyId = %q, want the key ARN %q", aws.ToString(out.KeyId), arn)
			}
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], out.Signature); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
		})
	}
	t.Run("raw message with PSS", func(t *testing.T) {
		out, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg,
			SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], out.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Errorf("signature does not verify: %v", err)
		}
	})
	if got := s.Calls("Sign"); got != 5 {
		t.Errorf("Calls(Sign) = %d, want 5", got)
	}
	if got := s.Calls("TrentService.Sign"); got != 5 {
		t.Errorf("Calls(TrentService.Sign) = %d, want 5", got)
	}
}

func TestGetPublicKeyDescribesAnRSASigningKey(t *testing.T) {
	s := kmsapi.New()
	_, arn, pub := s.CreateRSASigningKey("alias/signer")
	client, _ := start(t, s)
	out, err := client.GetPublicKey(context.Background(), &kms.GetPublicKeyInput{KeyId: aws.String("alias/signer")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatalf("PublicKey is not DER SubjectPublicKeyInfo: %v", err)
	}
	if !pub.Equal(got) {
		t.Error("PublicKey is not the key's")
	}
	if aws.ToString(out.KeyId) != arn || out.KeySpec != types.KeySpecRsa2048 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		t.Errorf("KeyId %q, KeySpec %q, KeyUsage %q", aws.ToString(out.KeyId), out.KeySpec, out.KeyUsage)
	}
	if !slices.Contains(out.SigningAlgorithms, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256) {
		t.Errorf("SigningAlgorithms %v lack RSASSA_PKCS1_V1_5_SHA_256", out.SigningAlgorithms)
	}
}

func TestEncryptThenDecrypt(t *testing.T) {
	s := kmsapi.New()
	id := s.CreateSymmetricKey("secrets")
	other := s.CreateSymmetricKey("")
	client, _ := start(t, s)
	ctx := context.Background()
	context1 := map[string]string{"purpose": "github-app"}

	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/secrets"), Plaintext: []byte("s3cr3t"), EncryptionContext: context1})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc.CiphertextBlob, []byte("s3cr3t")) {
		t.Fatal("the ciphertext holds the plaintext")
	}

	t.Run("without a key id, with the same context", func(t *testing.T) {
		dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context1})
		if err != nil {
			t.Fatal(err)
		}
		if string(dec.Plaintext) != "s3cr3t" || !strings.HasSuffix(aws.ToString(dec.KeyId), id) {
			t.Errorf("got %q from %q", dec.Plaintext, aws.ToString(dec.KeyId))
		}
	})
	var invalid *types.InvalidCiphertextException
	t.Run("another context is an invalid ciphertext", func(t *testing.T) {
		_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if !errors.As(err, &invalid) {
			t.Errorf("err = %v, want InvalidCiphertextException", err)
		}
	})
	t.Run("a changed blob is an invalid ciphertext", func(t *testing.T) {
		blob := bytes.Clone(enc.CiphertextBlob)
		blob[len(blob)-1] ^= 1
		_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: context1})
		if !errors.As(err, &invalid) {
			t.Errorf("err = %v, want InvalidCiphertextException", err)
		}
	})
	t.Run("naming another key is IncorrectKeyException", func(t *testing.T) {
		_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(other), EncryptionContext: context1})
		var incorrect *types.IncorrectKeyException
		if !errors.As(err, &incorrect) {
			t.Errorf("err = %v, want IncorrectKeyException", err)
		}
	})
}

func TestRefusalsHaveKMSsShape(t *testing.T) {
	s := kmsapi.New()
	signingID, _, _ := s.CreateRSASigningKey("")
	symmetricID := s.CreateSymmetricKey("")
	client, _ := start(t, s)
	ctx := context.Background()
	digest := sha256.Sum256([]byte("x"))

	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"an unknown key is NotFoundException", func() error {
			_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab"), Message: digest[:],
				MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256})
			return err
		}, "NotFoundException"},
		{"an unknown alias is NotFoundException", func() error {
			_, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String("alias/nope")})
			return err
		}, "NotFoundException"},
		{"signing with a symmetric key is InvalidKeyUsageException", func() error {
			_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(symmetricID), Message: digest[:],
				MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256})
			return err
		}, "InvalidKeyUsageException"},
		{"encrypting with a signing key is InvalidKeyUsageException", func() error {
			_, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(signingID), Plaintext: []byte("x")})
			return err
		}, "InvalidKeyUsageException"},
		{"the public key of a symmetric key is UnsupportedOperationException", func() error {
			_, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(symmetricID)})
			return err
		}, "UnsupportedOperationException"},
		{"a digest of the wrong length is ValidationException", func() error {
			_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(signingID), Message: digest[:20],
				MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256})
			return err
		}, "ValidationException"},
		{"a raw message over 4096 bytes is ValidationException", func() error {
			_, err := client.Sign(ctx, &kms.SignInput{KeyId: aws.String(signingID), Message: make([]byte, 4097),
				SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256})
			return err
		}, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusBadRequest {
				t.Errorf("HTTP status %d, want 400", re.HTTPStatusCode())
			}
		})
	}
}

func TestRequestsWithoutAuthorizationAreRefused(t *testing.T) {
	s := kmsapi.New()
	id, _, _ := s.CreateRSASigningKey("")
	_, url := start(t, s)
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(`{"KeyId":"`+id+`"}`))
	req.Header.Set("X-Amz-Target", "TrentService.GetPublicKey")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Type string `json:"__type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusForbidden || body.Type != "MissingAuthenticationTokenException" {
		t.Errorf("got %d %q, want 403 MissingAuthenticationTokenException", resp.StatusCode, body.Type)
	}
}

func TestUnknownOperations(t *testing.T) {
	s := kmsapi.New()
	_, url := start(t, s)
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "TrentService.ScheduleKeyDeletion")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/kms/aws4_request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Type string `json:"__type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusBadRequest || body.Type != "UnknownOperationException" {
		t.Errorf("got %d %q, want 400 UnknownOperationException", resp.StatusCode, body.Type)
	}
}
