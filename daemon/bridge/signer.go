package bridge

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	jose "github.com/go-jose/go-jose/v4"
)

// MinKeyBits is the smallest RSA modulus the bridge signs with or publishes:
// AWS IAM OIDC providers accept RSA keys of 2048 bits and more.
const MinKeyBits = 2048

// Signer signs JWTs with an RSA key whose private half may live elsewhere (a file, AWS KMS).
type Signer interface {
	// KeyID is the kid of the signing key (RFC 7638 SHA-256 thumbprint, base64url).
	KeyID() string
	// Public is the signing key's public half, published in the JWKS.
	Public() *rsa.PublicKey
	// Sign returns the RSASSA-PKCS1-v1_5 SHA-256 signature of signingInput (RS256).
	Sign(ctx context.Context, signingInput []byte) ([]byte, error)
}

// KeyID returns the RFC 7638 SHA-256 thumbprint of pub, base64url without padding.
func KeyID(pub *rsa.PublicKey) string {
	if pub == nil {
		return ""
	}
	thumb, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(thumb)
}

// FileSigner signs with an RSA private key held in memory, read from a PEM file.
type FileSigner struct {
	key *rsa.PrivateKey
	kid string
}

// NewFileSigner wraps an RSA private key of at least MinKeyBits.
func NewFileSigner(key *rsa.PrivateKey) (*FileSigner, error) {
	if key == nil {
		return nil, errors.New("no RSA private key")
	}
	if err := checkKeySize(&key.PublicKey); err != nil {
		return nil, err
	}
	return &FileSigner{key: key, kid: KeyID(&key.PublicKey)}, nil
}

// KeyID is the RFC 7638 thumbprint of the key.
func (s *FileSigner) KeyID() string { return s.kid }

// Public is the key's public half.
func (s *FileSigner) Public() *rsa.PublicKey { return &s.key.PublicKey }

// Sign returns the RS256 signature of signingInput.
func (s *FileSigner) Sign(_ context.Context, signingInput []byte) ([]byte, error) {
	digest := sha256.Sum256(signingInput)
	return rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
}

// LoadSigningKey reads an RSA private key from a PEM file (PKCS#1 "RSA
// PRIVATE KEY" or PKCS#8 "PRIVATE KEY") of at least MinKeyBits. Errors name
// the path, never the key's content.
func LoadSigningKey(path string) (*FileSigner, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	s, err := NewFileSigner(key)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return s, nil
}

// LoadPublicKey reads a PEM public key (PKIX "PUBLIC KEY" or PKCS#1 "RSA
// PUBLIC KEY") or a private key, whose public half it returns: a previous key
// still published in the JWKS after a rotation.
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, perr := x509.ParsePKIXPublicKey(block.Bytes)
		if perr != nil {
			return nil, fmt.Errorf("public key %s: not a valid PKIX public key", path)
		}
		rsaKey, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %s: a %T, the bridge publishes RSA keys only", path, k)
		}
		pub = rsaKey
	case "RSA PUBLIC KEY":
		k, perr := x509.ParsePKCS1PublicKey(block.Bytes)
		if perr != nil {
			return nil, fmt.Errorf("public key %s: not a valid PKCS#1 public key", path)
		}
		pub = k
	default:
		priv, perr := parsePrivateKey(block)
		if perr != nil {
			return nil, fmt.Errorf("public key %s: %w", path, perr)
		}
		pub = &priv.PublicKey
	}
	if err := checkKeySize(pub); err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}

// readPEM returns the first PEM block of the file at path.
func readPEM(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("key %s: no PEM block; give a PEM file (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)", path)
	}
	return block, nil
}

// parsePrivateKey accepts PKCS#1 and PKCS#8 RSA keys. Its errors are
// written here, not taken from x509, so no key bytes can reach them.
func parsePrivateKey(block *pem.Block) (*rsa.PrivateKey, error) {
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#1 RSA private key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#8 private key")
		}
		rsaKey, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T, the bridge signs with RSA keys only (RS256)", k)
		}
		return rsaKey, nil
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the key is encrypted; give it unencrypted (openssl pkey -in KEY -out PLAIN) and protect the file with chmod 600")
	default:
		return nil, fmt.Errorf("a PEM %q block; want \"RSA PRIVATE KEY\" or \"PRIVATE KEY\"", block.Type)
	}
}

func checkKeySize(pub *rsa.PublicKey) error {
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return fmt.Errorf("an RSA key of %d bits; use at least %d", bits, MinKeyBits)
	}
	return nil
}
