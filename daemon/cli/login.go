package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/login"
)

// runLogin asks the running daemon to start a device-code login, shows the
// user where to approve it, and waits for the outcome. The daemon runs the
// flow and keeps the tokens, so one login serves every process, and a second
// `credd login` while one is pending shows the same code.
func runLogin(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("login", io)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	profile := fs.String("profile", "", "the role whose login to start, when several roles use different IdPs")
	noWait := fs.Bool("no-wait", false, "print the code and return without waiting for the approval")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	// Long enough for the daemon to reach the IdP, or for one long-poll.
	dir := config.StateDir(*stateDir, io.Getenv)
	client := control.Client{StateDir: dir, Trust: clientTrust(dir, io.Getenv), Timeout: control.LoginWaitMax + 15*time.Second}
	req := control.LoginRequest{Profile: *profile}

	st, err := client.Login(ctx, req)
	if err != nil {
		if errors.Is(err, control.ErrNotRunning) {
			return fail(io, "login", exitDown, err)
		}
		if ce, ok := errors.AsType[*control.CallError](err); ok && ce.Message != "" {
			// The daemon's refusal says what to do (no role named so,
			// or one that does not sign in); its code adds nothing for
			// a person.
			return fail(io, "login", exitFailure, errors.New(ce.Message))
		}
		return fail(io, "login", exitFailure, err)
	}
	a := st.Login
	if a == nil {
		return fail(io, "login", exitFailure, errors.New("the daemon started no login"))
	}
	fmt.Fprintf(io.Stdout, "To sign in to %s, open\n\n    %s\n\nand enter the code\n\n    %s\n\n", st.Issuer, a.VerificationURI, a.UserCode)
	if a.VerificationURIComplete != "" && a.VerificationURIComplete != a.VerificationURI {
		fmt.Fprintf(io.Stdout, "(or open %s, which has the code filled in)\n\n", a.VerificationURIComplete)
	}
	if *noWait {
		fmt.Fprintln(io.Stdout, "The daemon waits for the approval; `credd login` again shows this code, `credd status` the outcome.")
		return exitOK
	}
	if !a.Expires.IsZero() {
		fmt.Fprintf(io.Stdout, "Waiting for the approval (the code expires in %s)...\n", time.Until(a.Expires).Round(time.Second))
	} else {
		fmt.Fprintln(io.Stdout, "Waiting for the approval...")
	}

	for {
		st, err = client.LoginWait(ctx, req, a.ID)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(io.Stderr, "credd login: stopped waiting; the daemon keeps waiting for the approval until the code expires")
				return exitFailure
			}
			return fail(io, "login", exitFailure, err)
		}
		if st.Login == nil || st.Login.ID != a.ID {
			return fail(io, "login", exitFailure, errors.New("another login replaced this one: run `credd login` again"))
		}
		if st.Login.Status != login.AttemptPending {
			break
		}
	}
	switch st.Login.Status {
	case login.AttemptApproved:
		fmt.Fprintf(io.Stdout, "Logged in as %s; credentials for %s are being fetched (`credd status` shows them).\n", st.Subject, rolesText(st.Roles))
		return exitOK
	case login.AttemptDenied:
		fmt.Fprintln(io.Stdout, "Login denied at the identity provider.")
	case login.AttemptExpired:
		fmt.Fprintln(io.Stdout, "Login expired: the code was not approved in time. Run `credd login` again.")
	case login.AttemptCanceled:
		fmt.Fprintln(io.Stdout, "Login canceled by `credd logout`.")
	default:
		fmt.Fprintln(io.Stdout, "Login failed.")
	}
	if e := st.Login.Error; e != nil {
		msg := e.Message
		if e.Hint != "" {
			msg += ": " + e.Hint
		}
		fmt.Fprintf(io.Stderr, "credd login: %s\n", msg)
	}
	return exitFailure
}

func rolesText(roles []string) string {
	switch len(roles) {
	case 0:
		return "its roles"
	case 1:
		return "role " + roles[0]
	}
	return "roles " + strings.Join(roles, ", ")
}
