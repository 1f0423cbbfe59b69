package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/login"
)

// loginDaemon is a hand-written fake of the daemon's login routes: it
// records each request and answers with answer.
type loginDaemon struct {
	mu       sync.Mutex
	requests []string // "METHOD path?query body"
	answer   func(w http.ResponseWriter, r *http.Request)
}

func (d *loginDaemon) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.requests = append(d.requests, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(b)))
	d.mu.Unlock()
	d.answer(w, r)
}

func (d *loginDaemon) last() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.requests) == 0 {
		return ""
	}
	return d.requests[len(d.requests)-1]
}

func startLoginDaemon(t *testing.T, d *loginDaemon) control.Client {
	t.Helper()
	dir := stateDir(t)
	srv := control.NewServer(fixedStatus(1), nil)
	for _, p := range []string{"POST " + control.LoginPath, "GET " + control.LoginPath, "POST " + control.LogoutPath} {
		srv.Handle(p, http.HandlerFunc(d.serve))
	}
	start(t, dir, srv)
	return control.Client{StateDir: dir}
}

func TestLoginClientRoundTrip(t *testing.T) {
	state := login.State{Issuer: "https://idp.example", ClientID: "credd", Roles: []string{"admin"}, Status: login.StatusLoggedOut,
		Login: &login.Attempt{ID: 7, Status: login.AttemptPending, UserCode: "ABCD-EFGH", VerificationURI: "https://idp.example/device"}}
	d := &loginDaemon{answer: func(w http.ResponseWriter, r *http.Request) { control.WriteJSON(w, http.StatusOK, state) }}
	c := startLoginDaemon(t, d)
	ctx := context.Background()
	req := control.LoginRequest{Profile: "admin"}

	tests := []struct {
		name string
		call func() (login.State, error)
		want string // the request the daemon saw
	}{
		{"Login posts the profile to the login path", func() (login.State, error) { return c.Login(ctx, req) },
			`POST /v1/login {"profile":"admin"}`},
		{"LoginWait asks for the attempt by its ID", func() (login.State, error) { return c.LoginWait(ctx, req, 7) },
			`GET /v1/login?profile=admin&wait=7`},
		{"LoginWait leaves out an empty profile", func() (login.State, error) { return c.LoginWait(ctx, control.LoginRequest{}, 7) },
			`GET /v1/login?wait=7`},
		{"Logout posts the profile to the logout path", func() (login.State, error) { return c.Logout(ctx, req) },
			`POST /v1/logout {"profile":"admin"}`},
		{"an empty profile is left out of the body", func() (login.State, error) { return c.Login(ctx, control.LoginRequest{}) },
			`POST /v1/login {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if got := d.last(); got != tt.want {
				t.Errorf("the daemon saw %q, want %q", got, tt.want)
			}
			if st.Issuer != state.Issuer || st.Login == nil || st.Login.ID != 7 || st.Login.UserCode != "ABCD-EFGH" || len(st.Roles) != 1 {
				t.Errorf("state = %+v, want %+v", st, state)
			}
		})
	}
}

func TestLoginClientRefusals(t *testing.T) {
	t.Run("the daemon's refusal is a CallError with its hint", func(t *testing.T) {
		d := &loginDaemon{answer: func(w http.ResponseWriter, r *http.Request) {
			control.WriteError(w, http.StatusNotFound, &daemon.Error{Code: "UnknownLogin", Message: `role "x" does not use a device login`, Hint: "pass --profile with one of: admin"})
		}}
		_, err := startLoginDaemon(t, d).Login(context.Background(), control.LoginRequest{Profile: "x"})
		ce, ok := errors.AsType[*control.CallError](err)
		if !ok {
			t.Fatalf("error = %v, want a *CallError", err)
		}
		want := control.CallError{Status: 404, Code: "UnknownLogin", Message: `role "x" does not use a device login: pass --profile with one of: admin`}
		if *ce != want {
			t.Errorf("error = %+v, want %+v", *ce, want)
		}
	})
	t.Run("a daemon without the login routes says to restart it", func(t *testing.T) {
		dir := stateDir(t)
		start(t, dir, control.NewServer(fixedStatus(1), nil))
		c := control.Client{StateDir: dir}
		for name, call := range map[string]func() (login.State, error){
			"Login":     func() (login.State, error) { return c.Login(context.Background(), control.LoginRequest{}) },
			"LoginWait": func() (login.State, error) { return c.LoginWait(context.Background(), control.LoginRequest{}, 1) },
			"Logout":    func() (login.State, error) { return c.Logout(context.Background(), control.LoginRequest{}) },
		} {
			if _, err := call(); err == nil || !strings.Contains(err.Error(), "does not support `credd login`: restart it with a newer credd") {
				t.Errorf("%s error = %v, want one saying to restart the daemon", name, err)
			}
		}
	})
	t.Run("no daemon is ErrNotRunning", func(t *testing.T) {
		_, err := control.Client{StateDir: stateDir(t)}.Login(context.Background(), control.LoginRequest{})
		if !errors.Is(err, control.ErrNotRunning) {
			t.Errorf("error = %v, want ErrNotRunning", err)
		}
	})
}

// TestWireFormat pins the bytes of the control answers that clients of
// older and newer credd versions must read alike.
func TestWireFormat(t *testing.T) {
	tests := []struct {
		name  string
		write func(http.ResponseWriter)
		want  string
	}{
		{"an answer is one line of JSON", func(w http.ResponseWriter) {
			control.WriteJSON(w, http.StatusOK, control.LoginRequest{Profile: "a<b>"})
		}, `{"profile":"a\u003cb\u003e"}` + "\n"},
		{"a refusal is its code and its message with the hint", func(w http.ResponseWriter) {
			control.WriteError(w, http.StatusBadGateway, &daemon.Error{Code: "IdPUnreachable", Message: "the IdP did not answer", Hint: "check --issuer"})
		}, `{"code":"IdPUnreachable","message":"the IdP did not answer: check --issuer"}` + "\n"},
		{"a refusal's secrets are redacted, as in status", func(w http.ResponseWriter) {
			control.WriteError(w, http.StatusBadGateway, &daemon.Error{Code: "IdPError", Message: "invalid_grant (refresh_token=rt-9f8e7d6c5b4a)"})
		}, `{"code":"IdPError","message":"invalid_grant (refresh_token=[redacted])"}` + "\n"},
		{"a refusal without a hint is its message alone", func(w http.ResponseWriter) {
			control.WriteError(w, http.StatusBadRequest, &daemon.Error{Code: "BadRequest", Message: "the body is not a login request"})
		}, `{"code":"BadRequest","message":"the body is not a login request"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
			if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q; want application/json, no-store", ct, cc)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("not JSON: %s", rec.Body)
			}
		})
	}
}
