package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

// A token source is registered once in config and built once here; the two
// tables must name the same sources.
func TestEveryTokenSourceHasABuilder(t *testing.T) {
	for _, s := range config.TokenSources {
		if sourceBuilders[s.Name] == nil {
			t.Errorf("config.TokenSources has %q, but agent has no builder for it", s.Name)
		}
	}
	for name := range sourceBuilders {
		if _, ok := config.LookupSource(name); !ok {
			t.Errorf("agent builds %q, which config.TokenSources does not register", name)
		}
	}
}

// Two files are called "token": the identity token a role reads and the
// authorization token credd writes for SDKs. The log keeps them apart: the
// latter is authorization_token_file, and no line has a bare token_file
// key that could be read as either.
func TestTheLogNamesTheAuthorizationTokenFileByItsOwnKey(t *testing.T) {
	logs := &syncbuf.Buffer{}
	cfg := sandboxConfig(t)
	identity := filepath.Join(filepath.Dir(cfg.StateDir), "identity-token")
	role := sandboxRole(config.DefaultRoleName)
	role.TokenSource, role.TokenFile, role.RoleARN = config.SourceFile, identity, otherARN
	cfg.Roles = []config.Role{role}
	a := startAgent(t, Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	waitLastError(t, a, "TokenFileMissing")
	_, _ = a.Reload(context.Background(), ReloadRequest{}) // refused without Resolve, and logged

	authFile := authtoken.Path(cfg.StateDir)
	named := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if regexp.MustCompile(`(^| )token_file=`).MatchString(line) {
			t.Errorf("a log line has a bare token_file key: %s", line)
		}
		if strings.Contains(line, authFile) {
			if !strings.Contains(line, "authorization_token_file="+authFile) {
				t.Errorf("a log line names the authorization-token file under another key: %s", line)
			}
			named++
		}
	}
	if named == 0 {
		t.Errorf("no log line names the authorization-token file %s:\n%s", authFile, logs)
	}
	if !strings.Contains(logs.String(), "path="+identity) {
		t.Errorf("no log line names the identity token file as path=%s:\n%s", identity, logs)
	}
}

func waitLastError(t *testing.T, a *Agent, code string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if e := a.Status().Roles[0].LastError; e != nil && string(e.Code) == code {
			return
		}
	}
	t.Fatalf("no %s in status: %+v", code, a.Status().Roles[0].LastError)
}
