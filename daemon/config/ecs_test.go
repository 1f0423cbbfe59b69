package config

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func resolveWith(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterDaemonFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Resolve(func(k string) string { return env[k] })
}

func TestECSSettings(t *testing.T) {
	role := []string{"--role-arn", testARN, "--token-source", "sandbox", "--region", "eu-west-1"}

	cfg, err := resolveWith(t, role, nil)
	if err != nil || cfg.ECS != nil {
		t.Fatalf("without --ecs-task-definition: ECS = %+v, err %v; want nothing mirrored", cfg.ECS, err)
	}

	// The family alone: the default role's region, the endpoints the AWS
	// SDKs read for each service.
	cfg, err = resolveWith(t, append(role, "--ecs-task-definition", "web", "--ecs-cluster", "dev"), map[string]string{
		"AWS_ENDPOINT_URL":                 "http://127.0.0.1:4566",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:5000",
	})
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.ECS
	if e.TaskDefinition.Family != "web" || e.TaskDefinition.Pinned() || e.Cluster != "dev" || e.Region != "eu-west-1" {
		t.Errorf("ECS = %+v", e)
	}
	if e.Endpoint != "http://127.0.0.1:4566" || e.SSMEndpoint != "http://127.0.0.1:4566" || e.SecretsManagerEndpoint != "http://127.0.0.1:5000" {
		t.Errorf("endpoints: ECS %q SSM %q Secrets Manager %q", e.Endpoint, e.SSMEndpoint, e.SecretsManagerEndpoint)
	}
	if e.RoleARN != testARN {
		t.Errorf("ECS reads with %q, want the default role %s", e.RoleARN, testARN)
	}
	other := *e
	other.RoleARN = "arn:aws:iam::123456789012:role/other"
	if e.Same(&other) {
		t.Errorf("a mirror reading with another role is the same mirror")
	}
	if e.Origins["ecs-region"] != "flag --region" && !strings.Contains(e.Origins["ecs-region"], "region") {
		t.Errorf("region origin %q", e.Origins["ecs-region"])
	}

	// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns the variables off, as in
	// the SDKs; an ARN brings its own region.
	cfg, err = resolveWith(t, append(role, "--ecs-task-definition", "arn:aws:ecs:us-west-2:123456789012:task-definition/web:7"), map[string]string{
		"AWS_ENDPOINT_URL_ECS": "http://127.0.0.1:4566", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.ECS; e.Endpoint != "" || e.Region != "us-west-2" || e.TaskDefinition.Revision != 7 || !e.TaskDefinition.Pinned() {
		t.Errorf("ECS from an ARN = %+v", e)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a cluster without a task definition", append(role, "--ecs-cluster", "dev"), "needs --ecs-task-definition"},
		{"a container without a task definition", append(role, "--ecs-container", "app"), "needs --ecs-task-definition"},
		{"a malformed task definition", append(role, "--ecs-task-definition", "web:x"), `--ecs-task-definition "web:x"`},
		{"a malformed cluster", append(role, "--ecs-task-definition", "web", "--ecs-cluster", "my cluster"), `--ecs-cluster "my cluster"`},
		{"a malformed container", append(role, "--ecs-task-definition", "web", "--ecs-container", "a/b"), `--ecs-container "a/b"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveWith(t, tt.args, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}

	// Without any role yet the daemon waits for one; a mistake in the
	// ECS settings is still said at once.
	if _, err := resolveWith(t, []string{"--ecs-task-definition", "web:0"}, nil); err == nil || !strings.Contains(err.Error(), "--ecs-task-definition") {
		t.Errorf("no role and a bad task definition: %v", err)
	}
}
