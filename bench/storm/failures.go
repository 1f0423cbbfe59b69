package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// failure kinds, as counted by addFailure into loaddoc.Failures.
const (
	failUnanswered = "unanswered"
	failTimeout    = "timeout"
	failOther      = "other"
)

// addFailure counts err in f, under its kind.
func addFailure(f *loaddoc.Failures, err error) {
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
