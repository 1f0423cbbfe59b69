package bridge

import (
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox/kmsapi"
	"github.com/credd-dev/credd/test/internal/harness"
)

// userCodeRE finds the user code `credd login --no-wait` prints.
var userCodeRE = regexp.MustCompile(`\b([A-Z0-9]{4}-[A-Z0-9]{4})\b`)

// TestALocalDevcontainerSignsInWithGitHub: outside a Codespace there is no
// GITHUB_TOKEN; the role names the organisation's GitHub App, `credd
// login` runs GitHub's device flow, and its user token goes to the bridge.
func TestALocalDevcontainerSignsInWithGitHub(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.gh.AddApp(appClientID, "", true)
	w.gh.SetDeviceInterval(time.Second)
	env := harness.BaseEnv("GITHUB_REPOSITORY=" + org + "/app")
	d := credd.StartDaemon(t, env,
		"--token-source", "github", "--bridge-url", w.bridge.issuer, "--client-id", appClientID, "--github-url", w.ghURL,
		"--role-arn", roleARN, "--sts-endpoint", w.sts.STSURL, "--region", "us-east-1", "--session-name", "octocat@laptop")

	eventually(t, 20*time.Second, "status says to log in", func() bool {
		e := status(t, d).Roles[0].LastError
		return e != nil && e.Code == "LoginRequired" && strings.Contains(e.Hint+e.Message, "credd login")
	})
	out, stderr, code := credd.Run(t, d.Env, "login", "--no-wait", "--state-dir", d.StateDir)
	m := userCodeRE.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, w.ghURL+"/login/device") {
		t.Fatalf("credd login --no-wait: exit %d\n%s%s", code, out, stderr)
	}
	if err := w.gh.ApproveDevice(m[1], "octocat"); err != nil {
		t.Fatal(err)
	}
	var st statusDoc
	eventually(t, 30*time.Second, "the role is served after the login", func() bool { st = status(t, d); return st.Roles[0].Serving })
	if c := st.Roles[0].Claims; c == nil || c.Sub != "repo:credd-dev/app:user:octocat" {
		t.Errorf("claims after the GitHub login: %+v", c)
	}
	if !strings.HasSuffix(st.Roles[0].AssumedRoleArn, "assumed-role/codespaces-dev/octocat@laptop") {
		t.Errorf("assumed role %s", st.Roles[0].AssumedRoleArn)
	}
	// The kept refresh token is the state dir's, 0600, and nothing logged it.
	entries, _ := os.ReadDir(d.StateDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "login-github-") {
			if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
			}
		}
	}
	if logs := d.Logs(); strings.Contains(logs, "ghu_") || strings.Contains(logs, "ghr_") {
		t.Errorf("the daemon logged a GitHub token")
	}
}

// TestABridgeSigningWithKMS: with --kms-key-id the private key stays in
// KMS (here the stand-in, with a real RSA key); STS verifies what KMS
// signed with the key the bridge publishes.
func TestABridgeSigningWithKMS(t *testing.T) {
	t.Parallel()
	kms := kmsapi.New()
	srv := httptest.NewServer(kms.Handler())
	t.Cleanup(srv.Close)
	kms.CreateRSASigningKey("credd-bridge")

	w := newWorld(t)
	addr := strings.TrimPrefix(w.bridge.url, "http://")
	w.bridge.stop()
	// The AWS SDK's own variables, as a container platform sets them.
	b := startBridgeWithEnv(t, addr, w.bridge.issuer, w.ghURL, []string{
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_KMS=" + srv.URL,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example-secret", "AWS_EC2_METADATA_DISABLED=true",
	}, "--kms-key-id", "alias/credd-bridge")
	code, out := b.mint(t, w.token("octocat"), org+"/app", "sts.amazonaws.com")
	if code != 200 {
		t.Fatalf("the KMS-signing bridge refused: %d %v", code, out)
	}
	if err := assumeWith(w, out["token"]); err != nil {
		t.Errorf("STS refused the KMS-signed token: %v", err)
	}
	if n := kms.Calls("Sign"); n != 1 {
		t.Errorf("KMS saw %d Sign calls, want 1", n)
	}
}
