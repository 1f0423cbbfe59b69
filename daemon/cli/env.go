package cli

import (
	"context"
	"fmt"
	"strings"
)

func runEnv(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("env", io)
	tf := addTargetFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	t, err := tf.resolve(ctx, io.Getenv)
	if err != nil {
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
