package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/credd-dev/credd/daemon"
)

// ReloadPath is where `credd reload` and the lifecycle hooks ask the daemon
// to re-read its files and apply a handed-off session environment.
const ReloadPath = "/v1/reload"

// ReloadRequest is the body of POST /v1/reload.
type ReloadRequest struct {
	// FromEnv replaces the handed-off session environment with Env (a
	// variable absent from Env is no longer handed off). Without it the
	// previous hand-off is kept. The files are re-read either way.
	FromEnv bool              `json:"fromEnv"`
	Env     map[string]string `json:"env,omitempty"`
	// Trigger names who asked, for status and the log; set by the daemon.
	Trigger string `json:"-"`
}

// ReloadResult is the answer to a reload that was applied.
type ReloadResult struct {
	daemon.ReloadStatus
	// HandedOff names the session's variables now handed over.
	HandedOff []string `json:"handedOff,omitempty"`
	// LoginNeeded names the roles whose device login must be done (or
	// redone) with `credd login` before they can serve.
	LoginNeeded []string `json:"loginNeeded,omitempty"`
}

// ErrRefused wraps the daemon's refusal of a reload; the daemon kept its
// settings. Its message says why.
var ErrRefused = errors.New("the daemon refused the reload")

// Reload asks the daemon to reload. The error wraps ErrNotRunning when no
// daemon answers, ErrRefused when it answered with an error.
func (c Client) Reload(ctx context.Context, req ReloadRequest) (ReloadResult, error) {
	var res ReloadResult
	err := c.Call(ctx, http.MethodPost, ReloadPath, req, &res)
	if ce, ok := errors.AsType[*CallError](err); ok {
		return ReloadResult{}, fmt.Errorf("%w: %s", ErrRefused, ce.Message)
	}
	return res, err
}
