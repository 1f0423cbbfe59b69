package sandbox

import (
	"cmp"
	"encoding/xml"
	"errors"
	"net/http"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox/sigv4"
)

type getCallerIdentityResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Arn       string   `xml:"GetCallerIdentityResult>Arn"`
	UserID    string   `xml:"GetCallerIdentityResult>UserId"`
	Account   string   `xml:"GetCallerIdentityResult>Account"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

func (s *STS) getCallerIdentity(w http.ResponseWriter, r *http.Request, reqID string, body []byte) {
	akid, sess, aerr := s.authenticate(r, body)
	if aerr != nil {
		s.writeError(w, reqID, aerr)
		return
	}
	s.mu.Lock()
	s.verified++
	s.mu.Unlock()
	s.log.Info("caller identified", "request_id", reqID, "access_key_id", akid, "arn", sess.arn)
	s.writeXML(w, http.StatusOK, getCallerIdentityResponse{
		Arn: sess.arn, UserID: sess.userID, Account: sess.account, RequestID: reqID,
	})
}

// presignedLifetime is what STS allows a presigned URL without X-Amz-Expires.
const presignedLifetime = 15 * time.Minute

var (
	errIncomplete = &apiError{http.StatusBadRequest, "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and an 'X-Amz-Date' or 'Date' header."}
	errBadToken   = &apiError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	errExpired    = &apiError{http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"}
	errSignature  = &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
)

// authenticate verifies the request's SigV4 signature against the session
// it names, and returns that session.
func (s *STS) authenticate(r *http.Request, body []byte) (string, *session, *apiError) {
	auth, err := sigv4.ParseAuthorization(r, sigv4.Expect{Service: "sts"})
	if err != nil {
		return "", nil, sigv4Refusal(err)
	}
	s.mu.Lock()
	sess := s.sessions[auth.AccessKeyID]
	s.mu.Unlock()
	if sess == nil || !sigv4.Equal(auth.SecurityToken, sess.token) {
		return "", nil, errBadToken
	}
	now := s.clock.Now()
	if !now.Before(sess.expires) {
		return "", nil, errExpired
	}
	if auth.Presigned && now.After(auth.Time.Add(cmp.Or(auth.Expires, presignedLifetime))) {
		return "", nil, &apiError{http.StatusForbidden, "ExpiredToken", "The presigned URL has expired"}
	}
	// STS takes the payload's hash from x-amz-content-sha256 when a signer
	// sends it, and otherwise hashes the body.
	payloadHash := cmp.Or(r.Header.Get("X-Amz-Content-Sha256"), sigv4.HashPayload(body))
	if !sigv4.Verify(r, auth, sess.secret, payloadHash, sigv4.Options{}) {
		return "", nil, errSignature
	}
	return auth.AccessKeyID, sess, nil
}

// sigv4Refusal is STS's answer to each problem with a request's signature
// fields, in STS's words.
func sigv4Refusal(err error) *apiError {
	var e *sigv4.Error
	if !errors.As(err, &e) {
		return errIncomplete
	}
	switch e.Kind {
	case sigv4.Missing:
		return &apiError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	case sigv4.UnsupportedAlgorithm:
		return &apiError{http.StatusBadRequest, "IncompleteSignature", "Unsupported AWS 'algorithm': '" + e.Got + "'"}
	case sigv4.InvalidExpires:
		return &apiError{http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Expires must be a number of seconds between 1 and 604800."}
	case sigv4.WrongTerminator:
		return &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped with a valid terminator: 'aws4_request', not '" + e.Got + "'."}
	case sigv4.WrongService:
		return &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'."}
	case sigv4.DateMismatch:
		return &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."}
	case sigv4.HostNotSigned:
		return &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
	}
	// Incomplete and InvalidDate, which STS answers alike (WrongRegion does
	// not arise: the sandbox accepts every region).
	return errIncomplete
}
