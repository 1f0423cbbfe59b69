package kmsapi

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
)

// maxPlaintext is Encrypt's limit (API_Encrypt.html#KMS-Encrypt-request-Plaintext).
const maxPlaintext = 4096

const symmetricDefault = "SYMMETRIC_DEFAULT"

// blobMagic starts the stand-in's ciphertext blobs. Like KMS's, a blob
// is opaque to callers, but names its key, so Decrypt needs no KeyId
// (API_Decrypt.html#KMS-Decrypt-request-KeyId). Layout: magic, key id
// (36 bytes), AES-GCM nonce, sealed plaintext.
var blobMagic = []byte("kmsapi1:")

const keyIDLen = 36 // len(newKeyID())

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
}

type encryptOutput struct {
	KeyID               string `json:"KeyId"`
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (s *Server) encrypt(body []byte) (any, *apiError) {
	var in encryptInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case in.KeyID == "":
		return nil, required("keyId")
	case in.Plaintext == nil:
		return nil, required("plaintext")
	case len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintext:
		return nil, validation(fmt.Sprintf("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and %d", maxPlaintext))
	}
	k, e := s.lookup(in.KeyID)
	if e != nil {
		return nil, e
	}
	if e := checkSymmetric(k, in.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	gcm := newGCM(k.aes)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	blob := append(append(append([]byte{}, blobMagic...), k.id...), nonce...)
	blob = gcm.Seal(blob, nonce, in.Plaintext, additionalData(k.id, in.EncryptionContext))
	return encryptOutput{KeyID: k.arn, CiphertextBlob: blob, EncryptionAlgorithm: symmetricDefault}, nil
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	KeyID               string            `json:"KeyId"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
}

type decryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (s *Server) decrypt(body []byte) (any, *apiError) {
	var in decryptInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.CiphertextBlob == nil {
		return nil, required("ciphertextBlob")
	}
	rest, ok := bytes.CutPrefix(in.CiphertextBlob, blobMagic)
	if !ok || len(rest) < keyIDLen {
		return nil, errInvalidCiphertext
	}
	s.mu.Lock()
	k := s.keys[string(rest[:keyIDLen])]
	s.mu.Unlock()
	rest = rest[keyIDLen:]
	if k == nil {
		return nil, errInvalidCiphertext
	}
	// With a KeyId, KMS refuses a ciphertext made under another key
	// (API_Decrypt.html, Errors: IncorrectKeyException).
	if in.KeyID != "" {
		named, e := s.lookup(in.KeyID)
		if e != nil {
			return nil, e
		}
		if named != k {
			return nil, &apiError{http.StatusBadRequest, "IncorrectKeyException",
				"The key ID in the request does not identify a CMK that can perform this operation."}
		}
	}
	if e := checkSymmetric(k, in.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	gcm := newGCM(k.aes)
	if len(rest) < gcm.NonceSize() {
		return nil, errInvalidCiphertext
	}
	// A wrong EncryptionContext fails authentication like a tampered blob
	// does: KMS answers InvalidCiphertextException to both.
	plain, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], additionalData(k.id, in.EncryptionContext))
	if err != nil {
		return nil, errInvalidCiphertext
	}
	return decryptOutput{KeyID: k.arn, Plaintext: plain, EncryptionAlgorithm: symmetricDefault}, nil
}

// checkSymmetric refuses what a SYMMETRIC_DEFAULT key cannot do.
func checkSymmetric(k *key, algorithm string) *apiError {
	if k.aes == nil {
		return invalidKeyUsage(k.arn + " key usage is SIGN_VERIFY which is not valid for Encrypt and Decrypt.")
	}
	if algorithm != "" && algorithm != symmetricDefault {
		return invalidKeyUsage("Algorithm " + algorithm + " is incompatible with key spec SYMMETRIC_DEFAULT.")
	}
	return nil
}

// additionalData binds a ciphertext to its key and encryption context, so
// that Decrypt needs the same context (API_Encrypt.html#KMS-Encrypt-request-EncryptionContext).
// json.Marshal sorts map keys: equal contexts give equal bytes.
func additionalData(keyID string, context map[string]string) []byte {
	ad := []byte(keyID + "\x00")
	if len(context) == 0 {
		return ad // no context and {} are the same
	}
	ctx, _ := json.Marshal(context) // a map[string]string always marshals
	return append(ad, ctx...)
}

func newGCM(secret []byte) cipher.AEAD {
	block, err := aes.NewCipher(secret)
	if err != nil {
		panic("kmsapi: AES key of wrong length") // CreateSymmetricKey makes 32 bytes
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic("kmsapi: " + err.Error()) // only for unusual block sizes
	}
	return gcm
}
