package container

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
	testidp "github.com/credd-dev/credd/test/internal/idp"
)

// The session a Codespace starts with: secrets and its identity arrive in
// the lifecycle commands' environment (--secrets-file), not in the
// container's first process.
const (
	secretRole    = "arn:aws:iam::123456789012:role/from-a-secret"
	githubUser    = "octocat"
	codespaceName = "credd-ci-upside-down-x7"
)

var codespaceSecrets = map[string]string{
	"CREDD_ROLE_ARN": secretRole,
	"GITHUB_USER":    githubUser,
	"CODESPACE_NAME": codespaceName,
}

// dev is a workspace that uses the Feature from a local path
// (.devcontainer/credd with localBinary), and its container.
type dev struct {
	t       *testing.T
	dir     string // the workspace folder
	label   string // --id-label
	secrets string // --secrets-file, or ""
	user    *hostUser
	id      string // the container, after up
	shared  bool
}

// sharedCleanups remove what tests share (the codespace container and its
// workspace) once every test ran.
var sharedCleanups []func()

// later runs f when the test ends, or at the end of the suite when shared.
func later(t *testing.T, shared bool, f func()) {
	if shared {
		sharedCleanups = append(sharedCleanups, f)
	} else {
		t.Cleanup(f)
	}
}

// newDev writes a workspace whose devcontainer.json is config with the
// Feature's options opts at "./credd". A shared one outlives its test.
func newDev(t *testing.T, name string, shared bool, config map[string]any, opts map[string]any, secrets map[string]string, u *hostUser) *dev {
	t.Helper()
	dir, err := os.MkdirTemp("", "credd-ws-")
	if err != nil {
		t.Fatal(err)
	}
	later(t, shared, func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	feature := filepath.Join(dir, ".devcontainer", "credd")
	if err := copyDir(filepath.Join(repoRoot, "devcontainer-feature", "src", "credd"), feature); err != nil {
		t.Fatal(err)
	}
	if err := installBinary(feature); err != nil {
		t.Fatal(err)
	}
	checks, err := os.ReadFile(filepath.Join(repoRoot, "devcontainer-feature", "test", "credd", "checks.sh"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "checks.sh"), checks, 0o644)
	opts["localBinary"] = "bin/credd"
	cfg := map[string]any{"name": name, "image": baseImage, "remoteUser": "vscode", "features": map[string]any{"./credd": opts}}
	for k, v := range config {
		cfg[k] = v
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ".devcontainer", "devcontainer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	d := &dev{t: t, dir: dir, label: "credd-ci=" + name, shared: shared}
	if secrets != nil {
		b, _ := json.Marshal(secrets)
		d.secrets = filepath.Join(dir, ".secrets.json")
		os.WriteFile(d.secrets, b, 0o600)
	}
	if u != nil {
		d.user = u
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, int(u.uid), int(u.gid)) })
	}
	t.Logf("workspace %s:\n%s", dir, b)
	return d
}

// up runs `devcontainer up` and returns its output; the test fails if it does.
func (d *dev) up() string {
	d.t.Helper()
	args := []string{"up", "--workspace-folder", d.dir, "--id-label", d.label, "--docker-path", dockerBin}
	if d.secrets != "" {
		args = append(args, "--secrets-file", d.secrets)
	}
	stdout, stderr, err := devcontainer(d.t, 10*time.Minute, d.user, args...)
	var res struct {
		Outcome     string `json:"outcome"`
		ContainerID string `json:"containerId"`
		Message     string `json:"message"`
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	json.Unmarshal([]byte(lines[len(lines)-1]), &res)
	if err != nil || res.Outcome != "success" {
		d.t.Fatalf("devcontainer up: %v (%s %s)\n%s\n%s", err, res.Outcome, res.Message, tail(stderr, 60), stdout)
	}
	if d.id == "" {
		later(d.t, d.shared, func() { docker(context.Background(), "rm", "-f", res.ContainerID) })
	}
	d.id = res.ContainerID
	return stderr
}

// exec runs a bash script in the container as the remote user, the way
// `devcontainer exec` does, and returns its output and whether it exited 0.
func (d *dev) exec(script string) (string, bool) {
	d.t.Helper()
	stdout, stderr, err := devcontainer(d.t, 3*time.Minute, d.user,
		"exec", "--workspace-folder", d.dir, "--id-label", d.label, "--docker-path", dockerBin,
		"bash", "-c", script)
	out := stdout
	if err != nil {
		out += "\n" + tail(stderr, 20)
	}
	return out, err == nil
}

// must is exec that fails the test when the script fails.
func (d *dev) must(what, script string) string {
	d.t.Helper()
	out, ok := d.exec(script)
	if !ok {
		d.t.Fatalf("%s: the script failed:\n%s\n-- container log:\n%s", what, out, d.logs())
	}
	return out
}

func (d *dev) logs() string {
	out, stderr, _ := docker(context.Background(), "logs", d.id)
	return tail(out+stderr, 40)
}

func (d *dev) stop() {
	d.t.Helper()
	if _, _, err := docker(context.Background(), "stop", "-t", "10", d.id); err != nil {
		d.t.Fatal(err)
	}
}

// identityScript waits up to 60 s for the AWS CLI in the container to get
// credentials whose assumed-role ARN ends in suffix, asking the sandbox STS
// (its URL from credd status --json) who they belong to.
func identityScript(suffix string) string {
	return `
for i in $(seq 60); do
	sts=$(credd status --json 2>/dev/null | sed -n 's/.*"stsUrl": *"\([^"]*\)".*/\1/p')
	if [ -n "$sts" ]; then
		arn=$(aws sts get-caller-identity --region us-east-1 --endpoint-url "$sts" --query Arn --output text 2>/dev/null)
		case "$arn" in *` + suffix + `) echo "ARN $arn"; exit 0 ;; esac
	fi
	sleep 1
done
echo "no credentials for *` + suffix + ` after 60 s; last ARN: ${arn:-none}"
credd status
tail -n 30 /var/lib/credd/credd.log
exit 1
`
}

var codespace *dev // cases b, d, e share one container

func TestCodespaceStyleUpServesTheDevelopersIdentity(t *testing.T) {
	record(t)
	d := newDev(t, "codespace", true, nil, map[string]any{"tokenSource": "sandbox"}, codespaceSecrets, nil)
	log := d.up()
	codespace = d
	out := d.must("credentials for the secret's role and the Codespace's identity",
		identityScript("assumed-role/from-a-secret/"+githubUser+"@"+codespaceName))
	t.Logf("%s", strings.TrimSpace(out))
	for _, hook := range []string{"credd (start)", "credd (attach)"} {
		if !strings.Contains(log, hook) {
			t.Errorf("devcontainer up's log has no %q line from lifecycle.sh:\n%s", hook, tail(log, 40))
		}
	}
	st := d.must("status", "credd status")
	if !strings.Contains(st, "session CREDD_ROLE_ARN") {
		t.Errorf("credd status does not say the role came from the session:\n%s", st)
	}
}

func TestKilledDaemonComesBack(t *testing.T) {
	record(t)
	d := codespace
	if d == nil {
		t.Skip("needs the container of TestCodespaceStyleUpServesTheDevelopersIdentity")
	}
	d.t = t
	out := d.must("a killed daemon comes back", `source /workspaces/$(basename `+d.dir+`)/checks.sh && comes_back`)
	t.Logf("%s", strings.TrimSpace(out))
	out = d.must("credentials again", identityScript("assumed-role/from-a-secret/"+githubUser+"@"+codespaceName))
	t.Logf("%s", strings.TrimSpace(out))
}

func TestStopAndUpAgainServesAgain(t *testing.T) {
	record(t)
	d := codespace
	if d == nil {
		t.Skip("needs the container of TestCodespaceStyleUpServesTheDevelopersIdentity")
	}
	d.t = t
	before := d.id
	d.stop()
	d.up()
	if d.id != before {
		t.Errorf("devcontainer up made a new container %s instead of starting %s", d.id, before)
	}
	out := d.must("credentials after the restart", identityScript("assumed-role/from-a-secret/"+githubUser+"@"+codespaceName))
	t.Logf("%s", strings.TrimSpace(out))
	out = d.must("one supervisor, one daemon", `source /workspaces/$(basename `+d.dir+`)/checks.sh && one_daemon && test "$(ls -d /var/lib/credd/supervisor.*.lock | wc -l)" = 1`)
	t.Logf("%s", strings.TrimSpace(out))
}

// hostUser1500 makes (or finds) a host user with UID 1500 and gives it the
// engine's socket.
func hostUser1500(t *testing.T) *hostUser {
	t.Helper()
	const uid = 1500
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		out, err := exec.Command("useradd", "--uid", strconv.Itoa(uid), "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "credd-ci-1500").CombinedOutput()
		if err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("userdel", "credd-ci-1500").Run() })
		if u, err = user.LookupId(strconv.Itoa(uid)); err != nil {
			t.Fatal(err)
		}
	}
	gid, _ := strconv.Atoi(u.Gid)
	home, err := os.MkdirTemp("", "credd-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	os.Chown(home, uid, gid)
	if err := os.Chown(dockerSock, 0, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dockerSock, 0o660)
	t.Cleanup(func() { os.Chown(dockerSock, 0, 0) })
	return &hostUser{uid: uid, gid: uint32(gid), home: home}
}

func TestHostUserWithUID1500(t *testing.T) {
	record(t)
	u := hostUser1500(t)
	d := newDev(t, "uid1500", false, nil, map[string]any{"tokenSource": "sandbox"}, codespaceSecrets, u)
	d.up()
	out := d.must("the remote user has the host's UID and owns the state dir",
		`set -x; test "$(id -u)" = 1500 && test "$(stat -c %u /var/lib/credd)" = 1500`)
	t.Logf("%s", out)
	out = d.must("credentials as UID 1500", identityScript("assumed-role/from-a-secret/"+githubUser+"@"+codespaceName))
	t.Logf("%s", strings.TrimSpace(out))
	if logs := d.logs(); !strings.Contains(logs, "gave /var/lib/credd to vscode (uid 1500") {
		t.Errorf("the container log does not say the entrypoint repaired the state dir:\n%s", logs)
	}
}

func TestFeatureScenariosWithTheCLI(t *testing.T) {
	record(t)
	dir, err := os.MkdirTemp("", "credd-features-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src := filepath.Join(repoRoot, "devcontainer-feature")
	if err := copyDir(filepath.Join(src, "src"), filepath.Join(dir, "src")); err != nil {
		t.Fatal(err)
	}
	if err := copyDir(filepath.Join(src, "test", "credd"), filepath.Join(dir, "test", "credd")); err != nil {
		t.Fatal(err)
	}
	if err := installBinary(filepath.Join(dir, "src", "credd")); err != nil {
		t.Fatal(err)
	}
	// The scenarios use the local image and no Feature from ghcr.io (the
	// image has the AWS CLI already); the real ones stay for GitHub CI.
	path := filepath.Join(dir, "test", "credd", "scenarios.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var scenarios map[string]map[string]any
	if err := json.Unmarshal(b, &scenarios); err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeysOf(scenarios) {
		s := scenarios[name]
		s["image"] = baseImage
		features, _ := s["features"].(map[string]any)
		for ref := range features {
			if strings.Contains(ref, "/") {
				delete(features, ref)
			}
		}
	}
	b, _ = json.MarshalIndent(scenarios, "", "  ")
	os.WriteFile(path, b, 0o644)
	stdout, stderr, err := devcontainer(t, 20*time.Minute, nil,
		"features", "test", "--project-folder", dir, "--features", "credd", "--skip-autogenerated")
	out := stdout + stderr
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Passed") || strings.Contains(line, "Failed") || strings.Contains(line, "passed") || strings.Contains(line, "failed") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if err != nil {
		t.Fatalf("devcontainer features test: %v\n%s", err, tail(out, 80))
	}
	if strings.Contains(out, "ghcr.io") || strings.Contains(out, "mcr.microsoft.com") {
		t.Errorf("something was fetched from a registry:\n%s", tail(out, 40))
	}
}

func sortedKeysOf(m map[string]map[string]any) []string {
	a := map[string]any{}
	for k := range m {
		a[k] = nil
	}
	return sortedKeys(a)
}

var (
	codeRe = regexp.MustCompile(`and enter the code\s+(\S+)`)
	uriRe  = regexp.MustCompile(`open\s+(http\S+)\s+and enter`)
)

const loginRole = "arn:aws:iam::123456789012:role/sso-dev"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// servingScript waits up to 60 s for credd to serve a role, and prints
// the subject it logged in as.
const servingScript = `
for i in $(seq 120); do
	if credd status --json 2>/dev/null | grep -q '"serving": true'; then
		credd status --json | sed -n 's/.*"assumedRoleArn": *"\([^"]*\)".*/assumed \1/p; s/.*"sub": *"\([^"]*\)".*/sub \1/p'
		exit 0
	fi
	sleep 0.5
done
echo "not serving after 60 s"
credd status
tail -n 30 /var/lib/credd/credd.log
exit 1
`

func TestLoginIsKeptAcrossAStop(t *testing.T) {
	record(t)
	p := testidp.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{
		TrustedIssuers: []string{p.URL},
		Roles:          []sandbox.Role{{ARN: loginRole, Audience: testidp.ClientID, SubjectPattern: "*", Issuer: p.URL}},
	}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })

	port := freePort(t)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/v1/credentials", port)
	d := newDev(t, "login", false, map[string]any{
		"runArgs":   []string{"--network", "host"}, // the IdP and STS listen on the host's loopback
		"remoteEnv": map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint},
	}, map[string]any{
		"tokenSource": "login", "issuer": p.URL, "clientId": testidp.ClientID, "port": strconv.Itoa(port),
		"roleArn": loginRole, "region": "us-east-1",
	}, map[string]string{
		"CREDD_STS_ENDPOINT": sb.STSURL,
		"GITHUB_USER":        githubUser, "CODESPACE_NAME": codespaceName,
	}, nil)
	log := d.up()
	if !strings.Contains(log, "credd login") {
		t.Errorf("devcontainer up's log does not tell to run credd login:\n%s", tail(log, 30))
	}

	out := d.must("credd login --no-wait", "credd login --no-wait")
	code, uri := codeRe.FindStringSubmatch(out), uriRe.FindStringSubmatch(out)
	if code == nil || uri == nil {
		t.Fatalf("credd login --no-wait printed no code:\n%s", out)
	}
	testidp.Approve(t, uri[1], code[1], "alice", false)
	out = d.must("credentials after the login", servingScript)
	if !strings.Contains(out, "sub alice") || !strings.Contains(out, "assumed-role/sso-dev/"+githubUser+"@"+codespaceName) {
		t.Errorf("after the login:\n%s", out)
	}
	restart := time.Now()
	d.stop()
	d.up()
	out = d.must("credentials after the restart, with no login", servingScript)
	if !strings.Contains(out, "sub alice") {
		t.Errorf("after the restart:\n%s", out)
	}
	// Nobody approved a login after the restart: serving as alice means
	// the kept refresh token was used (the IdP's /token saw it).
	renewed := false
	for _, poll := range p.Polls(t) {
		renewed = renewed || poll.After(restart)
	}
	if !renewed {
		t.Errorf("the IdP saw no token request after the restart at %s", restart.Format(time.StampMilli))
	}
	st := d.must("the kept login", "ls -ln /var/lib/credd/ && test -n \"$(find /var/lib/credd -name 'login-*.json' -perm 0600)\" && credd status")
	t.Logf("%s", st)
}
