package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
)

func runExec(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("exec", io)
	setHelp(fs, "exec", "Run as  credd exec [flags] -- CMD [ARGS...]: CMD gets the variables credd env prints,\nand credd exits with CMD's exit code.")
	tf := addTargetFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return fail(io, "exec", exitUsage, errors.New("no command: use credd exec [--profile P] [--wait 10s] -- CMD [ARGS...]"))
	}
	if err := tf.check(); err != nil {
		return fail(io, "exec", exitUsage, err)
	}
	t, err := tf.resolve(ctx, io.Getenv)
	if err != nil {
		return fail(io, "exec", exitFailure, err)
	}
	if t.Warning != "" {
		fmt.Fprintf(io.Stderr, "credd exec: warning: %s\n", t.Warning)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fail(io, "exec", 127, err)
	}
	// Replace this process so signals, stdin and the exit code belong to
	// the command itself.
	err = syscall.Exec(path, argv, clientEnviron(os.Environ(), t))
	return fail(io, "exec", 126, fmt.Errorf("run %s: %w", argv[0], err))
}

// clientEnviron is environ with the target's variables set and the
// shadowing ones removed.
func clientEnviron(environ []string, t target) []string {
	drop := slices.Clone(unsetVars)
	for _, kv := range t.vars() {
		drop = append(drop, kv[0])
	}
	out := slices.DeleteFunc(slices.Clone(environ), func(e string) bool {
		name, _, _ := strings.Cut(e, "=")
		return slices.Contains(drop, name)
	})
	for _, kv := range t.vars() {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}
