package kmsapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

const (
	// targetPrefix starts every X-Amz-Target KMS accepts: its Smithy
	// service is TrentService (aws-sdk-go-v2 service/kms/request_snapshot).
	targetPrefix = "TrentService."
	contentType  = "application/x-amz-json-1.1"
	maxBodyBytes = 1 << 20
)

// apiError is an error as KMS answers it: an HTTP status and a JSON body
// {"__type": ..., "message": ...}, which the SDK turns into its typed
// errors (aws-sdk-go-v2 service/kms/response_snapshot/*.error.snap).
type apiError struct {
	status  int
	kind    string
	message string
}

// The exceptions below are those the KMS API reference lists for the four
// operations (each API_*.html, "Errors"); they are all HTTP 400.
func notFound(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "NotFoundException", msg}
}

func invalidKeyUsage(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidKeyUsageException", msg}
}

func validation(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationException", msg}
}

func unsupported(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "UnsupportedOperationException", msg}
}

var (
	// Common errors (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html):
	// a request without credentials is 403 MissingAuthenticationToken.
	errNoAuth = &apiError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	// A body that is not the JSON of the operation's input: awsJson1_1
	// answers SerializationException (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
	errSerialization = &apiError{http.StatusBadRequest, "SerializationException", "Start of structure or map found where not expected."}
	// Decrypt's answer to a ciphertext it cannot use, whatever the reason
	// (API_Decrypt.html: InvalidCiphertextException).
	errInvalidCiphertext = &apiError{http.StatusBadRequest, "InvalidCiphertextException", ""}
)

// operation decodes its input from body and returns its output or a KMS
// error.
type operation func(s *Server, body []byte) (any, *apiError)

// operations is what the stand-in implements, by X-Amz-Target suffix.
var operations = map[string]operation{
	"Sign":         (*Server).sign,
	"GetPublicKey": (*Server).getPublicKey,
	"Encrypt":      (*Server).encrypt,
	"Decrypt":      (*Server).decrypt,
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	name, isKMS := strings.CutPrefix(target, targetPrefix)
	if isKMS {
		s.mu.Lock()
		s.calls[name]++
		s.mu.Unlock()
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		// awsJson1_1 is POST / only.
		writeError(w, &apiError{http.StatusNotFound, "UnknownOperationException", ""})
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeError(w, errNoAuth)
		return
	}
	// awsJson1_1: requests carry this Content-Type (smithy.io aws-json-1_1-protocol).
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != contentType {
		writeError(w, errSerialization)
		return
	}
	op, known := operations[name]
	if !isKMS || !known {
		writeError(w, &apiError{http.StatusBadRequest, "UnknownOperationException", ""})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		writeError(w, errSerialization)
		return
	}
	out, aerr := op(s, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, &apiError{http.StatusInternalServerError, "KMSInternalException", ""})
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", newKeyID())
	_, _ = w.Write(b)
}

// decode reads an operation's input; fields the stand-in does not know are
// ignored, as a newer client's would be.
func decode(body []byte, in any) *apiError {
	if err := json.Unmarshal(body, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &apiError{http.StatusBadRequest, "SerializationException", "Unexpected value for field " + typeErr.Field}
		}
		return errSerialization
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", newKeyID())
	w.WriteHeader(e.status)
	body := map[string]string{"__type": e.kind}
	if e.message != "" {
		body["message"] = e.message
	}
	_ = json.NewEncoder(w).Encode(body)
}

// required is KMS's ValidationException for a missing member, in the
// words AWS's validation uses.
func required(member string) *apiError {
	return validation("1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null")
}
