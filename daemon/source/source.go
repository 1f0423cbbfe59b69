// Package source provides credd's identity-token sources: a file, the GitHub
// Actions ID-token endpoint, a command, a credd-bridge (github), a function,
// and a decorator that checks what they return.
package source

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/token"
)

// Error codes of the token sources. A source also returns token.Code*
// codes for a token it can tell is malformed.
const (
	// CodeFileMissing: the token file does not exist (yet).
	CodeFileMissing daemon.Code = "TokenFileMissing"
	// CodeFileEmpty: the token file holds nothing but whitespace.
	CodeFileEmpty daemon.Code = "TokenFileEmpty"
	// CodeFileUnreadable: the token file cannot be read (permissions, a
	// directory, an I/O error).
	CodeFileUnreadable daemon.Code = "TokenFileUnreadable"
	// CodeCommandFailed: the token command is not set, failed, or timed out.
	CodeCommandFailed daemon.Code = "TokenCommandFailed"
	// CodeCommandEmpty: the token command printed nothing.
	CodeCommandEmpty daemon.Code = "TokenCommandEmpty"
	// CodeActionsUnavailable: the GitHub Actions ID-token endpoint is not
	// configured (its two variables are not set) or its URL is invalid.
	CodeActionsUnavailable daemon.Code = "ActionsTokenUnavailable"
	// CodeActionsRequestFailed: the request to the Actions endpoint failed.
	CodeActionsRequestFailed daemon.Code = "ActionsTokenRequestFailed"
	// CodeActionsDenied: the Actions endpoint refused the request token
	// (401 or 403: the job lacks `id-token: write`).
	CodeActionsDenied daemon.Code = "ActionsTokenDenied"
	// CodeActionsMalformed: the Actions endpoint's answer holds no token.
	CodeActionsMalformed daemon.Code = "ActionsTokenMalformed"
	// CodeGitHubTokenMissing: the github source has no GitHub token to
	// present to the bridge (no GITHUB_TOKEN handed over, no login).
	CodeGitHubTokenMissing daemon.Code = "GitHubTokenMissing"
	// CodeBridgeMisconfigured: the bridge URL or repository is missing or
	// unusable, or the bridge URL does not lead to a bridge (404).
	CodeBridgeMisconfigured daemon.Code = "BridgeMisconfigured"
	// CodeBridgeRefused: the bridge refused the request (400, 403: a rule
	// such as the repository allow-list or the permission; its message
	// names it).
	CodeBridgeRefused daemon.Code = "BridgeRefused"
	// CodeBridgeGitHubTokenRefused: GitHub refused the GitHub token the
	// bridge checked (401: expired, revoked, not a token).
	CodeBridgeGitHubTokenRefused daemon.Code = "BridgeGitHubTokenRefused"
	// CodeBridgeUnavailable: the bridge cannot be reached, timed out, or
	// answered 5xx (GitHub unreachable behind it, say).
	CodeBridgeUnavailable daemon.Code = "BridgeUnavailable"
	// CodeBridgeRateLimited: the bridge answered 429 (its per-user limit,
	// or GitHub's rate limit for the token).
	CodeBridgeRateLimited daemon.Code = "BridgeRateLimited"
	// CodeBridgeMalformed: the bridge's 200 answer holds no token.
	CodeBridgeMalformed daemon.Code = "BridgeMalformed"
	// CodeFailed: a Func source failed without classifying its error.
	CodeFailed daemon.Code = "TokenSourceFailed"
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
