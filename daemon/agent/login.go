package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/login"
)

// loginEntry is one login session and the roles it feeds.
type loginEntry struct {
	sess  *login.Session
	roles []string
}

// loginSource returns the role's view of the login session for its issuer
// and client ID, creating the session for the first role that uses it: one
// login feeds every role with the same IdP client.
// Which roles a session feeds is recorded by relinkLogins once the roles
// are in place. a.logins is guarded by a.mu, as login requests read it
// while a reload adds to it.
func (a *Agent) loginSource(rc config.Role) (*login.Source, error) {
	opts := login.Options{
		Issuer:       rc.Issuer,
		ClientID:     rc.ClientID,
		ClientSecret: rc.ClientSecret,
		Scopes:       strings.Fields(rc.Scopes),
	}
	var store *login.FileStore
	if a.opts.Config.KeepLogin {
		store = login.NewFileStore(a.opts.Config.StateDir, rc.Issuer, rc.ClientID)
	}
	return a.sharedLogin(opts, store)
}

// githubLoginSource is loginSource for GitHub's device flow at
// rc.GitHubURL, whose token the github source presents to the bridge.
func (a *Agent) githubLoginSource(rc config.Role) (*login.Source, error) {
	opts := login.Options{
		GitHub:    true,
		GitHubURL: rc.GitHubURL,
		ClientID:  rc.ClientID,
		Scopes:    strings.Fields(rc.Scopes),
	}
	var store *login.FileStore
	if a.opts.Config.KeepLogin {
		store = login.NewGitHubFileStore(a.opts.Config.StateDir, rc.GitHubURL, rc.ClientID)
	}
	return a.sharedLogin(opts, store)
}

// sharedLogin returns the session for opts' issuer (GitHub's URL for a
// GitHub login) and client ID, creating it for the first role that uses it.
func (a *Agent) sharedLogin(opts login.Options, store *login.FileStore) (*login.Source, error) {
	issuer := opts.Issuer
	if opts.GitHub {
		issuer = login.NormalizeGitHubURL(opts.GitHubURL)
	}
	a.mu.Lock()
	for _, e := range a.logins {
		st := e.sess.State()
		if st.Issuer == issuer && st.ClientID == opts.ClientID {
			a.mu.Unlock()
			return e.sess.Source(), nil
		}
	}
	a.mu.Unlock()
	opts.Clock, opts.Logger = a.opts.Clock, a.log
	kept := ""
	if store != nil {
		// The state dir is created and checked (owner, mode) before the
		// session first writes there, at its first login.
		opts.Store, kept = store, store.Path()
	}
	sess, err := login.New(opts)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.logins = append(a.logins, &loginEntry{sess: sess})
	a.mu.Unlock()
	a.log.Info("device login configured: run `credd login` to sign in", "component", "agent",
		"issuer", issuer, "client_id", opts.ClientID, "kept_in", kept)
	return sess.Source(), nil
}

// logout ends a login and stops serving the credentials of the roles it
// fed: a logout means the user wants out, not "until they expire".
func (a *Agent) logout(e *loginEntry) error {
	err := e.sess.Logout()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, sl := range a.slots {
		// A role being rebuilt by a reload is fed by the same session.
		for _, r := range []*role{sl.active, sl.pending} {
			if r != nil && r.login == e.sess {
				r.refresher.Forget()
			}
		}
	}
	return err
}

// pickLogin finds the login for a profile ("" for the only login, or the
// default role's). Its refusals tell apart a role that does not exist, a
// role that does not use a device login and a daemon with no login at all,
// as each needs another fix.
func (a *Agent) pickLogin(profile string) (*loginEntry, *daemon.Error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var served []string
	for _, s := range a.slots {
		served = append(served, s.name)
	}
	if profile != "" && !slices.Contains(served, profile) {
		return nil, &daemon.Error{Code: control.CodeUnknownLogin,
			Message: fmt.Sprintf("no role named %q; roles: %s", profile, orNone(served)),
			Hint:    "pass --profile with one of them (`credd status` lists them with their token sources), or leave --profile out for the default role"}
	}
	var loginRoles []string
	for _, e := range a.logins {
		loginRoles = append(loginRoles, e.roles...)
	}
	if len(a.logins) == 0 || (len(loginRoles) == 0 && profile != "") {
		msg := "no role uses --token-source login"
		if profile != "" {
			msg = fmt.Sprintf("role %q does not use --token-source login, and no other role does", profile)
		}
		return nil, &daemon.Error{Code: control.CodeNoLogin, Message: msg,
			Hint: "a role signs in with `credd login` only when the daemon runs it with --token-source login --issuer URL --client-id ID, or with --token-source github --client-id ID (a GitHub App's) and no GITHUB_TOKEN"}
	}
	name := profile
	if name == "" {
		if len(a.logins) == 1 {
			return a.logins[0], nil
		}
		name = config.DefaultRoleName
	}
	for _, e := range a.logins {
		if slices.Contains(e.roles, name) {
			return e, nil
		}
	}
	msg := fmt.Sprintf("role %q does not use --token-source login", name)
	if profile == "" {
		msg = "several roles sign in to different IdPs and the default role is none of them"
	}
	return nil, &daemon.Error{Code: control.CodeUnknownLogin, Message: msg,
		Hint: "pass --profile with a role that uses --token-source login: " + orNone(loginRoles)}
}

// orNone lists names for a message.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (a *Agent) loginState(e *loginEntry) login.State {
	st := e.sess.State()
	a.mu.Lock()
	st.Roles = slices.Clone(e.roles)
	a.mu.Unlock()
	return st
}

// routeLogin adds the login routes (control.LoginPath, control.LogoutPath)
// to the control socket.
func (a *Agent) routeLogin() {
	a.control.Handle("POST "+control.LoginPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req control.LoginRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			control.WriteError(w, http.StatusBadRequest, &daemon.Error{Code: control.CodeBadRequest, Message: "the body is not a login request"})
			return
		}
		e, derr := a.pickLogin(req.Profile)
		if derr != nil {
			control.WriteError(w, http.StatusNotFound, derr)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), control.LoginStartMax)
		defer cancel()
		if _, err := e.sess.Start(ctx); err != nil {
			control.WriteError(w, http.StatusBadGateway, daemon.AsError(err))
			return
		}
		control.WriteJSON(w, http.StatusOK, a.loginState(e))
	}))
	a.control.Handle("POST "+control.LogoutPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req control.LoginRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			control.WriteError(w, http.StatusBadRequest, &daemon.Error{Code: control.CodeBadRequest, Message: "the body is not a logout request"})
			return
		}
		e, derr := a.pickLogin(req.Profile)
		if derr != nil {
			control.WriteError(w, http.StatusNotFound, derr)
			return
		}
		if err := a.logout(e); err != nil {
			// Logged out in memory; only the file stayed behind.
			control.WriteError(w, http.StatusInternalServerError, &daemon.Error{Code: login.CodeNotKept,
				Message: "logged out, but " + err.Error()})
			return
		}
		control.WriteJSON(w, http.StatusOK, a.loginState(e))
	}))
	a.control.Handle("GET "+control.LoginPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, derr := a.pickLogin(r.URL.Query().Get("profile"))
		if derr != nil {
			control.WriteError(w, http.StatusNotFound, derr)
			return
		}
		if v := r.URL.Query().Get("wait"); v != "" {
			id, err := strconv.Atoi(v)
			if err != nil {
				control.WriteError(w, http.StatusBadRequest, &daemon.Error{Code: control.CodeBadRequest, Message: "wait must be a login attempt ID"})
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), control.LoginWaitMax)
			defer cancel()
			e.sess.Wait(ctx, id)
		}
		control.WriteJSON(w, http.StatusOK, a.loginState(e))
	}))
}

// loginStatus shows a login that ended (or was logged out of) in the
// role's status even while the last AWS credentials are still served (the
// refresher only learns of it at its next refresh), and a kept login being
// resumed while the role waits for it.
func (r *role) loginStatus(rs *daemon.RoleStatus) {
	if r.login == nil || rs.LastError != nil {
		return
	}
	st := r.login.State()
	switch {
	case st.Status == login.StatusResuming && !rs.Serving:
		rs.LastError = st.LastError // "resuming the kept login ..."
	case st.Status != login.StatusLoggedIn && st.LastError != nil && st.LastError.Code == login.CodeLoginRequired:
		rs.LastError = st.LastError
	}
}
