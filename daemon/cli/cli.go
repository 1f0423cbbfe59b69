// Package cli implements credd's commands, one file per command, each with
// its own FlagSet.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Version is set at link time: -ldflags "-X github.com/credd-dev/credd/daemon/cli.Version=v1.2.3".
var Version = ""

// IO is what a command may touch of the outside world.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// Exit codes shared by the commands.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitDegraded = 1
	exitDown     = 2
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io IO) int
}

func commands() []command {
	return []command{
		{"daemon", "run the daemon in the foreground until SIGTERM/SIGINT", runDaemon},
		{"env", "print export lines that point AWS SDKs at the daemon", runEnv},
		{"exec", "run a command with the daemon's environment: credd exec -- CMD...", runExec},
		{"credential-process", "print credentials as credential_process JSON for ~/.aws/config", runCredentialProcess},
		{"status", "say whether credentials are served, and why not", runStatus},
		{"doctor", "run every check, evaluate a trust policy, and say what to fix", runDoctor},
		{"reload", "re-read the config files and hand this session's settings to the daemon (--from-env)", runReload},
		{"login", "sign in to the organisation's IdP with a device code (--token-source login)", runLogin},
		{"logout", "end the device login and erase its kept refresh token; its roles stop serving", runLogout},
		{"demo", "run the sandbox: an embedded OIDC issuer, STS emulator and the daemon", runDemo},
		{"version", "print the version", runVersion},
	}
}

// Run runs the command named by args[0] and returns the process exit code.
func Run(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(io.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], io)
		}
	}
	fmt.Fprintf(io.Stderr, "credd: unknown command %q: run `credd help` for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "credd serves short-lived AWS credentials from an OIDC identity to every AWS SDK in the container.")
	fmt.Fprintln(w, "\nUsage: credd <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `credd <command> -h` for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors to io.Stderr.
func newFlagSet(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("credd "+name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	return fs
}

// parseFlags parses args and returns the exit code to use when it fails.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// fail prints one line for the user and returns code.
func fail(io IO, cmd string, code int, err error) int {
	fmt.Fprintf(io.Stderr, "credd %s: %s\n", cmd, strings.TrimSpace(err.Error()))
	return code
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func runVersion(_ context.Context, args []string, io IO) int {
	fs := newFlagSet("version", io)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintf(io.Stdout, "credd %s\n", version())
	return exitOK
}
