package bridge

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSigningKeyReadsPKCS1AndPKCS8(t *testing.T) {
	key := testKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"PKCS#1": writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)),
		"PKCS#8": writePEM(t, "PRIVATE KEY", pkcs8),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := LoadSigningKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Public().Equal(&key.PublicKey) || s.KeyID() != KeyID(&key.PublicKey) {
				t.Fatal("wrong key")
			}
			sig, err := s.Sign(context.Background(), []byte("input"))
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("input"))
			if err := rsa.VerifyPKCS1v15(s.Public(), crypto.SHA256, digest[:], sig); err != nil {
				t.Errorf("signature: %v", err)
			}
		})
	}
}

func TestLoadSigningKeyRefusesWithoutShowingTheKey(t *testing.T) {
	small := mustKey(1024)
	for name, path := range map[string]string{
		"small key":   writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
		"garbage DER": writePEM(t, "RSA PRIVATE KEY", []byte("MIIEpAIBAAKCAQEAsecretbytes")),
		"public key":  writePEM(t, "PUBLIC KEY", mustPKIX(t, &testKey().PublicKey)),
		"not PEM":     writeFile(t, "MIIEpAIBAAKCAQEAsecretbytes"),
		"missing":     filepath.Join(t.TempDir(), "nope.pem"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadSigningKey(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "secretbytes") || strings.Contains(err.Error(), "MII") {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}

func TestLoadPublicKey(t *testing.T) {
	pub := &testOtherKey().PublicKey
	for name, path := range map[string]string{
		"PKIX":        writePEM(t, "PUBLIC KEY", mustPKIX(t, pub)),
		"PKCS#1":      writePEM(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(pub)),
		"private key": writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testOtherKey())),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := LoadPublicKey(path)
			if err != nil || !got.Equal(pub) {
				t.Fatalf("LoadPublicKey = %v, %v", got, err)
			}
		})
	}
}

func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	pub := &testKey().PublicKey
	thumb, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := KeyID(pub), base64.RawURLEncoding.EncodeToString(thumb); got != want || strings.Contains(got, "=") {
		t.Errorf("KeyID = %q, want %q", got, want)
	}
}

func mustPKIX(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
