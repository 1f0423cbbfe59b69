package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/termsafe"
)

// ecsHelp is what `credd ecs env -h` says beyond the flags.
const ecsHelp = `Use it as  eval "$(credd ecs env)"  in a POSIX shell.

Prints export lines for the mirrored ECS task definition's container: its
environment, then its secrets, each valueFrom resolved now from SSM
Parameter Store or Secrets Manager with the default role's credentials,
as ECS does when it starts the task. The daemon must run with
--ecs-task-definition FAMILY[:REVISION].

The values include secrets: they are printed, or written to the --output
file (mode 0600), never logged. A variable that cannot be resolved is
named on stderr with its valueFrom and what the role lacks; the others are
printed, followed by a line that makes eval fail (exit 1).`

// ecsEvalFails is what a failing `credd ecs env` ends its stdout with, so
// that eval "$(credd ecs env)" fails too.
const ecsEvalFails = "false # credd ecs env failed: see its message on stderr"

func runECS(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 || args[0] != "env" {
		what := "no subcommand"
		if len(args) > 0 {
			what = fmt.Sprintf("unknown subcommand %q", args[0])
		}
		fmt.Fprintf(io.Stderr, "credd ecs: %s: the one subcommand is env, as in  eval \"$(credd ecs env)\"  (credd ecs env -h)\n", what)
		return exitUsage
	}
	return runECSEnv(ctx, args[1:], io)
}

func runECSEnv(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("ecs env", io)
	setHelp(fs, "ecs env", ecsHelp)
	container := fs.String("container", "", "a container of the task definition (default: the mirrored one: --ecs-container, else the first essential container)")
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	output := fs.String("output", "", "write the export lines to this file (mode 0600, replaced whole) instead of stdout, to source it from shells started later")
	wait := fs.Duration("wait", 0, "wait up to this long for the daemon and its first fetch of the task definition, e.g. 30s at container start (default: no wait)")
	if code, ok := parseFlags(fs, args); !ok {
		if code != exitOK {
			fmt.Fprintln(io.Stdout, ecsEvalFails)
		}
		return code
	}
	failed := func(code int, err error) int {
		if *output == "" {
			fmt.Fprintln(io.Stdout, ecsEvalFails)
		}
		return fail(io, "ecs env", code, err)
	}
	switch {
	case fs.NArg() > 0:
		return failed(exitUsage, fmt.Errorf("unexpected argument %q: credd ecs env takes only flags (credd ecs env -h lists them)", fs.Arg(0)))
	case *wait < 0:
		return failed(exitUsage, fmt.Errorf("--wait %s is negative: give how long to wait, such as 30s, or 0 not to wait", *wait))
	}
	dir := config.StateDir(*stateDir, io.Getenv)
	c := control.Client{StateDir: dir, Trust: clientTrust(dir, io.Getenv), Timeout: 2 * time.Minute}
	res, err := ecsEnvWithin(ctx, c, control.ECSEnvRequest{Container: *container}, *wait)
	if err != nil {
		return failed(exitFailure, err)
	}
	lines, skipped := ecsExportLines(res)
	for _, s := range skipped {
		fmt.Fprintf(io.Stderr, "credd ecs env: warning: %s\n", s)
	}
	for _, f := range res.Failures {
		msg := fmt.Sprintf("%s: %s", f.Name, f.Reason)
		if f.ValueFrom != "" {
			msg = fmt.Sprintf("%s (valueFrom %s): %s", f.Name, f.ValueFrom, f.Reason)
		}
		if f.Hint != "" {
			msg += "; " + f.Hint
		}
		fmt.Fprintf(io.Stderr, "credd ecs env: %s\n", termsafe.Escape(msg))
	}
	if len(res.Failures) > 0 {
		lines += fmt.Sprintf("false # credd ecs env: %d of the container's variables could not be resolved: see stderr\n", len(res.Failures))
	}
	if *output != "" {
		path, err := filepath.Abs(*output)
		if err != nil {
			return failed(exitFailure, err)
		}
		if err := authtoken.WriteSecretFile(filepath.Dir(path), filepath.Base(path), []byte(lines)); err != nil {
			return failed(exitFailure, fmt.Errorf("write %s: %w", path, err))
		}
		fmt.Fprintf(io.Stderr, "credd ecs env: wrote %d variables of container %s to %s (mode 0600); load them with  . %s\n",
			len(res.Vars), res.Container, path, shellQuote(path))
	} else {
		fmt.Fprint(io.Stdout, lines)
	}
	if len(res.Failures) > 0 {
		return exitFailure
	}
	return exitOK
}

// ecsEnvWithin asks the daemon, and while wait lasts asks again as long as
// the daemon is not running yet or has not fetched the task definition.
func ecsEnvWithin(ctx context.Context, c control.Client, req control.ECSEnvRequest, wait time.Duration) (control.ECSEnvResult, error) {
	deadline := time.Now().Add(wait)
	for {
		res, err := c.ECSEnv(ctx, req)
		ce, refused := errors.AsType[*control.CallError](err)
		retry := errors.Is(err, control.ErrNotRunning) || (refused && ce.Code == string(control.CodeECSNotFetched))
		if err == nil || !retry || !time.Now().Before(deadline) {
			if errors.Is(err, control.ErrNotRunning) {
				return res, fmt.Errorf("%w, with --ecs-task-definition FAMILY[:REVISION]; right after starting it, pass --wait 30s", err)
			}
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// shellName is a name a POSIX shell can export.
var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ecsExportLines renders the variables for a POSIX shell. A name no shell
// can export (ECS passes it to the container anyway) is left out and said.
func ecsExportLines(res control.ECSEnvResult) (lines string, skipped []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "# credd ecs env: container %s of %s\n", oneLine(res.Container), oneLine(res.TaskDefinition))
	// What ECS sets in every container, first.
	if res.MetadataURIV4 != "" {
		fmt.Fprintf(&b, "export ECS_CONTAINER_METADATA_URI_V4=%s\n", shellQuote(res.MetadataURIV4))
		fmt.Fprintf(&b, "export ECS_CONTAINER_METADATA_URI=%s\n", shellQuote(res.MetadataURI))
	}
	for _, v := range res.Vars {
		if !shellName.MatchString(v.Name) {
			skipped = append(skipped, fmt.Sprintf("%q is not a name a POSIX shell can export: left out", termsafe.Escape(v.Name)))
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", v.Name, shellQuote(v.Value))
	}
	return b.String(), skipped
}

// oneLine keeps a value in a shell comment on its line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
