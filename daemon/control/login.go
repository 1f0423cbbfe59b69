package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/credd-dev/credd/daemon/login"
)

// LoginPath is the control-socket route of `credd login`: POST starts a
// device login (or returns the pending one), GET reports it; with
// ?wait=ID, GET waits up to LoginWaitMax for attempt ID to finish. Both
// answer the login's login.State.
const LoginPath = "/v1/login"

// LoginWaitMax bounds one long-poll of GET /v1/login?wait=ID.
const LoginWaitMax = 25 * time.Second

// LoginStartMax bounds how long POST /v1/login waits for the IdP to start
// a device login.
const LoginStartMax = 30 * time.Second

// LogoutPath is the control-socket route of `credd logout`: POST, with a
// LoginRequest body, ends the login and erases its kept refresh token, and
// answers the login's state afterwards.
const LogoutPath = "/v1/logout"

// LoginRequest is the body of POST /v1/login and POST /v1/logout.
type LoginRequest struct {
	// Profile names the role whose login to start; "" picks the only login
	// (or the default role's).
	Profile string `json:"profile,omitempty"`
}

// Login asks the daemon to start a device login, or to return the one
// pending, and returns its state; state.Login holds the code to show. The
// daemon may take up to LoginStartMax to answer: set Client.Timeout above
// it. The error wraps ErrNotRunning when no daemon answers, and is a
// *CallError when the daemon refused.
func (c Client) Login(ctx context.Context, req LoginRequest) (login.State, error) {
	return c.loginCall(ctx, http.MethodPost, LoginPath, req)
}

// LoginWait waits for login attempt id (state.Login.ID) to end, or up to
// LoginWaitMax, and returns the login's state then: call it again while
// the attempt is still pending. Set Client.Timeout above LoginWaitMax.
// Errors are as Login's.
func (c Client) LoginWait(ctx context.Context, req LoginRequest, id int) (login.State, error) {
	query := url.Values{"wait": {strconv.Itoa(id)}}
	if req.Profile != "" {
		query.Set("profile", req.Profile)
	}
	return c.loginCall(ctx, http.MethodGet, LoginPath+"?"+query.Encode(), nil)
}

// Logout asks the daemon to end a login, erasing its kept refresh token,
// and returns the login's state afterwards. Errors are as Login's.
func (c Client) Logout(ctx context.Context, req LoginRequest) (login.State, error) {
	return c.loginCall(ctx, http.MethodPost, LogoutPath, req)
}

// loginCall sends one login request (nil body for none) and decodes the
// login's state.
func (c Client) loginCall(ctx context.Context, method, path string, req any) (login.State, error) {
	var st login.State
	err := c.Call(ctx, method, path, req, &st)
	if ce, ok := errors.AsType[*CallError](err); ok && ce.Status == http.StatusNotFound && ce.Code == "" {
		// The mux's plain "404 page not found": a daemon without the route.
		return login.State{}, errors.New("this credd daemon does not support `credd login`: restart it with a newer credd")
	}
	return st, err
}
