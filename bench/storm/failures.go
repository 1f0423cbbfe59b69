package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// failures counts the requests that got no HTTP response, sorted by why:
// the server dropping a connection it had accepted is a different bug from a
// slow answer, and from a client that could not even connect.
type failures struct {
	Errors      int    `json:"errors"`       // all of them: the sum of the three below
	Unanswered  int    `json:"unanswered"`   // closed or reset before any response
	Timeouts    int    `json:"timeouts"`     // the client gave up waiting
	OtherErrors int    `json:"other_errors"` // anything else (refused, no descriptors…)
	FirstError  string `json:"first_error,omitempty"`
}

// failure kinds, as counted by failures.add.
const (
	failUnanswered = "unanswered"
	failTimeout    = "timeout"
	failOther      = "other"
)

// add counts err under its kind.
func (f *failures) add(err error) {
	f.Errors++
	if f.FirstError == "" {
		f.FirstError = err.Error()
	}
	switch classify(err) {
	case failUnanswered:
		f.Unanswered++
	case failTimeout:
		f.Timeouts++
	default:
		f.OtherErrors++
	}
}

// classify sorts an error from http.Client.Do, or from reading the body.
func classify(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return failTimeout
	}
	// net/http's transport hands back the read error of a connection the
	// server closed before answering, unwrappable (transportReadFromServerError
	// and nothingWrittenError both have Unwrap, net/http/transport.go); the
	// idle-connection one is an unexported sentinel, errServerClosedIdle,
	// so only its text can be matched.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return failUnanswered
	}
	msg := err.Error()
	for _, s := range []string{"server closed idle connection", "connection reset by peer", "broken pipe"} {
		if strings.Contains(msg, s) {
			return failUnanswered
		}
	}
	return failOther
}
