package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/server"
)

func sandboxConfig(t *testing.T, roles ...config.Role) config.Config {
	t.Helper()
	dir, err := os.MkdirTemp("", "credd-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return config.Config{Listen: "127.0.0.1:0", StateDir: filepath.Join(dir, "s"), Roles: roles}
}

func sandboxRole(name string) config.Role {
	return config.Role{Name: name, TokenSource: config.SourceSandbox, Audience: config.DefaultAudience,
		Region: "us-east-1", SessionName: "tester", Duration: time.Hour}
}

func startAgent(t *testing.T, opts Options) *Agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServesEveryRoleAndReportsThemWithoutSecrets(t *testing.T) {
	a := startAgent(t, Options{Config: sandboxConfig(t, sandboxRole("default"), sandboxRole("ops")), Version: "test"})

	code, body := get(t, a.URL(), a.AuthToken())
	if code != 200 {
		t.Fatalf("default role: %d %s", code, body)
	}
	var creds struct{ SecretAccessKey, Token string }
	json.Unmarshal([]byte(body), &creds)
	if code, body := get(t, strings.TrimSuffix(a.URL(), "/v1/credentials")+"/v1/credentials/ops", a.AuthToken()); code != 200 {
		t.Fatalf("ops role: %d %s", code, body)
	}

	st := a.Status()
	if len(st.Roles) != 2 || !st.Roles[0].Serving || !st.Roles[1].Serving || st.Sandbox == nil {
		t.Fatalf("status = %+v", st)
	}
	if st.Roles[0].AssumedRoleARN != "arn:aws:sts::123456789012:assumed-role/credd-sandbox/tester" || st.Roles[0].Claims == nil {
		t.Errorf("role status = %+v", st.Roles[0])
	}
	doc, _ := json.Marshal(st)
	for name, secret := range map[string]string{"secret key": creds.SecretAccessKey, "session token": creds.Token, "auth token": a.AuthToken()} {
		if secret == "" || strings.Contains(string(doc), secret) {
			t.Errorf("status holds the %s (or it was empty)", name)
		}
	}
}

func TestASecondDaemonOnTheSameStateDirIsRefused(t *testing.T) {
	cfg := sandboxConfig(t, sandboxRole("default"))
	a := startAgent(t, Options{Config: cfg})
	tokenBefore := a.AuthToken()
	_, err := Start(context.Background(), Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start: %v, want 'already running'", err)
	}
	data, _ := os.ReadFile(filepath.Join(cfg.StateDir, "token"))
	if string(data) != tokenBefore {
		t.Errorf("the second daemon changed the first one's token")
	}
}

func TestTheTokenIsNewAtEveryStartButASupervisedRestart(t *testing.T) {
	tests := []struct {
		name      string
		keepToken bool
		wantSame  bool
	}{
		// A token that outlived the daemon may have been sent to whoever
		// bound the port while it was down.
		{"a plain start writes a new token", false, false},
		// The Feature's supervisor restarts a daemon that died this way, so
		// shells holding AWS_CONTAINER_AUTHORIZATION_TOKEN keep working.
		{"a start with KeepToken reuses the token", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sandboxConfig(t, sandboxRole("default"))
			ctx, cancel := context.WithCancel(context.Background())
			a, err := Start(ctx, Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error)
			go func() { done <- a.Run(ctx) }()
			first := a.AuthToken()
			cancel()
			<-done
			cfg.KeepToken = tt.keepToken
			b := startAgent(t, Options{Config: cfg})
			if same := b.AuthToken() == first; same != tt.wantSame {
				t.Errorf("token reused = %v, want %v", same, tt.wantSame)
			}
			if data, _ := os.ReadFile(filepath.Join(cfg.StateDir, "token")); string(data) != b.AuthToken() {
				t.Errorf("the token file does not hold the token served")
			}
		})
	}
}

func TestAPortHeldBySomeoneElseIsReportedAndNothingServed(t *testing.T) {
	squatter, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	cfg := sandboxConfig(t, sandboxRole("default"))
	cfg.Listen = squatter.Addr().String()
	_, err = Start(context.Background(), Options{Config: cfg})
	var inUse *server.PortInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("Start on a taken port = %v, want a *server.PortInUseError", err)
	}
	if _, err := os.Lstat(filepath.Join(cfg.StateDir, "control.sock")); !os.IsNotExist(err) {
		t.Errorf("the control socket was left behind: %v", err)
	}
}

func TestSandboxFaultsShowInStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultAccessDenied})
	a := startAgent(t, Options{Config: sandboxConfig(t, sandboxRole("default")), Sandbox: sb})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if e := a.Status().Roles[0].LastError; e != nil {
			if e.Code != "AccessDenied" || e.Hint == "" {
				t.Errorf("last error = %+v", e)
			}
			if code, _ := get(t, a.URL(), a.AuthToken()); code != 503 {
				t.Errorf("endpoint answered %d with nothing valid held, want 503", code)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no error reported")
}
