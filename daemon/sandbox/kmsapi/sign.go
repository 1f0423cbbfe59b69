package kmsapi

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// signingAlgorithm is one of KMS's RSA signing algorithms
// (API_Sign.html#KMS-Sign-request-SigningAlgorithm).
type signingAlgorithm struct {
	hash crypto.Hash
	pss  bool
}

var signingAlgorithms = map[string]signingAlgorithm{
	"RSASSA_PSS_SHA_256":        {crypto.SHA256, true},
	"RSASSA_PSS_SHA_384":        {crypto.SHA384, true},
	"RSASSA_PSS_SHA_512":        {crypto.SHA512, true},
	"RSASSA_PKCS1_V1_5_SHA_256": {crypto.SHA256, false},
	"RSASSA_PKCS1_V1_5_SHA_384": {crypto.SHA384, false},
	"RSASSA_PKCS1_V1_5_SHA_512": {crypto.SHA512, false},
}

// rsaSigningAlgorithmNames lists signingAlgorithms, sorted, as
// GetPublicKey reports them for an RSA SIGN_VERIFY key.
func rsaSigningAlgorithmNames() []string {
	names := make([]string, 0, len(signingAlgorithms))
	for n := range signingAlgorithms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// maxRawMessage is Sign's limit on a RAW message (API_Sign.html#KMS-Sign-request-Message).
const maxRawMessage = 4096

type signInput struct {
	KeyID            string `json:"KeyId"`
	Message          []byte `json:"Message"`
	MessageType      string `json:"MessageType"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

type signOutput struct {
	KeyID            string `json:"KeyId"`
	Signature        []byte `json:"Signature"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

func (s *Server) sign(body []byte) (any, *apiError) {
	var in signInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case in.KeyID == "":
		return nil, required("keyId")
	case in.Message == nil:
		return nil, required("message")
	case in.SigningAlgorithm == "":
		return nil, required("signingAlgorithm")
	}
	alg, ok := signingAlgorithms[in.SigningAlgorithm]
	if !ok {
		return nil, enumError(in.SigningAlgorithm, "signingAlgorithm", rsaSigningAlgorithmNames())
	}
	k, e := s.lookup(in.KeyID)
	if e != nil {
		return nil, e
	}
	if k.rsa == nil {
		return nil, invalidKeyUsage(fmt.Sprintf("%s key usage is ENCRYPT_DECRYPT which is not valid for signing.", k.arn))
	}

	// MessageType RAW (the default) has KMS hash the message; DIGEST
	// means the caller did, and the digest must be the hash's length
	// (API_Sign.html#KMS-Sign-request-MessageType).
	var digest []byte
	switch in.MessageType {
	case "", "RAW":
		if len(in.Message) == 0 || len(in.Message) > maxRawMessage {
			return nil, validation(fmt.Sprintf("1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and %d", maxRawMessage))
		}
		h := alg.hash.New()
		h.Write(in.Message)
		digest = h.Sum(nil)
	case "DIGEST":
		if len(in.Message) != alg.hash.Size() {
			return nil, validation("Digest is invalid length for algorithm " + in.SigningAlgorithm + ".")
		}
		digest = in.Message
	default:
		return nil, enumError(in.MessageType, "messageType", []string{"DIGEST", "RAW"})
	}

	var sig []byte
	var err error
	if alg.pss {
		sig, err = rsa.SignPSS(rand.Reader, k.rsa, alg.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, alg.hash, digest)
	}
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, "KMSInternalException", ""}
	}
	return signOutput{KeyID: k.arn, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

type getPublicKeyInput struct {
	KeyID string `json:"KeyId"`
}

type getPublicKeyOutput struct {
	KeyID                 string   `json:"KeyId"`
	PublicKey             []byte   `json:"PublicKey"` // DER SubjectPublicKeyInfo
	KeySpec               string   `json:"KeySpec"`
	CustomerMasterKeySpec string   `json:"CustomerMasterKeySpec"` // deprecated twin of KeySpec
	KeyUsage              string   `json:"KeyUsage"`
	SigningAlgorithms     []string `json:"SigningAlgorithms"`
}

func (s *Server) getPublicKey(body []byte) (any, *apiError) {
	var in getPublicKeyInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.KeyID == "" {
		return nil, required("keyId")
	}
	k, e := s.lookup(in.KeyID)
	if e != nil {
		return nil, e
	}
	// A symmetric key has no public key (API_GetPublicKey.html, Errors).
	if k.rsa == nil {
		return nil, unsupported(k.arn + " key usage is ENCRYPT_DECRYPT and key spec is SYMMETRIC_DEFAULT, which is not valid for GetPublicKey.")
	}
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, "KMSInternalException", ""}
	}
	return getPublicKeyOutput{
		KeyID: k.arn, PublicKey: der,
		KeySpec: "RSA_2048", CustomerMasterKeySpec: "RSA_2048",
		KeyUsage: "SIGN_VERIFY", SigningAlgorithms: rsaSigningAlgorithmNames(),
	}, nil
}

// enumError is the ValidationException for a value outside an enum.
func enumError(value, member string, allowed []string) *apiError {
	return validation(fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
		value, member, strings.Join(allowed, ", ")))
}
