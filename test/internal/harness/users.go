package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// User is a throwaway local user for the local-trust tests (an attacker
// and a victim on one machine): a UID and GID that no account uses, and a
// private home. Processes run as it through syscall.Credential, so nothing
// is added to /etc/passwd and nothing is left to remove but the home.
type User struct {
	Name     string
	UID, GID int
	Home     string
}

// NewUser returns a throwaway user with the given UID (also its GID) and a
// new 0700 home it owns, removed when the test ends. Running processes as
// another user needs root: the test is skipped otherwise (CI runs as
// root).
func NewUser(t *testing.T, name string, uid int) User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running processes as another user needs root (CI runs as root)")
	}
	home, err := os.MkdirTemp("", "credd-home-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chown(home, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return User{Name: name, UID: uid, GID: uid, Home: home}
}

// Env is a minimal environment for u's processes (PATH, HOME, USER, and
// no XDG_RUNTIME_DIR), plus extra.
func (u User) Env(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name}
	return append(env, extra...)
}

// Command returns a command that runs as u, in u's home.
func (u User) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	u.apply(cmd)
	return cmd
}

func (u User) apply(cmd *exec.Cmd) {
	cmd.Dir = u.Home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
}

// String names u for messages: "victim (uid 64002)".
func (u User) String() string { return u.Name + " (uid " + strconv.Itoa(u.UID) + ")" }

// RunAs runs credd as u to completion and returns stdout, stderr and the
// exit code. It gives up after timeout (0: 90s), which a hang is.
func (b Binary) RunAs(t *testing.T, u User, timeout time.Duration, env []string, args ...string) (string, string, int) {
	t.Helper()
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := u.Command(ctx, string(b), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("credd %v as %v did not finish within %v: %s%s", args, u, timeout, stdout.String(), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run credd %v as %v: %v", args, u, err)
	}
	return stdout.String(), stderr.String(), code
}
