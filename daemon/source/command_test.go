package source_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/source"
)

const secretStdout = "SECRET-STDOUT-never-in-errors"

func TestCommandToken(t *testing.T) {
	good := validJWT(t, 1)
	tests := []struct {
		name      string
		command   string
		want      string
		wantCode  daemon.Code // "" = success
		wantKind  daemon.Kind
		wantMsg   []string
		notInMsg  []string
		wantHint  string
		maxMsgLen int
	}{
		{name: "stdout is the token, trimmed", command: "printf '  %s\\n\\n' " + good, want: good},
		{name: "stderr does not disturb a good token", command: "echo progress >&2; echo " + good, want: good},
		{name: "a non-zero exit shows the status and stderr but never stdout",
			command:  "echo " + secretStdout + "; echo 'cannot reach the IdP' >&2; exit 3",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg: []string{"exit status 3", "cannot reach the IdP"}, notInMsg: []string{secretStdout}},
		{name: "only the last lines of a long stderr are kept",
			command:  "i=1; while [ $i -le 40 ]; do echo \"stderr line $i\" >&2; i=$((i+1)); done; exit 1",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg: []string{"stderr line 36 | stderr line 37", "stderr line 40"}, notInMsg: []string{"stderr line 35 "}},
		{name: "a huge stderr line is cut to 512 bytes",
			command:  "(i=0; while [ $i -lt 500 ]; do printf 'word%03d ' $i; i=$((i+1)); done; echo; echo END) >&2; exit 1",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg: []string{"…", "word499 | END"}, maxMsgLen: 600},
		{name: "a JWT traced on stderr is redacted",
			command:  "echo \"+ curl -H 'Authorization: Bearer " + good + "'\" >&2; exit 1",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg: []string{"[redacted JWT]"}, notInMsg: []string{good[:40]}},
		{name: "other secrets on stderr are redacted, the rest kept",
			command:  "echo 'vault: token=hvs.CAESIabcdefghijkl password=hunter2' >&2; echo 'curl: Authorization: Bearer abc.def ghp_16C7e42F292c6912E7710c838347Ae178B4a' >&2; echo 'login to https://idp.example.com failed: 403' >&2; exit 1",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg:  []string{"vault: token=hvs.[redacted] password=[redacted] | curl: Authorization: Bearer [redacted] ghp_[redacted] | login to https://idp.example.com failed: 403"},
			notInMsg: []string{"CAESIabc", "hunter2", "abc.def", "16C7e42F"}},
		{name: "a secret whose start fell out of the kept tail does not show its end",
			// 2048 bytes are kept: the first 12 ("password=hun") fall out,
			// and the unprintable filler leaves room to show the rest.
			command:  "(printf password=hunter2-the-end; head -c 2031 /dev/zero | tr '\\0' '\\001'; echo; echo END) >&2; exit 1",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg: []string{"END"}, notInMsg: []string{"ter2", "the-end"}},
		{name: "a command that is not found fails with the shell's complaint",
			command:  "credd-no-such-command-xyz",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindRetryable,
			wantMsg: []string{"exit status 127", "not found"}},
		{name: "empty stdout is reported as such",
			command:  "echo 'no session' >&2",
			wantCode: "TokenCommandEmpty", wantKind: daemon.KindRetryable,
			wantMsg: []string{"printed nothing", "no session"}},
		{name: "two lines on stdout are malformed and the hint says so",
			command:  "echo " + secretStdout + "; echo " + secretStdout,
			wantCode: "MalformedToken", wantKind: daemon.KindPermanent,
			wantHint: "the token command must print one JWT; got 2 lines", notInMsg: []string{secretStdout}},
		{name: "no command is a configuration error",
			command:  " ",
			wantCode: "TokenCommandFailed", wantKind: daemon.KindPermanent, wantHint: "--token-command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := source.NewCommand(tt.command, 5*time.Second, pathOnly(), nil).Token(context.Background())
			if tt.wantCode == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Token = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			e := wantError(t, err, tt.wantCode, tt.wantKind)
			wantContains(t, "message", e.Message, tt.wantMsg...)
			wantContains(t, "hint", e.Hint, tt.wantHint)
			wantNotContains(t, "error", err.Error(), tt.notInMsg...)
			if tt.maxMsgLen > 0 && len(e.Message) > tt.maxMsgLen {
				t.Errorf("message is %d bytes, want at most %d", len(e.Message), tt.maxMsgLen)
			}
			if got != "" {
				t.Errorf("Token returned %q with an error", got)
			}
		})
	}
}

func TestCommandTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The shell starts a grandchild and waits: both must die at the timeout.
	cmd := "echo " + secretStdout + "; echo 'waiting for browser' >&2; sleep 30 & echo $! > " + pidFile + "; wait"
	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := source.NewCommand(cmd, timeout, pathOnly(), nil).Token(context.Background())
	elapsed := time.Since(start)
	if elapsed > timeout+500*time.Millisecond {
		t.Errorf("Token returned after %s, timeout %s", elapsed, timeout)
	}
	e := wantError(t, err, "TokenCommandFailed", daemon.KindRetryable)
	wantContains(t, "message", e.Message, "timed out after 300ms", "waiting for browser")
	wantNotContains(t, "error", err.Error(), secretStdout)

	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still running after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestCommandStopsWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := source.NewCommand("sleep 30", 0, pathOnly(), nil).Token(ctx)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Token returned after %s", elapsed)
	}
	e := wantError(t, err, "TokenCommandFailed", daemon.KindRetryable)
	wantContains(t, "message", e.Message, "interrupted")
	if e.Err != context.DeadlineExceeded {
		t.Errorf("Err = %v, want the context's error", e.Err)
	}
}

func TestCommandName(t *testing.T) {
	if got := source.NewCommand("true", 0, nil, nil).Name(); got != "command" {
		t.Errorf("Name = %q", got)
	}
}

// pathOnly is the environment of a command that needs only to find its
// programs.
func pathOnly() map[string]string { return map[string]string{"PATH": os.Getenv("PATH")} }

// The command gets the environment it is given and nothing of the
// daemon's: not CREDD_CLIENT_SECRET, not AWS_SECRET_ACCESS_KEY.
func TestCommandGetsOnlyTheEnvironmentItIsGiven(t *testing.T) {
	t.Setenv("CREDD_CLIENT_SECRET", "client-secret-of-the-daemon")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-of-the-daemon")
	t.Setenv("VAULT_ADDR", "https://vault.example.com")
	out := filepath.Join(t.TempDir(), "env")
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": "/home/alice", "VAULT_ADDR": os.Getenv("VAULT_ADDR")}
	cmd := "env > " + out + "; echo " + validJWT(t, 1)
	if _, err := source.NewCommand(cmd, 5*time.Second, env, nil).Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	// The shell adds PWD, SHLVL and _ of its own; nothing else may appear.
	for k := range got {
		if _, given := env[k]; !given && k != "PWD" && k != "SHLVL" && k != "_" && k != "OLDPWD" {
			t.Errorf("the command sees %s=%s, which it was not given", k, got[k])
		}
	}
	for k, v := range env {
		if got[k] != v {
			t.Errorf("the command sees %s=%q, want %q", k, got[k], v)
		}
	}
	if strings.Contains(string(b), "of-the-daemon") {
		t.Errorf("a secret of the daemon's environment reached the command:\n%s", b)
	}
}
