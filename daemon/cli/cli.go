// Package cli implements credd's commands, one file per command, each with
// its own FlagSet.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/credd-dev/credd/daemon/doctor"
	"github.com/credd-dev/credd/daemon/redact"
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
		{"ecs", "print the mirrored ECS task definition's environment and secrets: credd ecs env", runECS},
		{"logout", "end the device login and erase its kept refresh token; its roles stop serving", runLogout},
		{"demo", "run the sandbox: an embedded OIDC issuer, STS emulator and the daemon", runDemo},
		{"version", "print the version", runVersion},
	}
}

// helpArgs and versionArgs are the top-level spellings of `credd help` and
// `credd version`: what users type out of habit from other tools.
var (
	helpArgs    = []string{"help", "-h", "-help", "--help"}
	versionArgs = []string{"--version", "-version", "-v"}
)

// Run runs the command named by args[0] and returns the process exit code.
func Run(ctx context.Context, args []string, io IO) int {
	switch {
	case len(args) == 0:
		usage(io.Stdout)
		return exitUsage
	case slices.Contains(helpArgs, args[0]):
		return runHelp(ctx, args[1:], io)
	case slices.Contains(versionArgs, args[0]):
		return runVersion(ctx, args[1:], io)
	}
	if c, ok := findCommand(args[0]); ok {
		return c.run(ctx, args[1:], io)
	}
	return unknownCommand(io, args[0])
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// runHelp is `credd help [CMD]`: the command list, or CMD's flags as
// `credd CMD -h` prints them.
func runHelp(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 || slices.Contains(helpArgs, args[0]) {
		usage(io.Stdout)
		return exitOK
	}
	name := args[0]
	if slices.Contains(versionArgs, name) {
		name = "version"
	}
	c, ok := findCommand(name)
	if !ok {
		return unknownCommand(io, name)
	}
	return c.run(ctx, []string{"-h"}, io)
}

// unknownCommand reports name in one line, with the closest commands.
func unknownCommand(io IO, name string) int {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	msg := fmt.Sprintf("credd: unknown command %q", name)
	hint := "(`credd help` lists the commands)"
	if strings.HasPrefix(name, "-") {
		// `credd --state-dir D status`: the flags belong to a command.
		msg = "credd: unknown flag " + name
		names = []string{"--help", "--version"}
		hint = "(flags go after the command, as in `credd status --state-dir D`; `credd help` lists the commands)"
	}
	fmt.Fprintln(io.Stderr, msg+didYouMean(suggest(name, names))+" "+hint)
	return exitUsage
}

// didYouMean phrases suggestions, or nothing when there are none.
func didYouMean(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return ": did you mean " + names[0] + "?"
	}
	return ": did you mean one of " + strings.Join(names, ", ") + "?"
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "credd serves short-lived AWS credentials from an OIDC identity to every AWS SDK in the container.")
	fmt.Fprintln(w, "\nUsage: credd <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `credd help <command>` (or `credd <command> -h`) for a command's flags.")
}

// flagOutput is a FlagSet's output: the flag package writes to it as to
// stderr, and parseFlags finds stdout there for help that was asked for.
type flagOutput struct{ stdout, stderr io.Writer }

func (o *flagOutput) Write(p []byte) (int, error) { return o.stderr.Write(p) }

// newFlagSet returns a FlagSet for the command name whose help (-h) goes
// to io.Stdout and whose errors go to io.Stderr, through parseFlags.
func newFlagSet(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("credd "+name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{stdout: io.Stdout, stderr: io.Stderr})
	setHelp(fs, name, "")
	return fs
}

// setHelp makes fs's help the command's summary, more (when not empty),
// then the flags.
func setHelp(fs *flag.FlagSet, name, more string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: credd %s [flags]\n\n", name)
		if c, ok := findCommand(name); ok {
			fmt.Fprintf(w, "credd %s: %s\n\n", name, c.summary)
		}
		if more != "" {
			fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(more))
		}
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
}

// parseFlags parses args and returns the exit code to use when it fails.
// Help that was asked for (-h) goes to stdout in full; a mistake gets one
// line on stderr, not the whole usage the flag package would print.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	out, ok := fs.Output().(*flagOutput)
	if !ok {
		out = &flagOutput{stdout: fs.Output(), stderr: fs.Output()}
	}
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(out.stdout)
		if fs.Usage != nil {
			fs.Usage()
		} else {
			fs.PrintDefaults()
		}
		fs.SetOutput(out)
		return exitOK, false
	}
	fmt.Fprintln(out.stderr, flagErrorLine(fs, err))
	return exitUsage, false
}

// undefinedFlag starts the flag package's error for a flag fs does not
// define (go/src/flag/flag.go, FlagSet.parseOne:
// `f.failf("flag provided but not defined: -%s", name)`); the package has
// no typed error for it.
const undefinedFlag = "flag provided but not defined: -"

// flagErrorLine is the one line a flag mistake gets: an unknown flag with
// the closest defined ones, or the flag package's message about a value.
func flagErrorLine(fs *flag.FlagSet, err error) string {
	hint := fmt.Sprintf("(%s -h lists the flags)", fs.Name())
	name, unknown := strings.CutPrefix(err.Error(), undefinedFlag)
	if !unknown {
		// The message quotes the value given: it goes through the same
		// redaction as the daemon's error bodies in case it was a secret.
		msg := flagNameRE.ReplaceAllString(err.Error(), "${1}--${2}")
		return fmt.Sprintf("%s: %s %s", fs.Name(), redact.String(msg), hint)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	return fmt.Sprintf("%s: unknown flag --%s%s %s", fs.Name(), name, didYouMean(suggest(name, names)), hint)
}

// flagNameRE finds the flag named in the flag package's other messages
// ("invalid value %q for flag -%s", "flag needs an argument: -%s"), to
// spell it --name as credd's messages and help do.
var flagNameRE = regexp.MustCompile(`(for |argument: )(?:flag )?-([\w.-]+)`)

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

// selfCommand is how the user can run this credd again, for hints printed
// as commands to paste: `go run ./cmd/credd` when this is a `go run`
// build, plain `credd` when that is what PATH finds, else this binary's
// path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "credd"
	}
	onPath, err := exec.LookPath("credd")
	same := false
	if err == nil {
		a, errA := os.Stat(exe)
		b, errB := os.Stat(onPath)
		same = errA == nil && errB == nil && os.SameFile(a, b)
	}
	return commandFor(exe, same)
}

// commandFor is selfCommand's choice for the executable exe, given whether
// `credd` on PATH is that same file.
func commandFor(exe string, credOnPath bool) string {
	switch {
	case isGoRunBuild(exe):
		return goRunCommand
	case credOnPath:
		return "credd"
	}
	return doctor.ShellWord(exe)
}

// goRunCommand runs credd from the module's root, as `go run` did.
const goRunCommand = "go run ./cmd/credd"

// isGoRunBuild reports whether exe was built by `go run` (or `go test`),
// which builds under a "go-build" work dir in $TMPDIR
// (/tmp/go-build123/b001/exe/credd) and deletes it on exit; the build
// cache ($GOCACHE, ~/.cache/go-build by default) is the other place a go
// command leaves executables.
func isGoRunBuild(exe string) bool {
	return strings.Contains(filepath.ToSlash(exe), "/go-build")
}

// suggest returns the names closest to typed, for "did you mean": the one
// spelled the same but for dashes and case (--rolearn), else those a typo
// or two away (stauts), else those that typed begins (--token). None when
// nothing is close.
func suggest(typed string, names []string) []string {
	t := looseName(typed)
	if t == "" {
		return nil
	}
	// Two edits are a typo in a long name, but turn a short one into
	// another word.
	maxEdits := max(1, len([]rune(t))/3)
	prefixScore := maxEdits + 1
	var best []string
	bestScore := prefixScore + 1
	for _, name := range names {
		n := looseName(name)
		score := 0
		switch d := editDistance(t, n); {
		case d <= maxEdits:
			score = d
		case len(t) >= 3 && strings.HasPrefix(n, t):
			score = prefixScore
		default:
			continue
		}
		if score < bestScore {
			best, bestScore = nil, score
		}
		if score == bestScore {
			best = append(best, name)
		}
	}
	const most = 4 // more is a list, not a suggestion
	if len(best) > most {
		return nil
	}
	return best
}

// looseName is name without leading dashes, inner dashes, underscores or
// case, the differences a user does not notice typing a flag.
func looseName(name string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(name))
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters each
// count one, so the common "stauts" is one typo away from "status".
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// d[i][j] is the distance between x[:i] and y[:j].
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}
