package bridge

import (
	"fmt"
	"net/http"
	"time"
)

// Error codes of the bridge's JSON error responses, with their HTTP status
// in statusOf.
const (
	CodeBadRequest              = "bad_request"
	CodeGitHubTokenRefused      = "github_token_refused"
	CodeTokenKindRefused        = "token_kind_refused"
	CodeAppMismatch             = "app_mismatch"
	CodeOwnerNotAllowed         = "owner_not_allowed"
	CodeRepositoryNotAccessible = "repository_not_accessible"
	CodePermissionTooLow        = "permission_too_low"
	CodeAudienceNotAllowed      = "audience_not_allowed"
	CodeGitHubForbidden         = "github_forbidden"
	CodeRateLimited             = "rate_limited"
	CodeGitHubUnavailable       = "github_unavailable"
	CodeSigningFailed           = "signing_failed"
	// CodeNotFound answers a path the bridge does not serve.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed answers a method a path does not take.
	CodeMethodNotAllowed = "method_not_allowed"
)

// statusOf is the HTTP status of each code: one row per code, so a new code
// cannot forget its status.
var statusOf = map[string]int{
	CodeBadRequest:              http.StatusBadRequest,
	CodeGitHubTokenRefused:      http.StatusUnauthorized,
	CodeTokenKindRefused:        http.StatusForbidden,
	CodeAppMismatch:             http.StatusForbidden,
	CodeOwnerNotAllowed:         http.StatusForbidden,
	CodeRepositoryNotAccessible: http.StatusForbidden,
	CodePermissionTooLow:        http.StatusForbidden,
	CodeAudienceNotAllowed:      http.StatusForbidden,
	CodeGitHubForbidden:         http.StatusForbidden,
	CodeRateLimited:             http.StatusTooManyRequests,
	CodeGitHubUnavailable:       http.StatusBadGateway,
	CodeSigningFailed:           http.StatusBadGateway,
	CodeNotFound:                http.StatusNotFound,
	CodeMethodNotAllowed:        http.StatusMethodNotAllowed,
}

// Status returns the HTTP status the bridge answers code with (500 for a
// code it does not know).
func Status(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// TokenRequest is the JSON body of POST {issuer}/token.
type TokenRequest struct {
	// Audience is the JWT's "aud"; "" = the bridge's first allowed audience.
	Audience string `json:"audience,omitempty"`
	// Repository is OWNER/REPO.
	Repository string `json:"repository"`
}

// TokenResponse is the JSON answer of a successful POST {issuer}/token.
type TokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"` // RFC 3339, UTC, whole seconds
}

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// refusal is a request the bridge answers with an error: its code, a
// message for the caller, and for the audit log a reason that may say more.
type refusal struct {
	code       string
	message    string
	reason     string        // for the log; "" = message
	retryAfter time.Duration // for CodeRateLimited
}

func (r *refusal) Error() string { return r.code + ": " + r.message }

func refuse(code, format string, args ...any) *refusal {
	return &refusal{code: code, message: fmt.Sprintf(format, args...)}
}

// because adds a log-only reason.
func (r *refusal) because(format string, args ...any) *refusal {
	r.reason = fmt.Sprintf(format, args...)
	return r
}
