package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

func TestTwoRolesFromAConfigFileAreServedSideBySide(t *testing.T) {
	const (
		devARN  = "arn:aws:iam::123456789012:role/dev"
		prodARN = "arn:aws:iam::210987654321:role/readonly"
	)
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{Roles: []sandbox.Role{
		{ARN: devARN, SubjectPattern: "repo:credd-dev/*"},
		{ARN: prodARN, SubjectPattern: "repo:credd-dev/*"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })

	cfg := filepath.Join(t.TempDir(), "credd.toml")
	os.WriteFile(cfg, []byte(`
token_source = "actions"
sts_endpoint = "`+sb.STSURL+`"
role_arn     = "`+devARN+`"

[roles.prod-readonly]
role_arn = "`+prodARN+`"
duration = "2h"
`), 0o600)
	d := binary.StartDaemon(t, harness.BaseEnv(
		"ACTIONS_ID_TOKEN_REQUEST_URL="+sb.ActionsTokenURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN="+sb.Issuer.RequestToken(),
		"GITHUB_ACTOR=octocat",
	), "--config", cfg)
	waitServing(t, d)

	get := func(url, token string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}

	def := clientEnv(t, d)
	prod := d.Exports(t, "--profile", "prod-readonly")
	if !strings.HasSuffix(def["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "/v1/credentials") ||
		!strings.HasSuffix(prod["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "/v1/credentials/prod-readonly") {
		t.Fatalf("credd env URLs: default %s, prod-readonly %s", def["AWS_CONTAINER_CREDENTIALS_FULL_URI"], prod["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
	}
	token := def["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	for _, tc := range []struct{ url, arn string }{
		{def["AWS_CONTAINER_CREDENTIALS_FULL_URI"], devARN},
		{prod["AWS_CONTAINER_CREDENTIALS_FULL_URI"], prodARN},
	} {
		code, body := get(tc.url, token)
		if code != 200 || body["RoleArn"] != tc.arn || body["AccessKeyId"] == "" {
			t.Errorf("GET %s: %d %v, want 200 with RoleArn %s", tc.url, code, body["RoleArn"], tc.arn)
		}
	}
	_, a := get(def["AWS_CONTAINER_CREDENTIALS_FULL_URI"], token)
	_, b := get(prod["AWS_CONTAINER_CREDENTIALS_FULL_URI"], token)
	if a["AccessKeyId"] == b["AccessKeyId"] {
		t.Errorf("both roles served the same access key")
	}

	unknown := strings.TrimSuffix(def["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "/v1/credentials") + "/v1/credentials/nope"
	code, body := get(unknown, token)
	msg, _ := body["message"].(string)
	if code != 404 || !strings.Contains(msg, "default") || !strings.Contains(msg, "prod-readonly") {
		t.Errorf("unknown role: %d %v, want 404 listing default and prod-readonly", code, body)
	}

	out, stderr, exit := binary.Run(t, d.Env, "exec", "--profile", "prod-readonly", "--state-dir", d.StateDir, "--", "sh", "-c", `echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI"`)
	if exit != 0 || !strings.HasSuffix(strings.TrimSpace(out), "/v1/credentials/prod-readonly") {
		t.Errorf("exec --profile: exit %d %s: %s", exit, stderr, out)
	}
	if _, stderr, exit := binary.Run(t, d.Env, "env", "--profile", "nope", "--state-dir", d.StateDir); exit == 0 || !strings.Contains(stderr, "prod-readonly") {
		t.Errorf("env --profile nope: exit %d, want non-zero naming the roles: %s", exit, stderr)
	}
}
