package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/login"
)

// LoginPath is the control-socket route of `credd login`: POST starts a
// device login (or returns the pending one), GET reports it; with
// ?wait=ID, GET waits up to LoginWaitMax for attempt ID to finish.
const LoginPath = "/v1/login"

// LoginWaitMax bounds one long-poll of GET /v1/login?wait=ID.
const LoginWaitMax = 25 * time.Second

// LoginRequest is the body of POST /v1/login.
type LoginRequest struct {
	// Profile names the role whose login to start; "" picks the only login
	// (or the default role's).
	Profile string `json:"profile,omitempty"`
}

// loginEntry is one login session and the roles it feeds.
type loginEntry struct {
	sess  *login.Session
	roles []string
}

// loginSource returns the role's view of the login session for its issuer
// and client ID, creating the session for the first role that uses it: one
// login feeds every role with the same IdP client.
func (a *Agent) loginSource(rc config.Role) (*login.Source, error) {
	for _, e := range a.logins {
		st := e.sess.State()
		if st.Issuer == rc.Issuer && st.ClientID == rc.ClientID {
			e.roles = append(e.roles, rc.Name)
			return e.sess.Source(), nil
		}
	}
	sess, err := login.New(login.Options{
		Issuer:       rc.Issuer,
		ClientID:     rc.ClientID,
		ClientSecret: rc.ClientSecret,
		Scopes:       strings.Fields(rc.Scopes),
		Clock:        a.opts.Clock,
		Logger:       a.log,
	})
	if err != nil {
		return nil, err
	}
	a.logins = append(a.logins, &loginEntry{sess: sess, roles: []string{rc.Name}})
	a.log.Info("device login configured: run `credd login` to sign in", "component", "agent",
		"issuer", rc.Issuer, "client_id", rc.ClientID)
	return sess.Source(), nil
}

// pickLogin finds the login for a profile.
func (a *Agent) pickLogin(profile string) (*loginEntry, *daemon.Error) {
	if len(a.logins) == 0 {
		return nil, &daemon.Error{Code: "NoLogin", Message: "no role uses --token-source login",
			Hint: "start the daemon with --token-source login --issuer URL --client-id ID"}
	}
	if profile == "" {
		if len(a.logins) == 1 {
			return a.logins[0], nil
		}
		profile = config.DefaultRoleName
	}
	var names []string
	for _, e := range a.logins {
		for _, r := range e.roles {
			if r == profile {
				return e, nil
			}
		}
		names = append(names, e.roles...)
	}
	return nil, &daemon.Error{Code: "UnknownLogin",
		Message: fmt.Sprintf("role %q does not use a device login", profile),
		Hint:    "pass --profile with one of: " + strings.Join(names, ", ")}
}

func (e *loginEntry) state() login.State {
	st := e.sess.State()
	st.Roles = e.roles
	return st
}

// routeLogin adds the login routes to the control socket.
func (a *Agent) routeLogin() {
	a.control.Handle("POST "+LoginPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req LoginRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeControlError(w, http.StatusBadRequest, &daemon.Error{Code: "BadRequest", Message: "the body is not a login request"})
			return
		}
		e, derr := a.pickLogin(req.Profile)
		if derr != nil {
			writeControlError(w, http.StatusNotFound, derr)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if _, err := e.sess.Start(ctx); err != nil {
			writeControlError(w, http.StatusBadGateway, daemon.AsError(err))
			return
		}
		writeControlJSON(w, http.StatusOK, e.state())
	}))
	a.control.Handle("GET "+LoginPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, derr := a.pickLogin(r.URL.Query().Get("profile"))
		if derr != nil {
			writeControlError(w, http.StatusNotFound, derr)
			return
		}
		if v := r.URL.Query().Get("wait"); v != "" {
			id, err := strconv.Atoi(v)
			if err != nil {
				writeControlError(w, http.StatusBadRequest, &daemon.Error{Code: "BadRequest", Message: "wait must be a login attempt ID"})
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), LoginWaitMax)
			defer cancel()
			e.sess.Wait(ctx, id)
		}
		writeControlJSON(w, http.StatusOK, e.state())
	}))
}

// loginStatus shows a login that ended in the role's status even while the
// last AWS credentials are still served (the refresher only learns of it at
// its next refresh).
func (r *role) loginStatus(rs *daemon.RoleStatus) {
	if r.login == nil || rs.LastError != nil {
		return
	}
	if st := r.login.State(); st.Status == login.StatusLoginRequired && st.LastError != nil {
		rs.LastError = st.LastError
	}
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeControlError(w http.ResponseWriter, status int, e *daemon.Error) {
	msg := e.Message
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	writeControlJSON(w, status, map[string]string{"code": e.Code, "message": msg})
}
