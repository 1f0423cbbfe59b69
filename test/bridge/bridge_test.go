package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/credd-dev/credd/daemon/sandbox/githubapi"
)

// sessionARN is what GetCallerIdentity says for octocat in the Codespace.
const sessionARN = "arn:aws:sts::" + account + ":assumed-role/codespaces-dev/octocat@octocat-app-x7q9"

func TestACodespaceGetsCredentialsForItsGitHubIdentity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ghToken := w.token("octocat")
	d := w.startDaemon(t, ghToken, org+"/app")

	var st statusDoc
	eventually(t, 30*time.Second, "the role is served", func() bool { st = status(t, d); return st.Roles[0].Serving })
	r := st.Roles[0]
	if r.TokenSource != "github" || r.Claims == nil || r.Claims.Sub != "repo:credd-dev/app:user:octocat" || r.Claims.Iss != w.bridge.issuer {
		t.Errorf("status: source %q, claims %+v", r.TokenSource, r.Claims)
	}
	if r.Claims != nil && (r.Claims.Extra["repository_permission"] != "push" || r.Claims.Extra["token_kind"] != "app-user") {
		t.Errorf("status claims lack the bridge's record: %v", r.Claims.Extra)
	}

	// A real SDK reads the endpoint and calls STS with what it got.
	exports := d.Exports(t)
	provider := endpointcreds.New(exports["AWS_CONTAINER_CREDENTIALS_FULL_URI"], func(o *endpointcreds.Options) {
		o.AuthorizationToken = exports["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	})
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(w.sts.STSURL),
		Credentials:  aws.NewCredentialsCache(provider),
	})
	id, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with credd's credentials: %v", err)
	}
	if got := aws.ToString(id.Arn); got != sessionARN {
		t.Errorf("GetCallerIdentity Arn = %s, want %s", got, sessionARN)
	}

	// The AWS CLI, configured by nothing but credd env, sees the same.
	if aws, err := exec.LookPath("aws"); err == nil {
		cmd := exec.Command(aws, "sts", "get-caller-identity", "--endpoint-url", w.sts.STSURL, "--output", "json")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_DEFAULT_REGION=us-east-1"}
		for k, v := range exports {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), sessionARN) {
			t.Errorf("aws sts get-caller-identity: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Errorf("the aws CLI is not installed: test/setup.sh installs it")
	}

	// credd doctor evaluates the role's trust policy against the bridge's token.
	policyFile := filepath.Join(t.TempDir(), "trust.json")
	if err := os.WriteFile(policyFile, []byte(trustPolicy(w.bridge.issuer)), 0o600); err != nil {
		t.Fatal(err)
	}
	shell := slices.Clone(d.Env)
	for k, v := range exports {
		shell = append(shell, k+"="+v)
	}
	out, stderr, code := credd.Run(t, shell, "doctor", "--state-dir", d.StateDir, "--trust-policy", policyFile)
	if code != 0 || !strings.Contains(out, "repo:credd-dev/app:user:octocat") {
		t.Errorf("credd doctor --trust-policy: exit %d\n%s%s", code, out, stderr)
	}

	// The bridge wrote its audit line, and no secret reached any log.
	if logs := w.bridge.logs.String(); !strings.Contains(logs, "token minted") || !strings.Contains(logs, "octocat") {
		t.Errorf("the bridge logged no audit line for the token:\n%s", logs)
	}
	for who, logs := range map[string]string{"bridge": w.bridge.logs.String(), "daemon": d.Logs()} {
		if strings.Contains(logs, ghToken) || strings.Contains(logs, "eyJ") {
			t.Errorf("the %s logged the GitHub token or a JWT", who)
		}
	}
}

// TestRefusals drives each refusal through the daemon, which must say in
// credd status what the bridge refused and why, serving nothing.
func TestRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.gh.AddUser("mallory")
	w.gh.AddRepo("elsewhere/app", true)
	w.gh.Grant("mallory", "elsewhere/app", "admin")
	w.gh.AddUser("reader")
	w.gh.Grant("reader", org+"/app", "pull")
	revoked := w.token("octocat")
	w.gh.Revoke(revoked)

	cases := []struct {
		name, token, repo string
		args              []string
		code              string // the daemon's error code
		says              string // what the message or hint must say
	}{
		{"an owner the bridge does not allow", w.token("mallory"), "elsewhere/app", nil, "BridgeRefused", "owner_not_allowed"},
		{"a user who may only read", w.token("reader"), org + "/app", nil, "BridgeRefused", "push"},
		{"a revoked GitHub token", revoked, org + "/app", nil, "BridgeGitHubTokenRefused", "--from-env"},
		{"an audience the bridge does not issue", w.token("octocat"), org + "/app", []string{"--audience", "api://elsewhere"}, "BridgeRefused", "audience"},
		{"a personal access token", w.gh.IssueToken("octocat", "classic-pat", "", 0), org + "/app", nil, "BridgeRefused", "personal access token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := w.startDaemon(t, c.token, c.repo, c.args...)
			var st statusDoc
			eventually(t, 30*time.Second, "status reports "+c.code, func() bool {
				st = status(t, d)
				e := st.Roles[0].LastError
				return e != nil && e.Code == c.code
			})
			r := st.Roles[0]
			if r.Serving {
				t.Errorf("the role is served despite the refusal")
			}
			if e := r.LastError; !strings.Contains(e.Message+" "+e.Hint, c.says) {
				t.Errorf("error %s: %q (hint %q) does not say %q", e.Code, e.Message, e.Hint, c.says)
			}
			if strings.Contains(d.Logs(), c.token) {
				t.Errorf("the daemon logged the GitHub token")
			}
		})
	}
	if n := w.sts.STS.Calls("AssumeRoleWithWebIdentity"); n != 0 {
		t.Errorf("STS saw %d AssumeRoleWithWebIdentity calls; every refusal should stop at the bridge", n)
	}
}

// TestSTSVerifiesTheBridgesSignature: STS accepts only tokens signed by a
// key the bridge publishes. A second bridge with the same issuer URL but
// its own key stands for a forger, or a key that was never published.
func TestSTSVerifiesTheBridgesSignature(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ghToken := w.token("octocat")
	assume := func(jwt string) error { return assumeWith(w, jwt) }

	code, good := w.bridge.mint(t, ghToken, org+"/app", "sts.amazonaws.com")
	if code != 200 || good["token"] == "" {
		t.Fatalf("the bridge refused to mint: %d %v", code, good)
	}
	if err := assume(good["token"]); err != nil {
		t.Fatalf("STS refused the bridge's token: %v", err)
	}
	forged := mintWithKeyOf(t, w, newKeyFile(t), ghToken)
	var apiErr smithy.APIError
	if err := assume(forged); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidIdentityToken" {
		t.Errorf("STS with a token signed by an unpublished key: %v, want InvalidIdentityToken", err)
	}
}

// TestKeyRotationKeepsIssuedTokensValid: after a rotation the bridge signs
// with the new key and still publishes the previous one, so a token minted
// a moment before the rotation is accepted until it expires.
func TestKeyRotationKeepsIssuedTokensValid(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ghToken := w.token("octocat")
	oldKey := newKeyFile(t)
	addr := strings.TrimPrefix(w.bridge.url, "http://")
	w.bridge.stop()
	before := startBridgeAt(t, addr, w.bridge.issuer, w.ghURL, oldKey)
	_, old := before.mint(t, ghToken, org+"/app", "sts.amazonaws.com")
	before.stop()

	after := startBridgeAt(t, addr, w.bridge.issuer, w.ghURL, newKeyFile(t), "--previous-key", oldKey)
	_, fresh := after.mint(t, ghToken, org+"/app", "sts.amazonaws.com")
	for name, jwt := range map[string]string{"minted before the rotation": old["token"], "minted after it": fresh["token"]} {
		if err := assumeWith(w, jwt); err != nil {
			t.Errorf("STS refused a token %s: %v", name, err)
		}
	}
}

// mintWithKeyOf starts a bridge that signs with keyFile but advertises
// w's issuer, and returns its JWT: iss, aud and sub are all right, only
// the key is not one the issuer publishes.
func mintWithKeyOf(t *testing.T, w *world, keyFile, ghToken string) string {
	t.Helper()
	addr := freeAddr(t)
	b := startBridgeAt(t, addr, w.bridge.issuer, w.ghURL, keyFile)
	code, out := b.mint(t, ghToken, org+"/app", "sts.amazonaws.com")
	if code != 200 {
		t.Fatalf("the second bridge refused to mint: %d %v", code, out)
	}
	return out["token"]
}

// TestTheBridgeRidesOutGitHubFaults: GitHub's 5xx and rate limits are
// passing trouble; the daemon retries and serves once GitHub answers.
func TestTheBridgeRidesOutGitHubFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.gh.InjectFault("/user", githubapi.Fault{Status: 502}, 2)
	d := w.startDaemon(t, w.token("octocat"), org+"/app")
	eventually(t, 60*time.Second, "the role is served after GitHub recovers", func() bool { return status(t, d).Roles[0].Serving })
	var minted int
	for _, line := range strings.Split(w.bridge.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "token minted" {
			minted++
		}
	}
	if minted == 0 {
		t.Errorf("no token minted after the faults:\n%s", w.bridge.logs.String())
	}
}
