package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// startSandbox runs the issuer and STS emulator in the test process.
func startSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	return sb
}

// actionsDaemon starts credd with the GitHub Actions token source pointed
// at the sandbox issuer and STS pointed at the emulator.
func actionsDaemon(t *testing.T, sb *sandbox.Sandbox, args ...string) *harness.Daemon {
	t.Helper()
	env := harness.BaseEnv(
		"ACTIONS_ID_TOKEN_REQUEST_URL="+sb.ActionsTokenURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN="+sb.Issuer.RequestToken(),
		"CREDD_ROLE_ARN="+sandbox.DefaultRoleARN,
		"AWS_ENDPOINT_URL_STS="+sb.STSURL,
		"GITHUB_ACTOR=octocat",
	)
	return binary.StartDaemon(t, env, args...)
}

// setClientEnv replaces this process's AWS environment with exactly env,
// for SDKs that read os.Environ.
func setClientEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestGoSDKGetsCredentialsThroughTheDefaultChain(t *testing.T) {
	sb := startSandbox(t)
	d := actionsDaemon(t, sb)
	env := clientEnv(t, d, "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_STS="+sb.STSURL)
	if !strings.HasPrefix(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "http://127.0.0.1:") {
		t.Fatalf("FULL_URI = %q, want http://127.0.0.1:...", env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
	}
	setClientEnv(t, env)

	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := sts.NewFromConfig(cfg)
	for i := range 2 {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if want := "arn:aws:sts::123456789012:assumed-role/credd-sandbox/octocat@github-actions"; aws.ToString(out.Arn) != want {
			t.Errorf("call %d: arn = %s, want %s", i+1, aws.ToString(out.Arn), want)
		}
	}
	if got := sb.STS.Calls("AssumeRoleWithWebIdentity"); got != 1 {
		t.Errorf("AssumeRoleWithWebIdentity calls = %d, want 1", got)
	}
	if got := sb.STS.VerifiedCalls(); got != 2 {
		t.Errorf("GetCallerIdentity calls with a verified signature = %d, want 2", got)
	}
}

func TestTheEndpointFollowsTheContract(t *testing.T) {
	sb := startSandbox(t)
	d := actionsDaemon(t, sb)
	env := clientEnv(t, d)
	url, token := env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

	file, err := os.ReadFile(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != token {
		t.Errorf("token file and token variable differ")
	}
	if fi, _ := os.Stat(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, want 0600", fi.Mode().Perm())
	}

	get := func(auth string, header ...string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	resp, body := get(token)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	exp, err := time.Parse("2006-01-02T15:04:05Z", body["Expiration"].(string))
	if err != nil || time.Until(exp) < 50*time.Minute {
		t.Errorf("Expiration %v (%v)", body["Expiration"], err)
	}
	for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token", "RoleArn", "AccountId"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}
	if resp, body := get("wrong"); resp.StatusCode != 401 || body["code"] != "Unauthorized" {
		t.Errorf("wrong token: %d %v", resp.StatusCode, body)
	}
	if resp, _ := get(token, "Origin", "http://evil.example"); resp.StatusCode != 403 {
		t.Errorf("Origin: %d, want 403", resp.StatusCode)
	}
}
