package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/redact"
	"github.com/credd-dev/credd/daemon/token"
)

const (
	defaultCommandTimeout = 30 * time.Second
	// stderrTail bounds the stderr shown in an error: the last few lines,
	// at most this many bytes.
	stderrTail      = 512
	stderrTailLines = 5
)

// Command runs a shell command that prints a token on stdout. Its stdout is
// a secret: it never reaches an error or a log. Its stderr is not, and the
// tail of it, redacted, explains a failure.
type Command struct {
	command string
	timeout time.Duration
	env     []string
	log     *slog.Logger
}

// NewCommand returns a source that runs `sh -c command` with env as its
// whole environment: the command gets those variables and nothing else of
// the daemon's (config.CommandEnv and --token-command-env say which). A
// timeout of 0 means 30s; on timeout the command's whole process group is
// killed.
func NewCommand(command string, timeout time.Duration, env map[string]string, logger *slog.Logger) *Command {
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	kv := make([]string, 0, len(env))
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return &Command{command: command, timeout: timeout, env: kv, log: withComponent(logger, "command")}
}

func (c *Command) Name() string { return "command" }

// Token runs the command and returns its trimmed stdout.
func (c *Command) Token(ctx context.Context) (string, error) {
	if strings.TrimSpace(c.command) == "" {
		return "", &daemon.Error{Kind: daemon.KindPermanent, Code: CodeCommandFailed, Message: "no token command configured", Hint: "set --token-command"}
	}
	runCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "sh", "-c", c.command)
	cmd.Env = c.env // never nil: nil would pass the daemon's whole environment
	var stdout limitedBuffer
	stdout.max = maxFileBytes
	stderr := tailBuffer{max: 4 * stderrTail}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	killGroupOnCancel(cmd)
	// Bound the wait for pipes held open by a child that escaped the group.
	cmd.WaitDelay = time.Second

	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return "", daemon.Errorf(daemon.KindRetryable, CodeCommandFailed, "", "token command interrupted: %w", ctx.Err())
	case runCtx.Err() != nil:
		c.log.Warn("token command timed out", "timeout", c.timeout)
		return "", &daemon.Error{
			Kind:    daemon.KindRetryable,
			Code:    CodeCommandFailed,
			Message: "token command timed out after " + c.timeout.String() + withStderr(stderr.tail()),
			Hint:    "make the command finish sooner: does it wait for input? credd killed it",
			Err:     runCtx.Err(),
		}
	default:
		var exit *exec.ExitError
		kind, what := daemon.KindRetryable, ""
		if errors.As(err, &exit) {
			what = exit.ProcessState.String() // "exit status 2", "signal: killed"
		} else {
			// sh itself could not start: retrying will not help.
			kind, what = daemon.KindPermanent, err.Error()
		}
		c.log.Warn("token command failed", "status", what, "elapsed", elapsed)
		return "", &daemon.Error{
			Kind:    kind,
			Code:    CodeCommandFailed,
			Message: "token command failed: " + what + withStderr(stderr.tail()),
			Hint:    "run the command by hand to see why; credd will retry",
			Err:     err,
		}
	}
	if stdout.overflow {
		return "", &daemon.Error{Kind: daemon.KindPermanent, Code: token.CodeMalformed,
			Message: fmt.Sprintf("token command printed more than %d bytes", maxFileBytes),
			Hint:    "the token command must print one JWT and nothing else on stdout; send logs to stderr"}
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		return "", &daemon.Error{
			Kind:    daemon.KindRetryable,
			Code:    CodeCommandEmpty,
			Message: "token command succeeded but printed nothing on stdout" + withStderr(stderr.tail()),
			Hint:    "the command must print the JWT on stdout",
		}
	}
	if err := oneLine(tok, "the token command must print"); err != nil {
		return "", err
	}
	c.log.Debug("token command succeeded", "elapsed", elapsed)
	return tok, nil
}

func withStderr(tail string) string {
	if tail == "" {
		return ""
	}
	return "; stderr: " + tail
}

// limitedBuffer keeps the first max bytes and notes whether more came.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.overflow = true
		p = p[:max(room, 0)]
	}
	b.Buffer.Write(p)
	return len(p), nil // claim all so the command is not killed by EPIPE
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf []byte
	max int
	cut bool // bytes before buf were dropped
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.cut = true
	}
	return n, nil
}

// tail returns the last few non-empty lines, printable, joined by " | ",
// at most stderrTail bytes, with anything shaped like a secret redacted:
// a command tracing itself (`set -x`) or a tool it runs can print its
// token, or another one, on stderr.
func (b *tailBuffer) tail() string {
	s := strings.ToValidUTF8(string(b.buf), "")
	if b.cut {
		// The first word may be the end of a secret whose start, the part
		// redact would know it by (password=, hvs.), was dropped.
		if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
			s = s[i:]
		} else {
			s = ""
		}
	}
	s = redact.String(s)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			if !unicode.IsPrint(r) && r != ' ' {
				return -1
			}
			return r
		}, l)
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > stderrTailLines {
		lines = lines[len(lines)-stderrTailLines:]
	}
	out := strings.Join(lines, " | ")
	if len(out) > stderrTail {
		out = out[len(out)-stderrTail+len("…"):]
		for len(out) > 0 && !utf8.RuneStart(out[0]) {
			out = out[1:]
		}
		out = "…" + out
	}
	return out
}
