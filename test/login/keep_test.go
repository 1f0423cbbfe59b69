package login

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// restartDaemon starts the login daemon again on d's state dir, once d has
// stopped, as after a container stop.
func restartDaemon(t *testing.T, d *harness.Daemon, p *idp, sb *sandbox.Sandbox, args ...string) *harness.Daemon {
	t.Helper()
	return binary.StartDaemonIn(t, d.StateDir, d.Env, append([]string{
		"--token-source", "login", "--issuer", p.URL, "--client-id", clientID,
		"--role-arn", roleARN, "--sts-endpoint", sb.STSURL, "--region", "us-east-1"}, args...)...)
}

// grants is the grant_type of every token request the IdP answered.
func (p *idp) grants(t *testing.T) []string {
	t.Helper()
	var body struct{ Grants []string }
	p.admin(t, "GET", "/test/grants", &body)
	return body.Grants
}

// keptFiles lists the kept logins in a state dir.
func keptFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "login-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

func TestAKeptLoginSurvivesARestartAndLogoutEndsIt(t *testing.T) {
	t.Parallel()
	p := startIdP(t)
	sb := startSTS(t, p)
	d := loginDaemon(t, p, sb, "--keep-login", "true")
	l, uri, code := startLogin(t, d)
	approve(t, uri, code, "alice", false)
	if exit, out := l.wait(t, 30*time.Second); exit != 0 {
		t.Fatalf("credd login: exit %d:\n%s", exit, out)
	}
	eventually(t, 10*time.Second, "the role is served", func() bool { return status(t, d).Roles[0].Serving })

	var files []string
	eventually(t, 10*time.Second, "the login is kept", func() bool { files = keptFiles(t, d.StateDir); return len(files) == 1 })
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept login %s: %v, mode %v; want 0600", files[0], err, fi.Mode())
	}
	data, _ := os.ReadFile(files[0])
	var kept struct{ RefreshToken string }
	if json.Unmarshal(data, &kept) != nil || kept.RefreshToken == "" {
		t.Fatalf("the kept login holds no refresh token")
	}

	// The container stops: SIGTERM, as docker stop sends.
	d.Cmd.Process.Signal(syscall.SIGTERM)
	d.Stop(t)
	before := len(p.grants(t))

	r := restartDaemon(t, d, p, sb, "--keep-login", "true")
	var st statusDoc
	eventually(t, 20*time.Second, "the restarted daemon serves with no new login", func() bool {
		out, _, _ := binary.Run(t, d.Env, "status", "--json", "--state-dir", d.StateDir)
		st = statusDoc{}
		return json.Unmarshal([]byte(out), &st) == nil && len(st.Roles) == 1 && st.Roles[0].Serving
	})
	if c := st.Roles[0].Claims; c == nil || c.Sub != "alice" {
		t.Errorf("claims after the restart: %+v, want alice's", c)
	}
	after := p.grants(t)[before:]
	if !slices.Contains(after, "refresh_token") || slices.Contains(after, deviceGrant) {
		t.Errorf("after the restart the IdP saw grants %v, want a refresh_token grant and no device login", after)
	}
	if strings.Contains(r.Logs(), "device login started") {
		t.Error("the restarted daemon started a device login")
	}

	out, stderr, exit := binary.Run(t, d.Env, "logout", "--state-dir", d.StateDir)
	if exit != 0 || !strings.Contains(out, "Logged out") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("credd logout: exit %d, want 0 and one line:\n%s%s", exit, out, stderr)
	}
	st = status(t, d)
	role := st.Roles[0]
	if role.Serving || role.LastError == nil || role.LastError.Code != "LoginRequired" ||
		!strings.Contains(role.LastError.Message, "logged out") || !strings.Contains(role.LastError.Hint, "credd login") {
		t.Errorf("status after logout: serving %v, last error %+v; want not serving, LoginRequired, logged out, run credd login", role.Serving, role.LastError)
	}
	if files := keptFiles(t, d.StateDir); len(files) != 0 {
		t.Errorf("the kept login survived the logout: %v", files)
	}
	if _, _, exit := binary.Run(t, d.Env, "credential-process", "--state-dir", d.StateDir); exit == 0 {
		t.Error("credential-process still got credentials after the logout")
	}
	for _, logs := range []string{d.Logs(), r.Logs()} {
		if strings.Contains(logs, kept.RefreshToken) || strings.Contains(logs, "eyJ") {
			t.Errorf("a token reached the daemon's log")
		}
	}
}

func TestLogoutWithoutADaemonSaysSo(t *testing.T) {
	t.Parallel()
	_, stderr, exit := binary.Run(t, harness.BaseEnv(), "logout", "--state-dir", harness.StateDir(t))
	if exit != 2 || !strings.Contains(stderr, "credd logout") {
		t.Errorf("credd logout with no daemon: exit %d, want 2:\n%s", exit, stderr)
	}
}
