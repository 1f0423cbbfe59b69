package agent

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/sts"
)

const otherARN = "arn:aws:iam::123456789012:role/other"

// reloadable starts an agent whose settings come from args, a config file
// (written by the test) and an injected daemon environment, as credd daemon
// wires it, with a sandbox that knows two roles.
func reloadable(t *testing.T, args []string, env map[string]string) (*Agent, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{Roles: []sandbox.Role{
		{ARN: sandbox.DefaultRoleARN, SubjectPattern: "repo:credd-dev/*"},
		{ARN: otherARN, SubjectPattern: "repo:credd-dev/*"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	dir, err := os.MkdirTemp("", "credd-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfgFile := filepath.Join(dir, "credd.toml")
	writeConfig(t, cfgFile, "")
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := config.RegisterDaemonFlags(fs)
	base := []string{"--token-source", "sandbox", "--listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "s"), "--config", cfgFile}
	if err := fs.Parse(append(base, args...)); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return env[k] }
	resolve := func(session map[string]string) (config.Config, error) {
		return flags.ResolveLayers(config.Layers{Session: session, Getenv: getenv})
	}
	cfg, err := resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, Options{Config: cfg, Sandbox: sb, Getenv: getenv, Resolve: resolve})
	return a, cfgFile
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func roleURL(a *Agent, name string) string {
	if name == config.DefaultRoleName {
		return a.URL()
	}
	return a.URL() + "/" + name
}

// waitServing waits until a role's assumed-role ARN ends with suffix.
func waitServing(t *testing.T, a *Agent, role, suffix string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		code, _ := get(t, roleURL(a, role), a.AuthToken())
		for _, r := range a.Status().Roles {
			if code == 200 && r.Name == role && r.Next == nil && strings.HasSuffix(r.AssumedRoleARN, suffix) {
				return
			}
		}
	}
	t.Fatalf("role %s never served credentials ending in %s; status %+v", role, suffix, a.Status().Roles)
}

func TestReloadFromEnvRenamesTheSessionWithNoGap(t *testing.T) {
	a, _ := reloadable(t, nil, map[string]string{"USER": "vscode"})
	waitServing(t, a, "default", "credd-sandbox/"+sts.SessionNameFrom("vscode@"+hostname(t)))

	var stop atomic.Bool
	var bad atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a client polling throughout the reload
		defer wg.Done()
		for !stop.Load() {
			if code, body := get(t, a.URL(), a.AuthToken()); code != 200 {
				bad.Store(body)
				return
			}
		}
	}()
	res, err := a.Reload(context.Background(), ReloadRequest{FromEnv: true, Env: map[string]string{
		"GITHUB_USER": "octocat", "CODESPACE_NAME": "octocat-fuzzy-space", "GITHUB_TOKEN": "ghu_secret", "PATH": "/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Change != daemon.ChangeUpdated {
		t.Errorf("changes = %+v, want the default role updated", res.Changes)
	}
	if got := strings.Join(res.HandedOff, ","); got != "CODESPACE_NAME,GITHUB_TOKEN,GITHUB_USER" {
		t.Errorf("handed off %s: PATH is not on the allow-list", got)
	}
	waitServing(t, a, "default", "/octocat@octocat-fuzzy-space")
	stop.Store(true)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatalf("a client saw an error during the reload: %s", b)
	}
	st := a.Status()
	if st.Roles[0].SessionName != "octocat@octocat-fuzzy-space" || st.Roles[0].Next != nil {
		t.Errorf("status role = %+v", st.Roles[0])
	}
	if st.LastReload == nil || st.LastReload.Trigger != TriggerReloadFromEnv || len(st.HandedOff) != 3 {
		t.Errorf("status reload = %+v, handed off %v", st.LastReload, st.HandedOff)
	}
	if origin := settingOrigin(st.Roles[0], "session-name"); origin != "session GITHUB_USER + session CODESPACE_NAME" {
		t.Errorf("session-name origin = %q", origin)
	}
}

func TestReloadWithAnotherRoleStopsServingTheOldOneAtOnce(t *testing.T) {
	a, _ := reloadable(t, nil, nil)
	waitServing(t, a, "default", "")
	if _, err := a.Reload(context.Background(), ReloadRequest{FromEnv: true, Env: map[string]string{"CREDD_ROLE_ARN": otherARN}}); err != nil {
		t.Fatal(err)
	}
	// From the moment Reload returns, the old role's credentials are gone:
	// either nothing yet (503) or the new role's.
	for range 20 {
		code, body := get(t, a.URL(), a.AuthToken())
		if code == 200 && !strings.Contains(body, `"RoleArn":"`+otherARN) {
			t.Fatalf("served the old role after the reload: %s", body)
		}
	}
	waitServing(t, a, "default", "")
	if st := a.Status(); st.Roles[0].RoleARN != otherARN || settingOrigin(st.Roles[0], "role-arn") != "session CREDD_ROLE_ARN" {
		t.Errorf("status = %+v", st.Roles[0])
	}
}

func TestAnInvalidReloadChangesNothing(t *testing.T) {
	a, cfgFile := reloadable(t, nil, nil)
	waitServing(t, a, "default", "")
	before := a.Status().Roles[0]
	writeConfig(t, cfgFile, `duration = "5m"`)
	_, err := a.Reload(context.Background(), ReloadRequest{FromEnv: true, Env: map[string]string{"GITHUB_USER": "octocat"}})
	if err == nil || !strings.Contains(err.Error(), "15m to 12h") {
		t.Fatalf("err = %v, want the duration refused", err)
	}
	st := a.Status()
	if r := st.Roles[0]; r.SessionName != before.SessionName || r.Obtained != before.Obtained || r.Next != nil {
		t.Errorf("role changed: %+v", r)
	}
	if len(st.HandedOff) != 0 || st.LastReload == nil || st.LastReload.Error == "" {
		t.Errorf("handed off %v, last reload %+v", st.HandedOff, st.LastReload)
	}
	if code, _ := get(t, a.URL(), a.AuthToken()); code != 200 {
		t.Errorf("default role: %d", code)
	}
}

func TestReloadReReadsTheConfigFileAddingAndRemovingRoles(t *testing.T) {
	a, cfgFile := reloadable(t, nil, nil)
	waitServing(t, a, "default", "")
	obtained := a.Status().Roles[0].Obtained
	writeConfig(t, cfgFile, "[roles.ops]\nrole_arn = \""+otherARN+"\"\n")
	res, err := a.Reload(context.Background(), ReloadRequest{Trigger: TriggerSIGHUP})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 2 || res.Changes[0].Change != daemon.ChangeUnchanged || res.Changes[1].Change != daemon.ChangeAdded {
		t.Errorf("changes = %+v", res.Changes)
	}
	waitServing(t, a, "ops", "")
	if got := a.Status().Roles[0].Obtained; !got.Equal(obtained) {
		t.Errorf("the unchanged default role was rebuilt: obtained %v, was %v", got, obtained)
	}

	writeConfig(t, cfgFile, "")
	res, err = a.Reload(context.Background(), ReloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if last := res.Changes[len(res.Changes)-1]; last.Role != "ops" || last.Change != daemon.ChangeRemoved {
		t.Errorf("changes = %+v", res.Changes)
	}
	if code, body := get(t, roleURL(a, "ops"), a.AuthToken()); code != 404 {
		t.Errorf("removed role: %d %s", code, body)
	}
}

func TestDaemonWideChangesNeedARestartButTheRestIsApplied(t *testing.T) {
	a, cfgFile := reloadable(t, nil, nil)
	writeConfig(t, cfgFile, "region = \"eu-west-1\"\nlog_level = \"debug\"\n")
	res, err := a.Reload(context.Background(), ReloadRequest{Trigger: TriggerSIGHUP})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.RestartNeeded, ",") != "log-level" {
		t.Errorf("restart needed for %v", res.RestartNeeded)
	}
	if res.Changes[0].Change != daemon.ChangeUpdated || strings.Join(res.Changes[0].Settings, ",") != "region" {
		t.Errorf("changes = %+v", res.Changes)
	}
}

func settingOrigin(r daemon.RoleStatus, name string) string {
	for _, s := range r.Settings {
		if s.Name == name {
			return s.Origin
		}
	}
	return ""
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A reload agrees with a start: a token file that is not there yet (nor
// its directory) is no reason to refuse the settings. The role is added,
// status says what is missing, and it serves once the file appears.
func TestReloadToATokenFileThatIsNotThereYet(t *testing.T) {
	a, cfgFile := reloadable(t, nil, nil)
	sb := a.opts.Sandbox
	dir := filepath.Join(filepath.Dir(cfgFile), "later")
	tokenFile := filepath.Join(dir, "token")
	writeConfig(t, cfgFile, "[roles.ops]\ntoken_source = \"file\"\ntoken_file = \""+tokenFile+"\"\nrole_arn = \""+otherARN+
		"\"\nsts_endpoint = \""+sb.STSURL+"\"\n")
	res, err := a.Reload(context.Background(), ReloadRequest{Trigger: TriggerSIGHUP})
	if err != nil {
		t.Fatalf("reload refused over a token file that is not there yet: %v", err)
	}
	if last := res.Changes[len(res.Changes)-1]; last.Role != "ops" || last.Change != daemon.ChangeAdded {
		t.Errorf("changes = %+v", res.Changes)
	}
	var last *daemon.ErrorStatus
	for deadline := time.Now().Add(5 * time.Second); last == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, r := range a.Status().Roles {
			if r.Name == "ops" {
				last = r.LastError
			}
		}
	}
	if last == nil || last.Code != "TokenFileMissing" || !strings.Contains(last.Message, "nor does its directory "+dir) || !strings.Contains(last.Hint, "create it") {
		t.Fatalf("ops last error = %+v, want TokenFileMissing naming the directory, with the fix", last)
	}
	if code, body := get(t, roleURL(a, "ops"), a.AuthToken()); code != 503 || !strings.Contains(body, "CredentialsUnavailable") {
		t.Errorf("ops before the file: %d %s", code, body)
	}
	tok, err := sb.Issuer.Mint(config.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, tokenFile, tok)
	waitServing(t, a, "ops", "")
}
