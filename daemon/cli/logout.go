package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
)

// runLogout asks the running daemon to end a device login: it drops the
// tokens, erases the kept refresh token and stops serving the roles that
// login fed, until the next `credd login`.
func runLogout(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("logout", io)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	profile := fs.String("profile", "", "the role whose login to end, when several roles use different IdPs")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	dir := config.StateDir(*stateDir, io.Getenv)
	client := control.Client{StateDir: dir, Trust: clientTrust(dir, io.Getenv)}
	st, err := client.Logout(ctx, control.LoginRequest{Profile: *profile})
	if err != nil {
		if errors.Is(err, control.ErrNotRunning) {
			return fail(io, "logout", exitDown, err)
		}
		return fail(io, "logout", exitFailure, err)
	}
	fmt.Fprintf(io.Stdout, "Logged out of %s: %s no longer served; run `credd login` to sign in again.\n", st.Issuer, rolesText(st.Roles))
	return exitOK
}
