//go:build linux

package control_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
)

// otherUID plays another user on the machine; no account has it.
const otherUID = 64012

// fakeEndpoint is what a fake daemon would have the client use.
const fakeEndpoint = "http://127.0.0.1:6666/v1/credentials"

// TestHelperProcess is not a test: the tests below run this test binary
// as another user, with CREDD_CONTROL_HELPER saying what to do.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("CREDD_CONTROL_HELPER") {
	case "":
		t.Skip("a helper process for the tests that need another user")
	case "serve":
		// A fake daemon: bind and listen (SO_PEERCRED records this uid),
		// say so, and answer every request with a status of its choosing.
		l, err := net.Listen("unix", os.Getenv("CREDD_CONTROL_SOCKET"))
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("ready")
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"schema_version":1,"pid":1,"endpoint":%q}`, fakeEndpoint)
		}))
		os.Exit(1)
	case "dial":
		c, err := net.Dial("unix", os.Getenv("CREDD_CONTROL_SOCKET"))
		if err != nil {
			fmt.Printf("dial: %v", err)
			os.Exit(0)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET /v1/status HTTP/1.0\r\nHost: credd\r\n\r\n")
		b, err := io.ReadAll(c)
		fmt.Printf("answer %q, %v", b, err)
		os.Exit(0)
	}
}

// helper returns a command running this test binary as uid (-1: as
// this process) in the given helper mode. The binary is copied where
// another user can run it.
func helper(t *testing.T, uid int, mode, sock string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "credd-helper")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "control.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Env = []string{"CREDD_CONTROL_HELPER=" + mode, "CREDD_CONTROL_SOCKET=" + sock}
	cmd.Dir = "/"
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	}
	return cmd
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
}

// fakeDaemonAs starts a fake daemon run by uid and moves its socket to
// sock, owned by root, as a race on a shared dir could: only the peer's
// credentials then tell who answers.
func fakeDaemonAs(t *testing.T, uid int, sock string) {
	t.Helper()
	tmp, err := os.MkdirTemp("", "credd-fake")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chown(tmp, uid, uid); err != nil {
		t.Fatal(err)
	}
	bound := filepath.Join(tmp, "s")
	cmd := helper(t, uid, "serve", bound)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("fake daemon: %q, %v", line, err)
	}
	if err := os.Rename(bound, sock); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(sock, 0, 0); err != nil {
		t.Fatal(err)
	}
}

func TestClientRefusesWhatAnotherUserControls(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the state dir to use
		trust   authtoken.Trust
		wantErr []string // nil: the real daemon's status
	}{
		{
			name: "a process of another user answering on the socket is refused",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				mkdir(t, dir)
				fakeDaemonAs(t, otherUID, control.SocketPath(dir))
				return dir
			},
			wantErr: []string{"the process answering on <sock> runs as uid " + strconv.Itoa(otherUID) + ", not as you: refusing to trust it", "--state-dir"},
		},
		{
			name: "a socket of another user is refused before connecting",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				start(t, dir, control.NewServer(fixedStatus(4242), nil))
				if err := os.Lchown(control.SocketPath(dir), otherUID, otherUID); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{"control socket <sock> is owned by uid " + strconv.Itoa(otherUID) + ", not by you"},
		},
		{
			name: "a regular file in the socket's place is refused",
			setup: func(t *testing.T, dir string) string {
				mkdir(t, dir)
				if err := os.WriteFile(control.SocketPath(dir), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{"control socket <sock> is a regular file, not a socket"},
		},
		{
			name: "a symlink to a working state dir is refused",
			setup: func(t *testing.T, dir string) string {
				start(t, dir, control.NewServer(fixedStatus(4242), nil))
				link := filepath.Join(filepath.Dir(dir), "l")
				if err := os.Symlink(dir, link); err != nil {
					t.Fatal(err)
				}
				return link
			},
			wantErr: []string{"is a symbolic link to " + "<target>"},
		},
		{
			name: "a group-writable state dir is refused",
			setup: func(t *testing.T, dir string) string {
				start(t, dir, control.NewServer(fixedStatus(4242), nil))
				if err := os.Chmod(dir, 0o770); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{"group-writable (mode 0770"},
		},
		{
			name: "a state dir of another user is refused by default",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				start(t, dir, control.NewServer(fixedStatus(4242), nil))
				if err := os.Chown(dir, otherUID, otherUID); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{"state dir <dir> is owned by uid " + strconv.Itoa(otherUID), "not by you"},
		},
		{
			name: "root uses a state dir of another user it was pointed at",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				start(t, dir, control.NewServer(fixedStatus(4242), nil))
				if err := os.Chown(dir, otherUID, otherUID); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			trust: authtoken.Trust{Explicit: true},
		},
		{
			name: "root refuses another user's peer in a dir of a third it was pointed at",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				mkdir(t, dir)
				fakeDaemonAs(t, otherUID, control.SocketPath(dir))
				if err := os.Chown(dir, otherUID+1, otherUID+1); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			trust:   authtoken.Trust{Explicit: true},
			wantErr: []string{"runs as uid " + strconv.Itoa(otherUID) + ", not as uid " + strconv.Itoa(otherUID+1) + ", who owns the state dir"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			real := stateDir(t)
			dir := tt.setup(t, real)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := control.Client{StateDir: dir, Trust: tt.trust}.Status(ctx)
			if tt.wantErr == nil {
				if err != nil || st.PID != 4242 {
					t.Fatalf("Status = %+v, %v; want the daemon's", st, err)
				}
				return
			}
			var te *authtoken.TrustError
			if !errors.As(err, &te) || errors.Is(err, control.ErrNotRunning) {
				t.Fatalf("Status = %+v, %v; want a *authtoken.TrustError", st, err)
			}
			for _, want := range tt.wantErr {
				want = strings.NewReplacer("<sock>", control.SocketPath(dir), "<dir>", dir, "<target>", real).Replace(want)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if st.Endpoint != "" || strings.Contains(err.Error(), fakeEndpoint) {
				t.Errorf("the client took the fake answer: %+v, %v", st, err)
			}
		})
	}
}

func TestServerDropsConnectionsOfOtherUsers(t *testing.T) {
	needRoot(t)
	dir := stateDir(t)
	start(t, dir, control.NewServer(fixedStatus(4242), nil))
	sock := control.SocketPath(dir)
	// Open the way as a careless chmod would: the server must still
	// refuse.
	for path, mode := range map[string]os.FileMode{filepath.Dir(dir): 0o711, dir: 0o711, sock: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		uid     int
		want200 bool
	}{
		{"another user gets no answer", otherUID, false},
		{"root gets one", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helper(t, tt.uid, "dial", sock).Output()
			if err != nil {
				t.Fatalf("helper: %v: %s", err, out)
			}
			if !strings.HasPrefix(string(out), "answer") {
				t.Fatalf("helper could not connect, so the server was not tested: %s", out)
			}
			if got := strings.Contains(string(out), "200 OK"); got != tt.want200 {
				t.Errorf("helper saw %s; want a 200 answer: %v", out, tt.want200)
			}
			if !tt.want200 && strings.Contains(string(out), "4242") {
				t.Errorf("the status reached another user: %s", out)
			}
		})
	}
	if _, err := (control.Client{StateDir: dir}).Status(context.Background()); err != nil {
		t.Errorf("the owner's status after the attempts: %v", err)
	}
}
