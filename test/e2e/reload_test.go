package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/agent"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

type reloadStatus struct {
	Roles []struct {
		Name           string `json:"name"`
		SessionName    string `json:"sessionName"`
		AssumedRoleARN string `json:"assumedRoleArn"`
		Settings       []struct{ Name, Value, Origin string }
	} `json:"roles"`
	HandedOff  []string `json:"handedOff"`
	LastReload *struct {
		Trigger string `json:"trigger"`
		Error   string `json:"error"`
	} `json:"lastReload"`
}

func statusDoc(t *testing.T, d *harness.Daemon) reloadStatus {
	t.Helper()
	out, stderr, _ := binary.Run(t, d.Env, "status", "--json", "--state-dir", d.StateDir)
	var st reloadStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("credd status --json: %v: %s %s", err, out, stderr)
	}
	return st
}

// A lifecycle hook hands the Codespace's identity and a CREDD_ROLE_ARN
// secret to a daemon started before they existed.
func TestReloadFromEnvHandsTheCodespaceIdentityToTheDaemon(t *testing.T) {
	d := binary.StartDaemon(t, harness.BaseEnv(), "--token-source", "sandbox")
	hook := harness.BaseEnv("GITHUB_USER=octocat", "CODESPACE_NAME=octocat-fuzzy-space-7x9",
		"CREDD_ROLE_ARN="+sandbox.DefaultRoleARN, "GITHUB_TOKEN=ghu_secretvalue")
	out, stderr, code := binary.Run(t, hook, "reload", "--from-env", "--wait", "5s", "--state-dir", d.StateDir)
	if code != 0 {
		t.Fatalf("credd reload: exit %d: %s%s", code, out, stderr)
	}
	if !strings.Contains(out, "role default") {
		t.Errorf("reload output: %q", out)
	}
	want := "/octocat@octocat-fuzzy-space-7x9"
	var st reloadStatus
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st = statusDoc(t, d)
		if len(st.Roles) == 1 && strings.HasSuffix(st.Roles[0].AssumedRoleARN, want) {
			break
		}
	}
	if len(st.Roles) != 1 || !strings.HasSuffix(st.Roles[0].AssumedRoleARN, want) {
		t.Fatalf("assumed role never ended in %s: %+v", want, st.Roles)
	}
	if strings.Join(st.HandedOff, ",") != "CODESPACE_NAME,CREDD_ROLE_ARN,GITHUB_TOKEN,GITHUB_USER" {
		t.Errorf("handed off %v", st.HandedOff)
	}
	for _, s := range st.Roles[0].Settings {
		if s.Name == "role-arn" && s.Origin != "session CREDD_ROLE_ARN" {
			t.Errorf("role-arn origin %q", s.Origin)
		}
	}
	human, _, _ := binary.Run(t, d.Env, "status", "--state-dir", d.StateDir)
	if !strings.Contains(human, "session GITHUB_USER + session CODESPACE_NAME") {
		t.Errorf("credd status shows no origin of the session name:\n%s", human)
	}
	if strings.Contains(d.Logs()+human, "ghu_secretvalue") {
		t.Error("the handed-off GITHUB_TOKEN reached the log or status")
	}
}

func TestSIGHUPReloadsAndABadConfigKeepsTheDaemonRunning(t *testing.T) {
	d := binary.StartDaemon(t, harness.BaseEnv(), "--token-source", "sandbox")
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st := statusDoc(t, d)
		if st.LastReload != nil && st.LastReload.Trigger == "SIGHUP" && st.LastReload.Error == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SIGHUP reload in status: %+v", st.LastReload)
		}
	}
	hook := harness.BaseEnv("CREDD_DURATION=1m")
	out, stderr, code := binary.Run(t, hook, "reload", "--from-env", "--state-dir", d.StateDir)
	if code != 1 || !strings.Contains(stderr, "15m to 12h") {
		t.Errorf("bad reload: exit %d, %s%s", code, out, stderr)
	}
	if st := statusDoc(t, d); len(st.Roles) != 1 {
		t.Errorf("daemon lost its role: %+v", st)
	}
}

func TestReloadWithoutADaemonExits2(t *testing.T) {
	_, stderr, code := binary.Run(t, harness.BaseEnv(), "reload", "--state-dir", harness.StateDir(t))
	if code != 2 || !strings.Contains(stderr, "not running") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// In a fresh Codespace the daemon starts before the role exists (it comes
// as a Codespaces secret, handed over by the postStart hook): it waits
// instead of exiting, and once handed over, the role and the identity
// survive a daemon kill and restart without another hook.
func TestADaemonWithNoRoleWaitsForTheHandOffAndKeepsItAcrossARestart(t *testing.T) {
	env := harness.BaseEnv()
	d := binary.StartDaemon(t, env)
	out, _, code := binary.Run(t, env, "status", "--state-dir", d.StateDir)
	if code != 2 || !strings.Contains(out, "no role") || !strings.Contains(out, "credd reload --state-dir "+d.StateDir+" --from-env") {
		t.Fatalf("status of a daemon with no role: exit %d:\n%s", code, out)
	}

	const roleARN = "arn:aws:iam::210987654321:role/from-a-secret"
	hook := harness.BaseEnv("CREDD_TOKEN_SOURCE=sandbox", "CREDD_ROLE_ARN="+roleARN,
		"GITHUB_USER=octocat", "CODESPACE_NAME=octocat-fuzzy-space-7x9")
	if out, stderr, code := binary.Run(t, hook, "reload", "--from-env", "--wait", "5s", "--state-dir", d.StateDir); code != 0 {
		t.Fatalf("credd reload --from-env: exit %d: %s%s", code, out, stderr)
	}
	want := "arn:aws:sts::210987654321:assumed-role/from-a-secret/octocat@octocat-fuzzy-space-7x9"
	waitForAssumedRole(t, d, want)
	if fi, err := os.Stat(filepath.Join(d.StateDir, agent.HandOffFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the handed-off environment is not kept 0600: %v %v", fi, err)
	}

	d.Cmd.Process.Kill()
	<-d.Exited()
	restarted := binary.StartDaemonIn(t, d.StateDir, env)
	waitForAssumedRole(t, restarted, want)
}

func waitForAssumedRole(t *testing.T, d *harness.Daemon, want string) {
	t.Helper()
	var st reloadStatus
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st = statusDoc(t, d); len(st.Roles) == 1 && st.Roles[0].AssumedRoleARN == want {
			return
		}
	}
	t.Fatalf("the assumed role never became %s: %+v", want, st.Roles)
}
