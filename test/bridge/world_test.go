package bridge

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/sandbox/githubapi"
	"github.com/credd-dev/credd/test/internal/harness"
)

const (
	// org is the GitHub organisation the bridge allows.
	org = "credd-dev"
	// account and roleARN are the sandbox role that trusts the bridge.
	account = "123456789012"
	roleARN = "arn:aws:iam::" + account + ":role/codespaces-dev"
	// appClientID is the GitHub App whose user tokens Codespaces hands out.
	appClientID = "Iv23liCoDeSpAcEs0001"
)

// world is one GitHub stand-in, bridge and STS, wired as in production.
type world struct {
	gh     *githubapi.Server
	ghURL  string
	bridge *bridgeProcess
	sts    *sandbox.Sandbox
}

// newWorld starts the GitHub stand-in with the user octocat, who may push
// to credd-dev/app, a bridge allowing credd-dev, and an STS whose role
// trusts the bridge as deploy/credd-bridge.yaml's example role does.
func newWorld(t *testing.T, bridgeArgs ...string) *world {
	t.Helper()
	w := &world{gh: githubapi.New(githubapi.Options{})}
	srv := httptest.NewServer(w.gh.Handler())
	t.Cleanup(srv.Close)
	w.ghURL = srv.URL
	w.gh.AddUser("octocat")
	w.gh.AddRepo(org+"/app", true)
	w.gh.Grant("octocat", org+"/app", "push")
	w.bridge = startBridge(t, w.ghURL, newKeyFile(t), bridgeArgs...)
	w.sts = startSTS(t, w.bridge.issuer)
	return w
}

// token is a Codespace's GITHUB_TOKEN for login: a GitHub App
// user-to-server token that expires in 8 hours.
func (w *world) token(login string) string {
	return w.gh.IssueToken(login, "app-user", appClientID, 8*time.Hour)
}

// trustPolicy is the example role's trust policy: the bridge's provider,
// aud sts.amazonaws.com, sub of the organisation's repositories, and
// sts:TagSession, which AWS requires for the token's session tags.
func trustPolicy(issuer string) string {
	prov := policy.ProviderName(issuer)
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Federated": %q},
    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
    "Condition": {
      "StringEquals": {%q: "sts.amazonaws.com"},
      "StringLike": {%q: "repo:%s/*:user:*"}
    }
  }]
}`, policy.ProviderARN(account, issuer), prov+":aud", prov+":sub", org)
}

func startSTS(t *testing.T, issuer string) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{
		TrustedIssuers: []string{issuer},
		Roles:          []sandbox.Role{{ARN: roleARN, Issuer: issuer, TrustPolicy: trustPolicy(issuer)}},
	}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	return sb
}

// newKeyFile writes a fresh RSA signing key as PEM, mode 0600.
func newKeyFile(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bridgeProcess is a running credd-bridge.
type bridgeProcess struct {
	url    string // where it listens
	issuer string // what its tokens' iss says
	logs   *harness.LockedBuffer
	cmd    *exec.Cmd
	done   chan struct{}
}

// startBridge runs credd-bridge on a free loopback port with the issuer
// http://127.0.0.1:PORT, and waits until it serves its discovery document.
func startBridge(t *testing.T, ghURL, keyFile string, args ...string) *bridgeProcess {
	t.Helper()
	addr := freeAddr(t)
	return startBridgeAt(t, addr, "http://"+addr, ghURL, keyFile, args...)
}

// startBridgeAt runs credd-bridge listening on addr with the given issuer.
func startBridgeAt(t *testing.T, addr, issuer, ghURL, keyFile string, args ...string) *bridgeProcess {
	t.Helper()
	return startBridgeWithEnv(t, addr, issuer, ghURL, nil, append([]string{"--signing-key", keyFile}, args...)...)
}

// startBridgeWithEnv runs credd-bridge with env added to a minimal
// environment and args, which name the signing key.
func startBridgeWithEnv(t *testing.T, addr, issuer, ghURL string, env []string, args ...string) *bridgeProcess {
	t.Helper()
	b := &bridgeProcess{url: "http://" + addr, issuer: issuer, logs: &harness.LockedBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(bridgeBin, append([]string{
		"--issuer", b.issuer, "--listen", addr, "--github-api", ghURL, "--allow", org,
	}, args...)...)
	b.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, env...)
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("bridge logs:\n%s", b.logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-b.done:
			t.Fatalf("credd-bridge exited early:\n%s", b.logs.String())
		default:
		}
		resp, err := http.Get(b.url + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("credd-bridge did not serve discovery within 20s: %v\n%s", err, b.logs.String())
		}
	}
}

// stop stops the bridge as a platform does, with SIGTERM, and waits.
func (b *bridgeProcess) stop() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

// freeAddr returns a loopback address with a port nobody listens on: the
// issuer URL must be known before the bridge starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// mint asks the bridge for a JWT as the daemon does.
func (b *bridgeProcess) mint(t *testing.T, githubToken, repository, audience string) (int, map[string]string) {
	t.Helper()
	body := fmt.Sprintf(`{"audience":%q,"repository":%q}`, audience, repository)
	req, _ := http.NewRequest(http.MethodPost, b.url+"/token", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+githubToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST /token: status %d, body not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// startDaemon starts credd with --token-source github as the Feature does
// in a Codespace: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_USER and
// CODESPACE_NAME in its environment.
func (w *world) startDaemon(t *testing.T, githubToken, repository string, args ...string) *harness.Daemon {
	t.Helper()
	env := harness.BaseEnv("GITHUB_TOKEN="+githubToken, "GITHUB_REPOSITORY="+repository,
		"GITHUB_USER=octocat", "CODESPACE_NAME=octocat-app-x7q9", "CODESPACES=true")
	return credd.StartDaemon(t, env, append([]string{
		"--token-source", "github", "--bridge-url", w.bridge.issuer,
		"--role-arn", roleARN, "--sts-endpoint", w.sts.STSURL, "--region", "us-east-1",
	}, args...)...)
}

// assumeWith calls AssumeRoleWithWebIdentity on w's STS with jwt, as an
// SDK would with a web identity token file.
func assumeWith(w *world, jwt string) error {
	client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.sts.STSURL), Credentials: aws.AnonymousCredentials{}})
	_, err := client.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("octocat"), WebIdentityToken: aws.String(jwt),
	})
	return err
}

// statusDoc is the part of `credd status --json` these tests read.
type statusDoc struct {
	Roles []struct {
		Serving        bool
		AssumedRoleArn string
		TokenSource    string
		Claims         *struct {
			Sub, Iss string
			Extra    map[string]string
		}
		LastError *struct{ Code, Message, Hint string }
	}
}

func status(t *testing.T, d *harness.Daemon) statusDoc {
	t.Helper()
	out, _, _ := credd.Run(t, d.Env, "status", "--json", "--state-dir", d.StateDir)
	var doc statusDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(doc.Roles) == 0 {
		t.Fatalf("status --json has no roles:\n%s", out)
	}
	return doc
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting until %s", timeout, what)
}
