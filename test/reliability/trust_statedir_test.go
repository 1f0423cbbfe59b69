package reliability

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/test/internal/harness"
)

// The local-trust attacks on the state dir (issue 13): another user on the
// machine makes the victim's credd clients trust a state dir, token file
// or control socket of its own, to feed them false credentials.

const (
	attackerUID = 64001
	victimUID   = 64002
)

// victimTmpDir is the victim's default state dir with neither
// XDG_RUNTIME_DIR nor a usable HOME: a path anyone can predict.
var victimTmpDir = "/tmp/credd-" + strconv.Itoa(victimUID)

// noHomeEnv is an environment with no XDG_RUNTIME_DIR and no HOME, so
// credd falls back to /tmp/credd-<uid>.
func noHomeEnv(u harness.User, extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "USER=" + u.Name, "LOGNAME=" + u.Name, "GORACE=atexit_sleep_ms=0"}
	return append(env, extra...)
}

// freshTmpDir removes victimTmpDir now and when the test ends.
func freshTmpDir(t *testing.T) {
	t.Helper()
	if err := os.RemoveAll(victimTmpDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(victimTmpDir) })
}

// userDaemon is a `credd daemon` run as a user on a state dir it may not
// name (the default), so harness.StartDaemonAs does not fit.
type userDaemon struct {
	cmd    *exec.Cmd
	logs   harness.LockedBuffer
	exited chan struct{}
	status control.Client
	url    string
}

// startUserDaemon starts `credd daemon args...` as u with env and waits
// until it answers on stateDir's control socket. Root asks it, naming the
// dir (authtoken.Trust.Explicit), as `sudo credd status --state-dir` does.
func startUserDaemon(t *testing.T, u harness.User, stateDir string, env []string, args ...string) *userDaemon {
	t.Helper()
	d := &userDaemon{exited: make(chan struct{}), status: control.Client{StateDir: stateDir, Trust: authtoken.Trust{Explicit: true}}}
	d.cmd = u.Command(context.Background(), string(binary(t)), append([]string{"daemon", "--listen", "127.0.0.1:0", "--token-source", "sandbox"}, args...)...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = &d.logs, &d.logs
	d.cmd.WaitDelay = 5 * time.Second
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("logs of %v's daemon:\n%s", u, d.logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case <-d.exited:
			t.Fatalf("%v's daemon exited early: %s", u, d.logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := d.status.Status(ctx)
		cancel()
		if err == nil && st.PID == d.cmd.Process.Pid {
			d.url = st.Endpoint
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v's daemon did not answer within 20s: %v\n%s", u, err, d.logs.String())
		}
	}
}

func (d *userDaemon) stop(t *testing.T) {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("daemon did not stop within 10s of SIGTERM")
	}
}

// runAs runs credd as u and returns its output, stdout then stderr.
func runAs(t *testing.T, u harness.User, env []string, args ...string) (string, string, int) {
	t.Helper()
	return binary(t).RunAs(t, u, 60*time.Second, env, args...)
}

// wantRefusal checks that a client's output carries the trust error:
// the path, the owner found, and what to do.
func wantRefusal(t *testing.T, what, out string, code int, mentions ...string) {
	t.Helper()
	if code == 0 {
		t.Errorf("%s: exit 0, want a refusal: %s", what, out)
	}
	for _, m := range mentions {
		if !strings.Contains(out, m) {
			t.Errorf("%s: output does not mention %q: %s", what, m, out)
		}
	}
	if strings.Contains(out, "is not running") {
		t.Errorf("%s: the refusal reads as a daemon not running: %s", what, out)
	}
}

// refusalLine is the line of out that names victimTmpDir, for the report.
func refusalLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, victimTmpDir) {
			return firstLine(l)
		}
	}
	return firstLine(out)
}

func TestLocalTrustStateDirPrecreatedByAnotherUser(t *testing.T) {
	tried := "the attacker (uid 64001) pre-creates the victim's default state dir " + victimTmpDir + " (victim without XDG_RUNTIME_DIR or HOME) with its own daemon answering on the control socket (dir 0755, token 0644, socket 0777); the victim (uid 64002) runs "
	expected := "refused with an error naming " + victimTmpDir + ", its owner uid 64001 and what to do (--state-dir, XDG_RUNTIME_DIR); nothing of the attacker's used"
	cpRow := record(t, "Local trust", "01", tried+"`credd credential-process`", expected+"; no credentials printed")
	envRow := record(t, "Local trust", "02", tried+"`credd env`", expected+"; no export lines")
	statusRow := record(t, "Local trust", "03", tried+"`credd status` and `credd doctor`", expected+"; not reported as \"not running\"")
	loginRow := record(t, "Local trust", "04", tried+"`credd login`", expected+"; no login started at the attacker's daemon")
	daemonRow := record(t, "Local trust", "05", tried+"`credd daemon` (its own)", "the daemon refuses to start with the same error, and touches nothing in the attacker's dir")

	attacker := harness.NewUser(t, "attacker", attackerUID)
	victim := harness.NewUser(t, "victim", victimUID)
	freshTmpDir(t)

	fake := startUserDaemon(t, attacker, victimTmpDir, noHomeEnv(attacker), "--state-dir", victimTmpDir)
	for path, mode := range map[string]string{victimTmpDir: "0755", authtoken.Path(victimTmpDir): "0644", control.SocketPath(victimTmpDir): "0777"} {
		if out, err := attacker.Command(context.Background(), "chmod", mode, path).CombinedOutput(); err != nil {
			t.Fatalf("attacker's chmod %s %s: %v: %s", mode, path, err, out)
		}
	}
	fakeToken, err := os.ReadFile(authtoken.Path(victimTmpDir))
	if err != nil {
		t.Fatal(err)
	}
	env := noHomeEnv(victim)
	mentions := []string{victimTmpDir, "owned by uid 64001", "not by you", "--state-dir", "XDG_RUNTIME_DIR"}
	noFake := func(what, out string) {
		t.Helper()
		if strings.Contains(out, string(fakeToken)) || strings.Contains(out, fake.url) {
			t.Errorf("%s used the attacker's token or endpoint %s: %s", what, fake.url, out)
		}
	}

	out, stderr, code := runAs(t, victim, env, "credential-process")
	wantRefusal(t, "credential-process", out+stderr, code, mentions...)
	noFake("credential-process", out+stderr)
	if strings.Contains(out, "AccessKeyId") {
		t.Errorf("credential-process printed credentials: %s", out)
	}
	cpRow.Observe("exit %d: %s", code, refusalLine(stderr))

	out, stderr, code = runAs(t, victim, env, "env")
	wantRefusal(t, "env", out+stderr, code, mentions...)
	noFake("env", out+stderr)
	if strings.Contains(out, "export") {
		t.Errorf("env printed export lines: %s", out)
	}
	envRow.Observe("exit %d: %s", code, refusalLine(stderr))

	for _, cmd := range []string{"status", "doctor"} {
		out, stderr, code = runAs(t, victim, env, cmd)
		wantRefusal(t, cmd, out+stderr, code, mentions...)
		noFake(cmd, out+stderr)
		statusRow.Observe("%s: exit %d: %s", cmd, code, refusalLine(out+stderr))
	}

	out, stderr, code = runAs(t, victim, env, "login", "--no-wait")
	wantRefusal(t, "login", out+stderr, code, mentions...)
	noFake("login", out+stderr)
	loginRow.Observe("exit %d: %s", code, refusalLine(stderr))

	out, stderr, code = runAs(t, victim, env, "daemon", "--token-source", "sandbox", "--listen", "127.0.0.1:0")
	wantRefusal(t, "daemon", out+stderr, code, mentions...)
	if tok, _ := os.ReadFile(authtoken.Path(victimTmpDir)); string(tok) != string(fakeToken) {
		t.Error("the victim's daemon rewrote the token in the attacker's dir")
	}
	daemonRow.Observe("exit %d: %s", code, refusalLine(out+stderr))
}

func TestLocalTrustSymlinkedStateDir(t *testing.T) {
	row := record(t, "Local trust", "06", "the attacker makes the victim's default state dir a symlink to the victim's home (`ln -s /home/victim "+victimTmpDir+"`); the victim runs `credd daemon`, `credd env` and `credd status`",
		"all refuse: \"is a symbolic link to <home>, made by uid 64001\"; nothing is written in the victim's home")
	attacker := harness.NewUser(t, "attacker", attackerUID)
	victim := harness.NewUser(t, "victim", victimUID)
	freshTmpDir(t)
	if out, err := attacker.Command(context.Background(), "ln", "-s", victim.Home, victimTmpDir).CombinedOutput(); err != nil {
		t.Fatalf("attacker's ln -s: %v: %s", err, out)
	}
	env := noHomeEnv(victim)
	mentions := []string{victimTmpDir + " is a symbolic link to " + victim.Home, "made by uid 64001", "--state-dir"}
	for _, args := range [][]string{{"daemon", "--token-source", "sandbox", "--listen", "127.0.0.1:0"}, {"env"}, {"status"}} {
		out, stderr, code := runAs(t, victim, env, args...)
		wantRefusal(t, args[0], out+stderr, code, mentions...)
		row.Observe("%s: exit %d", args[0], code)
	}
	entries, err := os.ReadDir(victim.Home)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s appeared in the victim's home", e.Name())
	}
	row.Observe("victim's home holds %d entries", len(entries))
}

func TestLocalTrustLooseStateDirModes(t *testing.T) {
	groupRow := record(t, "Local trust", "07", "the victim's own state dir "+victimTmpDir+" is made group-writable (0770: a group member could swap the socket) while its daemon runs; the victim runs `credd env`, `credd status`, then restarts `credd daemon`",
		"all refuse: \"group-writable (mode 0770, owner uid 64002)\" with a `chmod 0700` hint; after the chmod, all work again")
	stickyRow := record(t, "Local trust", "08", "the victim's own state dir is mode 1777 (as /tmp); the victim runs `credd status` and `credd daemon`",
		"both refuse, showing the mode as 1777 (sticky bit included), not 0777")
	victim := harness.NewUser(t, "victim", victimUID)
	freshTmpDir(t)
	env := noHomeEnv(victim)

	d := startUserDaemon(t, victim, victimTmpDir, env)
	if out, stderr, code := runAs(t, victim, env, "env"); code != 0 {
		t.Fatalf("the victim's env on its own daemon: exit %d: %s%s", code, out, stderr)
	}
	if err := os.Chmod(victimTmpDir, 0o770); err != nil {
		t.Fatal(err)
	}
	mentions := []string{victimTmpDir + " is group-writable (mode 0770, owner uid 64002", "chmod 0700 " + victimTmpDir}
	for _, cmd := range []string{"env", "status"} {
		out, stderr, code := runAs(t, victim, env, cmd)
		wantRefusal(t, cmd, out+stderr, code, mentions...)
		groupRow.Observe("%s: exit %d: %s", cmd, code, refusalLine(out+stderr))
	}
	d.stop(t)
	out, stderr, code := runAs(t, victim, env, "daemon", "--token-source", "sandbox", "--listen", "127.0.0.1:0")
	wantRefusal(t, "daemon", out+stderr, code, mentions...)
	groupRow.Observe("daemon: exit %d", code)
	if err := os.Chmod(victimTmpDir, 0o700); err != nil {
		t.Fatal(err)
	}
	startUserDaemon(t, victim, victimTmpDir, env).stop(t)
	groupRow.Observe("after chmod 0700 the daemon starts again")

	if err := os.Chmod(victimTmpDir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	mentions = []string{victimTmpDir + " is world-writable (mode 1777", "chmod 0700"}
	for _, args := range [][]string{{"status"}, {"daemon", "--token-source", "sandbox", "--listen", "127.0.0.1:0"}} {
		out, stderr, code := runAs(t, victim, env, args...)
		wantRefusal(t, args[0], out+stderr, code, mentions...)
		if strings.Contains(out+stderr, "mode 0777") {
			t.Errorf("%s shows the mode as 0777: %s", args[0], out+stderr)
		}
		stickyRow.Observe("%s: exit %d: %s", args[0], code, refusalLine(out+stderr))
	}
}

func TestLocalTrustOwnStateDirStillWorks(t *testing.T) {
	row := record(t, "Local trust", "09", "the legitimate paths: the victim's daemon on its default state dir, in $HOME/.cache/credd and (no HOME) "+victimTmpDir+" which it creates; the victim's credential-process, env and status; root's `credd status` and `credd env` with --state-dir naming the victim's dir",
		"the daemon creates the dir 0700; every client works; root may use another user's dir it named")
	victim := harness.NewUser(t, "victim", victimUID)
	freshTmpDir(t)
	bin := binary(t)
	cases := []struct {
		name string
		env  []string
		dir  string
	}{
		{"HOME", victim.Env("GORACE=atexit_sleep_ms=0"), filepath.Join(victim.Home, ".cache", "credd")},
		{"no HOME", noHomeEnv(victim), victimTmpDir},
	}
	for _, c := range cases {
		startUserDaemon(t, victim, c.dir, c.env)
		fi, err := os.Lstat(c.dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: state dir %s: %v, %v; want a 0700 dir the daemon made", c.name, c.dir, fi, err)
		}
		var cp struct{ Version int }
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, stderr, code := runAs(t, victim, c.env, "credential-process")
			if code == 0 && json.Unmarshal([]byte(out), &cp) == nil && cp.Version == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the victim's credential-process: exit %d: %s%s", c.name, code, out, stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
		out, stderr, code := runAs(t, victim, c.env, "env")
		if code != 0 || !strings.Contains(out, "export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE='"+authtoken.Path(c.dir)+"'") {
			t.Errorf("%s: the victim's env: exit %d: %s%s", c.name, code, out, stderr)
		}
		out, stderr, code = runAs(t, victim, c.env, "status")
		if code != 0 {
			t.Errorf("%s: the victim's status: exit %d: %s%s", c.name, code, out, stderr)
		}
		row.Observe("%s: daemon in %s (mode %04o), credential-process, env and status exit 0", c.name, c.dir, fi.Mode().Perm())

		rootEnv := harness.BaseEnv("GORACE=atexit_sleep_ms=0")
		out, stderr, code = bin.Run(t, rootEnv, "status", "--state-dir", c.dir)
		if code != 0 {
			t.Errorf("%s: root's status --state-dir %s: exit %d: %s%s", c.name, c.dir, code, out, stderr)
		}
		envCode := 0
		out, stderr, envCode = bin.Run(t, rootEnv, "env", "--state-dir", c.dir)
		if envCode != 0 || !strings.Contains(out, "export AWS_CONTAINER_AUTHORIZATION_TOKEN=") {
			t.Errorf("%s: root's env --state-dir %s: exit %d: %s%s", c.name, c.dir, envCode, out, stderr)
		}
		row.Observe("root's status and env --state-dir: exit %d, %d", code, envCode)
	}
}
