package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

func TestBadSettingsExitWithOneLineThatSaysWhatToFix(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("x"), 0o600)
	arn := "--role-arn=" + sandbox.DefaultRoleARN
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"a role that is not an ARN", []string{"--role-arn", "admin", "--token-file", tokenFile}, nil, `role ARN "admin" is not an ARN`},
		{"an unknown token source", []string{arn, "--token-source", "magic"}, nil, "use one of file, command, github, actions"},
		{"a listen address off loopback", []string{"--token-source", "sandbox", "--listen", "0.0.0.0:9911"}, nil, "loopback only"},
		{"a duration STS refuses", []string{"--token-source", "sandbox", "--duration", "13h"}, nil, "15m to 12h"},
		{"a bad value from the environment", nil, []string{"CREDD_TOKEN_SOURCE=magic", "CREDD_ROLE_ARN=" + sandbox.DefaultRoleARN}, `CREDD_TOKEN_SOURCE="magic" (environment)`},
		{"Actions without its variables", []string{arn, "--token-source", "actions"}, nil, "id-token: write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"daemon", "--state-dir", harness.StateDir(t)}, tt.args...)
			stdout, stderr, code := binary.Run(t, harness.BaseEnv(tt.env...), args...)
			if code == 0 {
				t.Fatalf("exit 0, want non-zero; stdout %q", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tt.want)
			}
		})
	}
}

func TestStatusSaysWhetherCredentialsAreServed(t *testing.T) {
	t.Run("not running", func(t *testing.T) {
		out, _, code := binary.Run(t, harness.BaseEnv(), "status", "--state-dir", harness.StateDir(t))
		if code != 2 || !strings.Contains(out, "not running") {
			t.Errorf("exit %d, output %q; want 2 and 'not running'", code, out)
		}
	})
	t.Run("healthy", func(t *testing.T) {
		sb := startSandbox(t)
		d := actionsDaemon(t, sb)
		waitServing(t, d)
		out, _, code := binary.Run(t, d.Env, "status", "--state-dir", d.StateDir)
		if code != 0 || !strings.Contains(out, "healthy") || !strings.Contains(out, "assumed-role/credd-sandbox") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		js, _, code := binary.Run(t, d.Env, "status", "--json", "--state-dir", d.StateDir)
		var doc struct {
			Health string
			Roles  []struct {
				Serving bool
				RoleArn string
			}
		}
		if err := json.Unmarshal([]byte(js), &doc); err != nil || code != 0 || doc.Health != "healthy" || !doc.Roles[0].Serving {
			t.Errorf("json exit %d err %v: %s", code, err, js)
		}
	})
	t.Run("down when STS refuses the role", func(t *testing.T) {
		sb := startSandbox(t)
		sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultAccessDenied})
		d := actionsDaemon(t, sb)
		var out string
		var code int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			out, _, code = binary.Run(t, d.Env, "status", "--state-dir", d.StateDir)
			if strings.Contains(out, "AccessDenied") {
				break
			}
		}
		if code != 2 || !strings.Contains(out, "AccessDenied") || !strings.Contains(out, "trust policy") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

func waitServing(t *testing.T, d *harness.Daemon) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, _, code := binary.Run(t, d.Env, "status", "--state-dir", d.StateDir); code == 0 {
			return
		}
	}
	t.Fatalf("daemon never became healthy: %s", d.Logs())
}

func TestCredentialProcessAndExec(t *testing.T) {
	sb := startSandbox(t)
	d := actionsDaemon(t, sb)
	waitServing(t, d)

	out, stderr, code := binary.Run(t, d.Env, "credential-process", "--state-dir", d.StateDir)
	var cp struct {
		Version                                                int
		AccessKeyId, SecretAccessKey, SessionToken, Expiration string
	}
	if err := json.Unmarshal([]byte(out), &cp); err != nil || code != 0 || cp.Version != 1 || cp.SessionToken == "" || !strings.HasSuffix(cp.Expiration, "Z") {
		t.Fatalf("credential-process exit %d %q: %s", code, stderr, out)
	}

	env := append(d.Env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/shadow")
	out, stderr, code = binary.Run(t, env, "exec", "--state-dir", d.StateDir, "--", "sh", "-c",
		`echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI|${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI-unset}|$(cat "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")"; exit 7`)
	parts := strings.Split(strings.TrimSpace(out), "|")
	if code != 7 || len(parts) != 3 || !strings.HasPrefix(parts[0], "http://127.0.0.1:") || parts[1] != "unset" || parts[2] == "" {
		t.Errorf("exec exit %d (want the command's 7) %q: %q", code, stderr, out)
	}
}

func TestSIGTERMStopsGracefullyAndKeepsTheTokenFile(t *testing.T) {
	sb := startSandbox(t)
	d := actionsDaemon(t, sb)
	waitServing(t, d)
	d.Stop(t)
	if code := d.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0", code)
	}
	if _, err := os.Stat(filepath.Join(d.StateDir, "control.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.StateDir, "token")); err != nil {
		t.Errorf("token file gone: %v", err)
	}
}

func TestDemoChecksItselfEndToEnd(t *testing.T) {
	out, stderr, code := binary.Run(t, harness.BaseEnv(), "demo", "--check")
	if code != 0 {
		t.Fatalf("demo --check exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{"export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:", "assumed-role/credd-sandbox", "self-check: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
