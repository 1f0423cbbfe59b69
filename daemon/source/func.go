package source

import (
	"context"
	"errors"

	"github.com/credd-dev/credd/daemon"
)

// Func adapts a function to Source, for in-process issuers such as the
// sandbox's.
type Func struct {
	SourceName string
	Fn         func(ctx context.Context) (string, error)
}

// Name is SourceName, or "func" when it is empty.
func (f Func) Name() string {
	if f.SourceName == "" {
		return "func"
	}
	return f.SourceName
}

// Token calls Fn. An error that is not a *daemon.Error is classified as
// retryable with code CodeFailed.
func (f Func) Token(ctx context.Context) (string, error) {
	if f.Fn == nil {
		return "", &daemon.Error{Kind: daemon.KindPermanent, Code: CodeFailed, Message: f.Name() + " source has no function"}
	}
	tok, err := f.Fn(ctx)
	if err == nil {
		return tok, nil
	}
	var e *daemon.Error
	if errors.As(err, &e) {
		return "", err
	}
	return "", daemon.Errorf(daemon.KindRetryable, CodeFailed, "", "%s source: %w", f.Name(), err)
}

var _ Source = Func{}
