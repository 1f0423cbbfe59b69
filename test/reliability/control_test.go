package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/control"
)

func TestControlSocketIsPrivate(t *testing.T) {
	row := record(t, "Control socket", "01", "another user (nobody, through syscall.Credential) runs `credd status` and `credd env` against the daemon's state dir, then again with the state dir opened to everyone (0711)",
		"socket mode 0600 in a 0700 dir; refused (permission denied) both times; the token file unreadable; the daemon unaffected")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	sock := control.SocketPath(r.stateDir)
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	di, _ := os.Stat(r.stateDir)
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 || di.Mode().Perm() != 0o700 {
		t.Errorf("socket %v, state dir %v; want a 0600 socket in a 0700 dir", fi.Mode(), di.Mode())
	}
	row.Observe("socket %v, dir %v", fi.Mode().Perm(), di.Mode().Perm())
	if os.Geteuid() != 0 {
		t.Skip("running as another user needs root (CI runs as root); mode bits checked only")
	}
	bin := binary(t)
	asNobody := func(args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, string(bin), args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/tmp"}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run as nobody: %v", err)
		}
		return string(out), code
	}
	check := func(when string) {
		out, code := asNobody("status", "--state-dir", r.stateDir)
		if code == 0 || !strings.Contains(out, "permission denied") {
			t.Errorf("%s: nobody's credd status: exit %d: %s", when, code, out)
		}
		if what := r.leak(out); what != "" {
			t.Errorf("%s: nobody's credd status printed the %s", when, what)
		}
		envOut, envCode := asNobody("env", "--state-dir", r.stateDir)
		if envCode == 0 || strings.Contains(envOut, r.agent.AuthToken()) {
			t.Errorf("%s: nobody's credd env: exit %d: %s", when, envCode, envOut)
		}
		row.Observe("%s: status exit %d (%s), env exit %d", when, code, firstLine(out), envCode)
	}
	check("state dir 0700")
	// Open the directory: the socket's own mode must still refuse.
	if err := os.Chmod(r.stateDir, 0o711); err != nil {
		t.Fatal(err)
	}
	check("state dir 0711")
	os.Chmod(r.stateDir, 0o700)
	if _, err := (control.Client{StateDir: r.stateDir}).Status(context.Background()); err != nil {
		t.Errorf("the owner's status after the attempts: %v", err)
	}
	if res := r.get(); res.status != http.StatusOK {
		t.Errorf("serving after the attempts: %d", res.status)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func TestControlSocketSurvivesMalformedRequests(t *testing.T) {
	row := record(t, "Control socket", "02", "malformed control requests: random bytes, a NUL flood, a 70 KiB header, a 10 MiB POST body, unknown paths and methods, a half-sent request left hanging, 200 connections opened and dropped",
		"each refused (4xx, the connection closed, or ServeMux's redirect to the cleaned path), nothing crashes, status keeps answering, the endpoint keeps serving")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	sock := control.SocketPath(r.stateDir)
	dial := func() net.Conn {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("dial the control socket: %v", err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	// answer sends raw bytes and returns the status line, or what happened.
	answer := func(req []byte) string {
		c := dial()
		defer c.Close()
		go c.Write(req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "closed"
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return fmt.Sprint(resp.StatusCode)
	}
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7 + 13)
	}
	cases := []struct {
		name string
		req  []byte
		ok   func(string) bool
	}{
		{"random bytes", garbage, is4xxOrClosed},
		{"NUL flood", bytes.Repeat([]byte{0}, 64<<10), is4xxOrClosed},
		{"70 KiB header", []byte("GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n"), is4xxOrClosed},
		{"10 MiB POST body", append([]byte("POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n"), bytes.Repeat([]byte("x"), 10<<20)...), is4xxOrClosed},
		{"unknown path", []byte("GET /v1/secrets HTTP/1.1\r\nHost: x\r\n\r\n"), is4xxOrClosed},
		{"DELETE /v1/status", []byte("DELETE /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"), is4xxOrClosed},
		{"path traversal", []byte("GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"), func(s string) bool { return s == "307" || is4xxOrClosed(s) }},
		{"HTTP/2 preface", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), is4xxOrClosed},
	}
	var seen []string
	for _, c := range cases {
		got := answer(c.req)
		if !c.ok(got) {
			t.Errorf("%s: %s", c.name, got)
		}
		seen = append(seen, c.name+" → "+got)
	}
	// A half-sent request left open, and many connections dropped at once.
	hang := dial()
	io.WriteString(hang, "GET /v1/status HTTP/1.1\r\n")
	defer hang.Close()
	for range 200 {
		c := dial()
		io.WriteString(c, "GET /v1/st")
		c.Close()
	}
	st, err := (control.Client{StateDir: r.stateDir, Timeout: 5 * time.Second}).Status(context.Background())
	if err != nil || len(st.Roles) != 1 {
		t.Errorf("status after the abuse: %v", err)
	}
	if res := r.get(); res.status != http.StatusOK {
		t.Errorf("serving after the abuse: %d", res.status)
	}
	row.Observe("%s; status still answers, endpoint still 200", strings.Join(seen, ", "))
}

func is4xxOrClosed(s string) bool { return s == "closed" || (len(s) == 3 && s[0] == '4') }

func TestStateDirFilesAfterStop(t *testing.T) {
	row := record(t, "Lifecycle", "01", "in-process stop (what SIGTERM does) with a silent connection open: the daemon's Run returns",
		"Run returns nil within about a second; the control socket removed; the token file kept, unchanged, mode 0600; the endpoint port closed")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	silent, err := net.Dial("tcp4", r.hostPort())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond)
	tokenPath := filepath.Join(r.stateDir, "token")
	start := time.Now()
	r.stop()
	took := time.Since(start)
	if took > 5*time.Second {
		t.Errorf("stop took %v", took)
	}
	if _, err := os.Lstat(control.SocketPath(r.stateDir)); !os.IsNotExist(err) {
		t.Errorf("control socket after stop: %v", err)
	}
	data, err := os.ReadFile(tokenPath)
	fi, _ := os.Stat(tokenPath)
	if err != nil || string(data) != r.agent.AuthToken() || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file after stop: %v (same: %v)", err, string(data) == r.agent.AuthToken())
	}
	if c, err := net.Dial("tcp4", r.hostPort()); err == nil {
		c.Close()
		t.Errorf("the endpoint still accepts connections after stop")
	}
	row.Observe("stopped in %v with Run = nil; socket gone; token file kept (0600, same token); port closed", took.Round(10*time.Millisecond))
}
