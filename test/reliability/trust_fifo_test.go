package reliability

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// Issue 13, item 4: a FIFO as the token file wedged the daemon in open(2):
// no attempt, nothing in `credd status`, and SIGTERM ignored until
// SIGKILL. These drive the real binary with --token-source file at what a
// local user can put there instead of a regular file.

// fifoStopLimit is the longest a SIGTERM may take: the endpoint's drain
// (about a second) with room for the race detector on shared cores.
const fifoStopLimit = 2 * time.Second

const fifoNotRegularHint = "point --token-file at a regular file; credd does not read pipes or devices"

func TestATokenFileThatIsNotARegularFileCannotWedgeTheDaemon(t *testing.T) {
	t.Run("a FIFO with no writer at start", func(t *testing.T) {
		row := record(t, "Local trust", "10", "the real binary started with --token-file pointing at a FIFO that nobody writes to",
			"the daemon runs: `credd status` answers with TokenFileUnreadable naming the path, a FIFO and the fix within a few seconds; the endpoint answers 503 at once; SIGTERM ends it with exit 0 within about a second")
		fr := newFIFORig(t, 0)
		path := filepath.Join(shortTempDir(t), "token")
		mkfifoAt(t, path)
		d := fr.start(t, path)
		e, after := fr.waitLastError(t, d, "TokenFileUnreadable", path, "a FIFO (named pipe)")
		out := fr.statusOutput(t, d)
		if !strings.Contains(out, "FIFO") {
			t.Errorf("`credd status` does not name the FIFO:\n%s", out)
		}
		fr.refusedThenStopped(t, row, d, e, after, false)
	})

	t.Run("a FIFO swapped in while serving", func(t *testing.T) {
		row := record(t, "Local trust", "11", "the token file of a serving daemon replaced by a FIFO (a rename over it), then a regular file put back, then a FIFO again and SIGTERM",
			"the held credentials served until they expire, then 503; status shows TokenFileUnreadable (a FIFO) at the next refresh; serving again within a second of a regular file being put back; SIGTERM with the FIFO in place ends it with exit 0 within about a second")
		fr := newFIFORig(t, 4*time.Second) // refreshed at half-life: 2s
		dir := shortTempDir(t)
		path := filepath.Join(dir, "token")
		fr.writeToken(t, path)
		d := fr.start(t, path)
		fr.waitServing(t, d, 10*time.Second)

		swappedAt := time.Now()
		mkfifoAt(t, filepath.Join(dir, ".fifo"))
		if err := os.Rename(filepath.Join(dir, ".fifo"), path); err != nil {
			t.Fatal(err)
		}
		e, _ := fr.waitLastError(t, d, "TokenFileUnreadable", path, "a FIFO (named pipe)")
		seen := time.Since(swappedAt)
		waitFor(t, 10*time.Second, "503 once the held credentials expire", func() bool {
			return fr.get(t, d).status == http.StatusServiceUnavailable
		})
		res := fr.want503(t, d)

		healAt := time.Now()
		fr.writeToken(t, path)
		fr.waitServing(t, d, 5*time.Second)
		recovery := time.Since(healAt)
		if recovery > time.Second+500*time.Millisecond {
			t.Errorf("serving %v after a regular file was put back, want about a second at most", recovery)
		}

		mkfifoAt(t, filepath.Join(dir, ".fifo"))
		if err := os.Rename(filepath.Join(dir, ".fifo"), path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the watch has read it
		took := fr.sigterm(t, d)
		row.Observe("status %v after the swap: %s (%s): %q", seen.Round(10*time.Millisecond), e.Code, e.Kind, e.Message)
		row.Observe("then %d %s in %v", res.status, res.code, res.recv.Sub(res.sent).Round(time.Millisecond))
		row.Observe("serving %v after a regular file was put back", recovery.Round(10*time.Millisecond))
		row.Observe("exit %d %v after SIGTERM with the FIFO in place", d.ExitCode(), took.Round(time.Millisecond))
	})

	t.Run("/dev/zero as the token file", func(t *testing.T) {
		row := record(t, "Local trust", "12", "the real binary started with --token-file /dev/zero (a device that never ends)",
			"nothing read from it: status shows TokenFileUnreadable naming a character device and the fix; 503 at once; SIGTERM ends it with exit 0 within about a second")
		if _, err := os.Stat("/dev/zero"); err != nil {
			t.Skip("no /dev/zero")
		}
		fr := newFIFORig(t, 0)
		d := fr.start(t, "/dev/zero")
		e, after := fr.waitLastError(t, d, "TokenFileUnreadable", "/dev/zero", "a character device")
		fr.refusedThenStopped(t, row, d, e, after, true)
	})

	t.Run("a 100 MiB sparse file", func(t *testing.T) {
		row := record(t, "Local trust", "13", "the real binary started with --token-file pointing at a 100 MiB sparse file",
			"refused by its size, unread: status shows MalformedToken (larger than 1 MiB); 503 at once; SIGTERM ends it with exit 0 within about a second")
		fr := newFIFORig(t, 0)
		path := filepath.Join(shortTempDir(t), "token")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 100<<20); err != nil {
			t.Fatal(err)
		}
		d := fr.start(t, path)
		e, after := fr.waitLastError(t, d, "MalformedToken", path, "larger than 1048576 bytes")
		fr.refusedThenStopped(t, row, d, e, after, true)
	})

	t.Run("another user's FIFO in a shared directory", func(t *testing.T) {
		row := record(t, "Local trust", "14", "another user (uid 64001) makes a FIFO where the daemon expects its token file, in a shared sticky directory such as /tmp, before the daemon starts",
			"the daemon runs: status shows TokenFileUnreadable naming a FIFO; 503 at once; SIGTERM ends it with exit 0 within about a second")
		attacker := harness.NewUser(t, "attacker", 64001)
		shared, err := os.MkdirTemp("", "credd-shared-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shared) })
		if err := os.Chmod(shared, 0o1777); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(shared, "token")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := attacker.Command(ctx, "mkfifo", "-m", "0666", path).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo as %s: %v: %s", attacker, err, out)
		}
		fr := newFIFORig(t, 0)
		d := fr.start(t, path)
		e, after := fr.waitLastError(t, d, "TokenFileUnreadable", path, "a FIFO (named pipe)")
		fr.refusedThenStopped(t, row, d, e, after, false)
	})
}

// fifoRig is a sandbox (issuer and STS) for daemons that read a token file.
type fifoRig struct {
	sb  *sandbox.Sandbox
	env []string
	r   *rig // for requests and the secret list only
}

// newFIFORig starts a sandbox whose STS issues credentials of lifetime (0:
// an hour, as asked).
func newFIFORig(t *testing.T, lifetime time.Duration) *fifoRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{MaxLifetime: lifetime}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	return &fifoRig{sb: sb, env: harness.BaseEnv("GORACE=atexit_sleep_ms=0"), r: &rig{t: t, secrets: map[string]string{}}}
}

func (fr *fifoRig) args(tokenFile string) []string {
	return []string{"--token-source", "file", "--token-file", tokenFile, "--role-arn", sandbox.DefaultRoleARN, "--sts-endpoint", fr.sb.STSURL}
}

func (fr *fifoRig) start(t *testing.T, tokenFile string) *harness.Daemon {
	t.Helper()
	d := binary(t).StartDaemon(t, fr.env, fr.args(tokenFile)...)
	_, tok := d.Endpoint(t)
	fr.r.addSecret(tok, "authorization token")
	return d
}

// writeToken writes a fresh token to path atomically, as projected volumes
// do: a rename over whatever is there.
func (fr *fifoRig) writeToken(t *testing.T, path string) {
	t.Helper()
	tok, err := fr.sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr.r.addSecret(tok, "identity token")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitLastError polls the control socket, as `credd status` does, until
// the role's last error has code and a message holding each of want. Every
// status request must be answered within a second: the daemon is not
// wedged. It returns the error and how long after the daemon's start it
// was seen.
func (fr *fifoRig) waitLastError(t *testing.T, d *harness.Daemon, code daemon.Code, want ...string) (*daemon.ErrorStatus, time.Duration) {
	t.Helper()
	var last *daemon.ErrorStatus
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := control.Client{StateDir: d.StateDir}.Status(ctx)
		cancel()
		if err != nil {
			t.Fatalf("the control socket did not answer: %v", err)
		}
		if len(st.Roles) > 0 {
			last = st.Roles[0].LastError
		}
		if last != nil && last.Code == code && containsAll(last.Message, want) {
			if last.Hint == "" {
				t.Errorf("last error %s has no hint", last.Code)
			}
			if code != "MalformedToken" && last.Hint != fifoNotRegularHint {
				t.Errorf("hint %q, want %q", last.Hint, fifoNotRegularHint)
			}
			return last, time.Since(d.Started)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s error mentioning %q in status within 10s; last error %+v", code, want, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusOutput runs `credd status` against d.
func (fr *fifoRig) statusOutput(t *testing.T, d *harness.Daemon) string {
	t.Helper()
	out, stderr, _ := binary(t).Run(t, d.Env, "status", "--state-dir", d.StateDir)
	return out + stderr
}

func (fr *fifoRig) get(t *testing.T, d *harness.Daemon) response {
	t.Helper()
	url, tok := d.Endpoint(t)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return fr.r.getWith(c, url, tok)
}

// want503 checks the endpoint answers 503 CredentialsUnavailable, and
// soon: the handler waits for the attempt in flight only briefly.
func (fr *fifoRig) want503(t *testing.T, d *harness.Daemon) response {
	t.Helper()
	res := fr.get(t, d)
	if res.err != nil || res.status != http.StatusServiceUnavailable || res.code != "CredentialsUnavailable" {
		t.Errorf("endpoint: %d %s %v, want 503 CredentialsUnavailable", res.status, res.code, res.err)
	}
	if took := res.recv.Sub(res.sent); took > 3*time.Second {
		t.Errorf("the endpoint took %v to answer", took)
	}
	return res
}

func (fr *fifoRig) waitServing(t *testing.T, d *harness.Daemon, limit time.Duration) {
	t.Helper()
	var res response
	deadline := time.Now().Add(limit)
	for res = fr.get(t, d); res.status != http.StatusOK; res = fr.get(t, d) {
		if time.Now().After(deadline) {
			t.Fatalf("not serving within %v: %d %s %v", limit, res.status, res.code, res.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sigterm stops d with SIGTERM and checks it exited 0 within fifoStopLimit.
func (fr *fifoRig) sigterm(t *testing.T, d *harness.Daemon) time.Duration {
	t.Helper()
	took := d.StopWith(t, syscall.SIGTERM)
	if d.ExitCode() != 0 || took > fifoStopLimit {
		t.Errorf("SIGTERM: exit %d after %v, want 0 within %v", d.ExitCode(), took, fifoStopLimit)
	}
	if !strings.Contains(d.Logs(), "credd stopped") {
		t.Errorf("no 'credd stopped' in the log")
	}
	for _, line := range strings.Split(d.Logs(), "\n") {
		if what := fr.r.leak(line); what != "" {
			t.Errorf("a log line holds the %s", what)
		}
	}
	return took
}

func mkfifoAt(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("mkfifo", path).CombinedOutput(); err != nil {
		t.Fatalf("mkfifo: %v: %s", err, out)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// peakRSS is the daemon's peak resident set (VmHWM) while it runs, or "?"
// where /proc does not tell.
// refusedThenStopped checks that d, whose token file was refused with e
// (seen in status after), answers 503 at once and ends on SIGTERM, and
// records all three; with peak, also the daemon's peak memory.
func (fr *fifoRig) refusedThenStopped(t *testing.T, row *Row, d *harness.Daemon, e *daemon.ErrorStatus, after time.Duration, peak bool) {
	t.Helper()
	res := fr.want503(t, d)
	memory := ""
	if peak {
		memory = "; peak RSS " + peakRSS(d)
	}
	took := fr.sigterm(t, d)
	row.Observe("status %v after start: %s (%s): %q, hint %q", after.Round(10*time.Millisecond), e.Code, e.Kind, e.Message, e.Hint)
	row.Observe("endpoint %d %s in %v%s", res.status, res.code, res.recv.Sub(res.sent).Round(time.Millisecond), memory)
	row.Observe("exit %d %v after SIGTERM", d.ExitCode(), took.Round(time.Millisecond))
}

func peakRSS(d *harness.Daemon) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.Cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// shortTempDir is a temporary directory with a short, ordinary path, as a
// token file's would be: t.TempDir()'s long test-named paths can look like
// a secret to the status document's redaction.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "credd-fifo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
