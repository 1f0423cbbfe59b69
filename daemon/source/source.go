// Package source provides credd's identity-token sources: a file, the GitHub
// Actions ID-token endpoint, a command, a function, and a decorator that
// checks what they return.
package source

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/token"
)

// Source hands out identity tokens. Token returns the newest token the
// source has; errors are *daemon.Error and never contain the token.
type Source interface {
	Token(ctx context.Context) (string, error)
	// Name is the source's kind as the --token-source flag spells it.
	Name() string
}

// Notifier is implemented by sources that can tell when a new token may be
// available, so a refresher need not wait for its next tick.
type Notifier interface {
	Changed() <-chan struct{}
}

func withComponent(l *slog.Logger, name string) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "source", "source", name)
}

// oneLine rejects a token of several lines with a hint that names its
// producer, which token.Parse cannot do: must is, say, "the token file must
// hold".
func oneLine(tok, must string) error {
	if !strings.ContainsAny(tok, "\r\n") {
		return nil
	}
	lines := len(strings.FieldsFunc(tok, func(r rune) bool { return r == '\n' || r == '\r' }))
	return &daemon.Error{
		Kind:    daemon.KindPermanent,
		Code:    token.CodeMalformed,
		Message: fmt.Sprintf("the token has %d lines", lines),
		Hint:    fmt.Sprintf("%s one JWT; got %d lines", must, lines),
	}
}

// notify sends on a buffered channel without blocking: a pending signal
// already says "look again".
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
