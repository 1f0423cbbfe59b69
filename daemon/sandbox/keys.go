package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// signatureAlgorithms are the JWS algorithms STS accepts in the ID tokens
// of an IAM OIDC provider: RS256, RS384, RS512, ES256, ES384 and ES512
// (IAM User Guide, "Create an OpenID Connect (OIDC) identity provider in
// IAM"; each observed to work against real STS in radkawar/stackd
// internal/services/sts/testdata/oidc/aws.json, scenarios algorithm-*).
// Anything else, HS256 and "none" included, is refused.
func signatureAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512}
}

// newSigningKey makes a private key for alg: RSA 2048 for RS*, the
// matching NIST curve for ES* (RFC 7518 §3.4).
func newSigningKey(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	var curve elliptic.Curve
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512:
		return rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		curve = elliptic.P256()
	case jose.ES384:
		curve = elliptic.P384()
	case jose.ES512:
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("signature algorithm %q is not one STS accepts (%v)", alg, signatureAlgorithms())
	}
	return ecdsa.GenerateKey(curve, rand.Reader)
}

// headerAlg is the "alg" of a compact JWS's header, "" if it has none or
// the header cannot be read.
func headerAlg(token string) string {
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

// unsupportedAlg reports whether token names an algorithm STS refuses.
func unsupportedAlg(token string) bool {
	alg := headerAlg(token)
	return alg != "" && !slices.Contains(signatureAlgorithms(), jose.SignatureAlgorithm(alg))
}

// sigCheck is what checking a token's signature against a key set found.
type sigCheck int

const (
	signatureValid sigCheck = iota
	// signatureInvalid: a key was chosen and the signature does not verify.
	signatureInvalid
	// signatureNoKey: no key of the set is the token's: its kid is not in
	// the set, or it has no kid and the set more than one key.
	signatureNoKey
)

// checkSignature verifies jws with the key its kid names, as STS does
// with the provider's JWKS: a token without a kid is verified only when
// the set has a single key (radkawar/stackd
// internal/services/sts/testdata/oidc/README.md, "JWK key IDs are
// required. A JWT without a key ID works only with a single available
// indexed signing key.").
func checkSignature(jws *jose.JSONWebSignature, set *jose.JSONWebKeySet) sigCheck {
	keys := set.Keys
	if kid := jws.Signatures[0].Header.KeyID; kid != "" {
		keys = set.Key(kid)
	} else if len(keys) != 1 {
		return signatureNoKey
	}
	if len(keys) == 0 {
		return signatureNoKey
	}
	for _, k := range keys {
		if _, err := jws.Verify(k.Key); err == nil {
			return signatureValid
		}
	}
	return signatureInvalid
}
