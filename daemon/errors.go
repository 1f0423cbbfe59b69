package daemon

import (
	"errors"
	"fmt"
)

// Kind sorts failures by what the refresher should do about them.
type Kind string

const (
	// KindRetryable: throttling, 5xx, IDPCommunicationError, network trouble.
	// Retry with backoff.
	KindRetryable Kind = "retryable"
	// KindNewToken: the identity token was refused as invalid or expired.
	// Fetch a new token, then try a few more times at most.
	KindNewToken Kind = "new-token"
	// KindPermanent: AccessDenied, IDPRejectedClaim, MalformedPolicyDocument,
	// a bad configuration or token. Retrying will not help.
	KindPermanent Kind = "permanent"
)

// Error is a classified failure with a hint that tells the user what to do.
// Message and Hint never contain secrets.
type Error struct {
	Kind Kind
	// Code is a short stable identifier: an STS error code such as
	// "AccessDenied", or one of credd's own such as "TokenFileMissing".
	Code    string
	Message string
	// Hint says what to do next.
	Hint string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code, hint, format string, args ...any) *Error {
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
// with code "Unknown".
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindRetryable, Code: "Unknown", Message: err.Error(), Err: err}
}
