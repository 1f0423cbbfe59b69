package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/credd-dev/credd/daemon/redact"
)

// Kind sorts failures by what the refresher should do about them.
type Kind string

const (
	// KindRetryable: throttling, 5xx, IDPCommunicationError, network trouble,
	// and an InvalidIdentityToken that says STS could not fetch the IdP's keys.
	// Retry with backoff.
	KindRetryable Kind = "retryable"
	// KindNewToken: the identity token was refused as invalid or expired.
	// Fetch a new token, then try a few more times at most.
	KindNewToken Kind = "new-token"
	// KindPermanent: AccessDenied, IDPRejectedClaim, MalformedPolicyDocument,
	// a bad configuration or token. Retrying will not help.
	KindPermanent Kind = "permanent"
)

// Code is a short stable identifier of a failure, such as STS's
// "AccessDenied" or credd's own "TokenFileMissing". Each package exports
// the codes it produces (source.CodeFileMissing, sts.CodeAccessDenied …);
// the ones below are shared. Codes are part of the status document: never
// change one's spelling.
type Code string

// Codes that more than one package produces.
const (
	// CodeUnknown: an error nothing classified (AsError's default).
	CodeUnknown Code = "Unknown"
	// CodeTimeout: a step took longer than it was allowed; the Stage says
	// which one.
	CodeTimeout Code = "Timeout"
)

// Stage is the step of getting credentials that failed. It is set by
// whoever knows which step ran (the refresher, or a step within a step), so
// that nobody has to guess it from the code: the same code, such as
// Timeout, can come from several stages.
type Stage string

const (
	// StageTokenSource: getting the identity token from the token source
	// (a file, the Actions endpoint, a command, a login).
	StageTokenSource Stage = "token-source"
	// StageTokenCheck: checking the token locally before it is sent
	// (its shape, expiry, audience and issuer).
	StageTokenCheck Stage = "token-check"
	// StageSTS: exchanging the token with STS AssumeRoleWithWebIdentity.
	StageSTS Stage = "sts"
	// StageCredentials: taking what the exchange returned: credentials that
	// are empty or already expired, or that a logout dropped meanwhile.
	StageCredentials Stage = "credentials"
)

// BeforeSTS reports whether s is a stage of getting the token (its source
// or its local check), before anything is sent to STS.
func (s Stage) BeforeSTS() bool { return s == StageTokenSource || s == StageTokenCheck }

// Error is a classified failure with a hint that tells the user what to do.
// Message and Hint never contain secrets.
type Error struct {
	Kind Kind
	// Code is a short stable identifier: an STS error code such as
	// "AccessDenied", or one of credd's own such as "TokenFileMissing".
	Code Code
	// Stage is the step that failed; "" when the failure is not one of
	// getting credentials (a refused control request, say) or no step has
	// claimed it yet.
	Stage   Stage
	Message string
	// Hint says what to do next.
	Hint string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Status is e as reported in the status document, as of at. Message and
// Hint are redacted once more: an error built from someone else's words
// that missed redaction where they came in must not be served to every
// `credd status`. It runs once per failure, never per request.
func (e *Error) Status(at time.Time) *ErrorStatus {
	return &ErrorStatus{Kind: e.Kind, Code: e.Code, Stage: e.Stage, Message: redact.String(e.Message), Hint: redact.String(e.Hint), At: at}
}

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code Code, hint, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Code: code, Message: err.Error(), Hint: hint, Err: errors.Unwrap(err)}
}

// KindOf returns the kind of err: the Kind of the first *Error in its chain,
// or KindRetryable for an unclassified error (a network failure, say).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindRetryable
}

// AsError returns err as an *Error, classifying an unknown error as retryable
// with code Unknown.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindRetryable, Code: CodeUnknown, Message: err.Error(), Err: err}
}

// AtStage returns err as an *Error (see AsError) that failed at stage. If
// err already names a stage, a step within stage knew better (the local
// check inside getting a token, say) and err is returned as it is;
// otherwise the result is a copy, so an error value its producer keeps is
// never changed.
func AtStage(stage Stage, err error) *Error {
	e := AsError(err)
	if e == nil || e.Stage != "" {
		return e
	}
	staged := *e
	staged.Stage = stage
	return &staged
}
