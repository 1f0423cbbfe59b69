package control_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/control"
)

// statusFunc is a hand-written fake StatusProvider.
type statusFunc func() daemon.Status

func (f statusFunc) Status() daemon.Status { return f() }

func fixedStatus(pid int) statusFunc {
	return func() daemon.Status {
		return daemon.Status{
			SchemaVersion: daemon.StatusVersion, Version: "test", PID: pid,
			Endpoint: "http://127.0.0.1:9911/v1/credentials",
			Roles:    []daemon.RoleStatus{{Name: "default", RoleARN: "arn:aws:iam::123456789012:role/dev", Serving: true}},
		}
	}
}

// stateDir returns a short private dir: t.TempDir paths can exceed the
// ~104 bytes a unix socket path may have.
func stateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "credd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// start listens and serves in dir until the test ends, and returns a
// function that stops the server and waits for Serve to return.
func start(t *testing.T, dir string, srv *control.Server) (stop func() error) {
	t.Helper()
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	var stopped bool
	var result error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after its context ended")
			}
		}
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestStatusRoundTrip(t *testing.T) {
	dir := stateDir(t)
	stop := start(t, dir, control.NewServer(fixedStatus(4242), nil))

	st, err := control.Client{StateDir: dir}.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := fixedStatus(4242)()
	if st.PID != 4242 || st.Endpoint != want.Endpoint || len(st.Roles) != 1 || st.Roles[0].RoleARN != want.Roles[0].RoleARN {
		t.Errorf("Status = %+v, want %+v", st, want)
	}

	sock := filepath.Join(dir, control.SocketName)
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want a socket with -rw-------", fi.Mode())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode = %v (%v), want drwx------", di.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state dir holds %v, want only the socket", entries)
	}

	if err := stop(); err != nil {
		t.Errorf("Serve returned %v, want nil after cancel", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Serve returned: %v", err)
	}
	_, err = control.Client{StateDir: dir}.Status(context.Background())
	if !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("Status after stop = %v, want ErrNotRunning", err)
	}
}

func TestSocketIsPrivateWhateverTheUmask(t *testing.T) {
	old := syscallUmask(0)
	defer syscallUmask(old)
	dir := stateDir(t)
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Lstat(filepath.Join(dir, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v with umask 0, want -rw-------", fi.Mode())
	}
}

func TestClientWhenTheDaemonIsNotRunning(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantMsg string
	}{
		{
			name:    "a missing state dir means not running",
			setup:   func(t *testing.T, dir string) {},
			wantMsg: "the credd daemon is not running (no socket at ",
		},
		{
			name: "a missing socket means not running",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
			},
			wantMsg: "the credd daemon is not running (no socket at ",
		},
		{
			name: "a stale socket means not running",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				staleSocket(t, filepath.Join(dir, control.SocketName))
			},
			wantMsg: "the credd daemon is not running (nothing answers on ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := stateDir(t)
			tt.setup(t, dir)
			_, err := control.Client{StateDir: dir}.Status(context.Background())
			if !errors.Is(err, control.ErrNotRunning) {
				t.Fatalf("Status error = %v, want ErrNotRunning", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.wantMsg) || !strings.Contains(msg, dir) || !strings.HasSuffix(msg, "start it with `credd daemon`") {
				t.Errorf("error %q, want %q... naming %s and saying how to start it", msg, tt.wantMsg, dir)
			}
		})
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr []string // nil = success
	}{
		{
			name:  "a missing state dir is created",
			setup: func(t *testing.T, dir string) {},
		},
		{
			name: "a stale socket from a dead daemon is replaced",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				staleSocket(t, filepath.Join(dir, control.SocketName))
			},
		},
		{
			name: "a regular file in the socket's place is refused",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				if err := os.WriteFile(filepath.Join(dir, control.SocketName), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"is not a socket", "remove it"},
		},
		{
			name: "a world-writable state dir is refused",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				if err := os.Chmod(dir, 0o777); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"world-writable", "chmod 0700"},
		},
		{
			name: "a socket that answers as something else is refused, not removed",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				l, err := net.Listen("unix", filepath.Join(dir, control.SocketName))
				if err != nil {
					t.Fatal(err)
				}
				srv := &http.Server{Handler: http.NotFoundHandler()}
				go srv.Serve(l)
				t.Cleanup(func() { srv.Close() })
			},
			wantErr: []string{"not as a credd daemon"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := stateDir(t)
			tt.setup(t, dir)
			l, err := control.Listen(dir)
			if tt.wantErr != nil {
				if err == nil {
					l.Close()
					t.Fatal("Listen succeeded, want an error")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			sock := filepath.Join(dir, control.SocketName)
			if got := l.Addr().String(); got != sock {
				t.Errorf("Addr = %q, want %q", got, sock)
			}
			if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("socket: %v, %v; want mode 0600", fi, err)
			}
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket still there after Close: %v", err)
			}
		})
	}
}

func TestListenRefusesASecondDaemon(t *testing.T) {
	dir := stateDir(t)
	start(t, dir, control.NewServer(fixedStatus(4242), nil))

	l, err := control.Listen(dir)
	if err == nil {
		l.Close()
		t.Fatal("second Listen succeeded, want an error")
	}
	want := "another credd daemon is already running (pid 4242) with state dir " + dir
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if _, err := (control.Client{StateDir: dir}).Status(context.Background()); err != nil {
		t.Errorf("the first daemon stopped answering: %v", err)
	}
}

func TestListenRefusesTooLongAPath(t *testing.T) {
	dir := filepath.Join(stateDir(t), strings.Repeat("d", 100))
	_, err := control.Listen(dir)
	if err == nil || !strings.Contains(err.Error(), "shorter --state-dir") {
		t.Fatalf("Listen error = %v, want a hint to shorten the state dir", err)
	}
}

func TestHandleAddsRoutes(t *testing.T) {
	dir := stateDir(t)
	srv := control.NewServer(fixedStatus(1), nil)
	srv.Handle("POST /v1/refresh", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte("refreshed " + string(b)))
	}))
	start(t, dir, srv)

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "an added route answers", method: "POST", path: "/v1/refresh", body: "default", wantStatus: 200, wantBody: "refreshed default"},
		{name: "an added route keeps its method", method: "GET", path: "/v1/refresh", wantStatus: 405},
		{name: "status refuses POST", method: "POST", path: "/v1/status", wantStatus: 405},
		{name: "an unknown path is 404", method: "GET", path: "/v1/nope", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, err := control.Client{StateDir: dir, Timeout: 5 * time.Second}.Do(context.Background(), tt.method, tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && string(b) != tt.wantBody {
				t.Errorf("body = %q, want %q", b, tt.wantBody)
			}
		})
	}
}

func TestStatusIsJSON(t *testing.T) {
	dir := stateDir(t)
	start(t, dir, control.NewServer(fixedStatus(1), nil))
	resp, err := control.Client{StateDir: dir}.Do(context.Background(), "GET", "/v1/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

func TestStatusReportsAFailingDaemon(t *testing.T) {
	dir := stateDir(t)
	mkdir(t, dir)
	l, err := net.Listen("unix", filepath.Join(dir, control.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})}
	go srv.Serve(l)
	defer srv.Close()

	_, err = control.Client{StateDir: dir}.Status(context.Background())
	if err == nil || errors.Is(err, control.ErrNotRunning) || !strings.Contains(err.Error(), "500 Internal Server Error") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Status error = %v, want the daemon's 500 and its message", err)
	}
}

func TestServeReturnsWhenTheListenerFails(t *testing.T) {
	dir := stateDir(t)
	l, err := control.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	err = control.NewServer(fixedStatus(1), nil).Serve(context.Background(), l)
	if err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// staleSocket leaves a socket file at path that nobody listens on, as a
// killed daemon does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
}
