package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
)

// reloadRetry is how often --wait asks again for a daemon not answering yet.
const reloadRetry = 200 * time.Millisecond

func runReload(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("reload", io)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: credd reload [--from-env] [--wait DURATION] [--json] [--state-dir D]

Asks the running daemon to re-read its --config and --defaults-file and
apply the result with no gap in serving (SIGHUP does the same). With
--from-env it also hands over this session's environment: every CREDD_*
setting, AWS_ROLE_ARN, AWS_REGION, AWS_DEFAULT_REGION, GITHUB_USER,
CODESPACE_NAME, GITHUB_REPOSITORY, GITHUB_TOKEN, ACTIONS_ID_TOKEN_REQUEST_*
and a few more; it replaces what an earlier --from-env handed over.
Exit 0 applied, 1 refused (the daemon keeps its settings), 2 not running.

Flags:`)
		fs.PrintDefaults()
	}
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	fromEnv := fs.Bool("from-env", false, "hand this session's settings and identity variables to the daemon")
	wait := fs.Duration("wait", 0, "how long to wait for the daemon to answer, e.g. 20s right after it was started")
	asJSON := fs.Bool("json", false, "print the daemon's answer as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(io, "reload", exitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	req := control.ReloadRequest{FromEnv: *fromEnv}
	if *fromEnv {
		req.Env = config.HandOffEnv(os.Environ())
	}
	dir := config.StateDir(*stateDir, io.Getenv)
	client := control.Client{StateDir: dir, Trust: clientTrust(dir, io.Getenv), Timeout: 30 * time.Second}
	res, err := reloadWithin(ctx, client, req, *wait)
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return fail(io, "reload", exitDown, err)
	case errors.Is(err, control.ErrRefused):
		return fail(io, "reload", exitFailure, err)
	case err != nil:
		return fail(io, "reload", exitFailure, err)
	}
	if *asJSON {
		writeJSON(io.Stdout, res)
		return exitOK
	}
	printReload(io, res)
	return exitOK
}

// reloadWithin sends the reload, retrying while no daemon answers until
// wait has passed: lifecycle hooks run right after the daemon was started.
func reloadWithin(ctx context.Context, c control.Client, req control.ReloadRequest, wait time.Duration) (control.ReloadResult, error) {
	deadline := time.Now().Add(wait)
	for {
		res, err := c.Reload(ctx, req)
		if !errors.Is(err, control.ErrNotRunning) || !time.Now().Before(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(reloadRetry):
		}
	}
}

// printReload prints one line per role, then what needs a restart, then
// one line per role whose login is needed.
func printReload(io IO, res control.ReloadResult) {
	for _, c := range res.Changes {
		fmt.Fprintf(io.Stdout, "credd: role %s: %s\n", c.Role, describeChange(c))
	}
	if len(res.RestartNeeded) > 0 {
		fmt.Fprintf(io.Stdout, "credd: restart the daemon to apply %s (the rest is applied)\n", strings.Join(res.RestartNeeded, ", "))
	}
	for _, r := range res.LoginNeeded {
		fmt.Fprintf(io.Stdout, "credd: role %s needs a login: run credd login%s\n", r, profileFlag(r))
	}
}

func describeChange(c daemon.RoleChange) string {
	settings := ""
	if len(c.Settings) > 0 {
		settings = " (" + strings.Join(c.Settings, ", ") + ")"
	}
	switch c.Change {
	case daemon.ChangeUpdated:
		return "updated" + settings + "; the current credentials are served until the new ones arrive"
	case daemon.ChangeRoleARN:
		return "role changed" + settings + "; the old role's credentials are no longer served"
	case daemon.ChangeAdded:
		return "added"
	case daemon.ChangeRemoved:
		return "removed; its path now answers 404"
	}
	return c.Change
}

func profileFlag(role string) string {
	if role == config.DefaultRoleName {
		return ""
	}
	return " --profile " + role
}
