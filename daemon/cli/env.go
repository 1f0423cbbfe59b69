package cli

import (
	"context"
	"fmt"
	"strings"
)

// envHelp is what `credd env -h` says beyond the flags.
const envHelp = `Use it as  eval "$(credd env)"  in a POSIX shell.

When the daemon is not running, it prints the settings a daemon started
later with the same flags will use, and warns on stderr. Right after
` + "`credd daemon &`" + `, pass --wait 10s: it waits until the daemon has written
its token and answers, instead of printing a token that is about to change.

When credd env fails, the message goes to stderr and stdout gets the line
` + "`" + evalFails + "`" + `, so that  eval "$(credd env)"  fails too instead of
quietly setting nothing (exit 1, or 2 for a flag mistake).`

// evalFails is what a failing `credd env` prints on stdout: eval runs it,
// and returns non-zero.
const evalFails = "false # credd env failed: see its message on stderr"

func runEnv(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("env", io)
	setHelp(fs, "env", envHelp)
	tf := addTargetFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		if code != exitOK {
			fmt.Fprintln(io.Stdout, evalFails)
		}
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(io.Stdout, evalFails)
		return fail(io, "env", exitUsage, fmt.Errorf("unexpected argument %q: credd env takes only flags (credd env -h lists them)", fs.Arg(0)))
	}
	if err := tf.check(); err != nil {
		fmt.Fprintln(io.Stdout, evalFails)
		return fail(io, "env", exitUsage, err)
	}
	t, err := tf.resolve(ctx, io.Getenv)
	if err != nil {
		fmt.Fprintln(io.Stdout, evalFails)
		return fail(io, "env", exitFailure, err)
	}
	if t.Warning != "" {
		fmt.Fprintf(io.Stderr, "credd env: warning: %s\n", t.Warning)
	}
	fmt.Fprint(io.Stdout, exportLines(t))
	return exitOK
}

// exportLines renders the client environment for a POSIX shell, for
// `eval "$(credd env)"`.
func exportLines(t target) string {
	var b strings.Builder
	for _, kv := range t.vars() {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	for _, name := range unsetVars {
		fmt.Fprintf(&b, "unset %s\n", name)
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
