// Package kmsapi is a stand-in for AWS KMS (Sign, GetPublicKey, Encrypt,
// Decrypt) that speaks KMS's JSON 1.1 protocol, for tests and demos.
//
// It does not verify SigV4 signatures: it only requires an Authorization
// header, so that a client that forgot its credentials still fails. What
// it imitates is the wire format and KMS's answers, taken from the KMS API
// reference (https://docs.aws.amazon.com/kms/latest/APIReference/) and the
// request and response snapshots of aws-sdk-go-v2 (service/kms/
// request_snapshot, response_snapshot).
package kmsapi

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

const (
	// Region and Account make up the keys' ARNs.
	Region  = "us-east-1"
	Account = "123456789012"

	arnPrefix   = "arn:aws:kms:" + Region + ":" + Account + ":"
	aliasPrefix = "alias/"
)

// Server holds the keys and answers KMS calls. Its zero value is not
// usable; call New.
type Server struct {
	mu      sync.Mutex
	keys    map[string]*key   // by key id
	aliases map[string]string // "alias/NAME" → key id
	calls   map[string]int    // by operation name
}

// New returns a stand-in with no keys.
func New() *Server {
	return &Server{keys: map[string]*key{}, aliases: map[string]string{}, calls: map[string]int{}}
}

// key is one KMS key: an RSA signing key pair or a symmetric AES key.
type key struct {
	id  string
	arn string
	rsa *rsa.PrivateKey // SIGN_VERIFY, KeySpec RSA_2048
	aes []byte          // ENCRYPT_DECRYPT, KeySpec SYMMETRIC_DEFAULT
}

// CreateRSASigningKey makes an RSA 2048 key with KeyUsage SIGN_VERIFY, as
// `aws kms create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY` would,
// and names it alias/NAME when alias ("NAME" or "alias/NAME") is not "".
// It panics if the alias is taken: that is a mistake in the test.
func (s *Server) CreateRSASigningKey(alias string) (keyID, arn string, pub *rsa.PublicKey) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("kmsapi: generate RSA key: %v", err))
	}
	k := s.add(alias, &key{rsa: priv})
	return k.id, k.arn, &priv.PublicKey
}

// CreateSymmetricKey makes a SYMMETRIC_DEFAULT key for Encrypt and Decrypt
// and names it like CreateRSASigningKey does.
func (s *Server) CreateSymmetricKey(alias string) (keyID string) {
	secret := make([]byte, 32) // AES-256
	_, _ = rand.Read(secret)   // never fails: see crypto/rand.Read
	return s.add(alias, &key{aes: secret}).id
}

func (s *Server) add(alias string, k *key) *key {
	k.id = newKeyID()
	k.arn = arnPrefix + "key/" + k.id
	s.mu.Lock()
	defer s.mu.Unlock()
	if alias != "" {
		name := aliasPrefix + strings.TrimPrefix(alias, aliasPrefix)
		if _, taken := s.aliases[name]; taken {
			panic("kmsapi: alias " + name + " already exists")
		}
		s.aliases[name] = k.id
	}
	s.keys[k.id] = k
	return k
}

// newKeyID returns a random id shaped like KMS's
// (1234abcd-12ab-34cd-56ef-1234567890ab: a version 4 UUID).
func newKeyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Calls says how many requests for operation ("Sign", or
// "TrentService.Sign") reached the stand-in, failed ones included.
func (s *Server) Calls(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[strings.TrimPrefix(target, targetPrefix)]
}

// Handler serves the KMS API at "/".
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// lookup finds a key the way KMS accepts a KeyId: key id, key ARN,
// alias/NAME or alias ARN (API_Sign.html#KMS-Sign-request-KeyId).
func (s *Server) lookup(keyID string) (*key, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strings.TrimPrefix(keyID, arnPrefix)
	switch {
	case strings.HasPrefix(id, aliasPrefix):
		target, ok := s.aliases[id]
		if !ok {
			return nil, notFound(fmt.Sprintf("Alias %s%s is not found.", arnPrefix, id))
		}
		id = target
	default:
		id = strings.TrimPrefix(id, "key/")
	}
	k, ok := s.keys[id]
	if !ok {
		return nil, notFound(fmt.Sprintf("Key '%skey/%s' does not exist", arnPrefix, id))
	}
	return k, nil
}
