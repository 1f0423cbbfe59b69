package config

import (
	"strings"
	"testing"
)

// A bad setting is named as the user wrote it, where they wrote it: a
// flag, a variable (the daemon's or a handed-off session's), or a file and
// its key, with the value as written ("20h", not 20h0m0s).
func TestBadSettingsAreNamedWhereTheyCameFrom(t *testing.T) {
	conf := func(t *testing.T, content string) string { return writeFile(t, "credd.toml", content) }
	sandbox := []string{"--token-source", "sandbox"}
	tests := []struct {
		name         string
		args         func(t *testing.T) []string
		session, env map[string]string
		want         string
	}{
		{"a flag", func(*testing.T) []string { return append(sandbox, "--duration", "20h") }, nil, nil,
			`--duration "20h": out of range`},
		{"the daemon's environment", func(*testing.T) []string { return sandbox }, nil, map[string]string{"CREDD_DURATION": "20h"},
			`CREDD_DURATION="20h" (environment): out of range`},
		{"a handed-off session", func(*testing.T) []string { return sandbox }, map[string]string{"CREDD_DURATION": "20h"}, nil,
			`CREDD_DURATION="20h" (handed over by credd reload --from-env): out of range`},
		{"the config file", func(t *testing.T) []string {
			return append(sandbox, "--config", conf(t, `duration = "20h"`))
		}, nil, nil, `duration = "20h" in config file `},
		{"a named role's table", func(t *testing.T) []string {
			return append(sandbox, "--config", conf(t, "[roles.prod]\nduration = \"20h\"\n"))
		}, nil, nil, `duration = "20h" in [roles.prod] of config file `},
		{"the defaults file", func(t *testing.T) []string {
			return append(sandbox, "--defaults-file", conf(t, `duration = "soon"`))
		}, nil, nil, `duration = "soon" in defaults file `},
		{"a fallback variable", func(*testing.T) []string { return sandbox }, nil, map[string]string{"AWS_REGION": "the moon"},
			`AWS_REGION="the moon" (environment): region "the moon" is not an AWS region name`},
		{"a region of another partition", func(*testing.T) []string {
			return []string{"--token-source", "sandbox", "--role-arn", "arn:aws-cn:iam::123456789012:role/x"}
		}, map[string]string{"AWS_REGION": "eu-west-1"}, nil,
			`AWS_REGION="eu-west-1" (handed over by credd reload --from-env): the region is in partition aws, but the role`},
		{"a role ARN", func(*testing.T) []string { return sandbox }, nil, map[string]string{"CREDD_ROLE_ARN": "dev"},
			`CREDD_ROLE_ARN="dev" (environment): role ARN "dev" is not an ARN`},
		{"a token source", func(t *testing.T) []string {
			return []string{"--config", conf(t, `token_source = "magic"`)}
		}, nil, nil, `token_source = "magic" in config file `},
		{"a true/false setting", func(t *testing.T) []string {
			return append(sandbox, "--config", conf(t, `use_fips_endpoint = "yes"`))
		}, nil, nil, `use_fips_endpoint = "yes" in config file `},
		{"a fallback true/false variable", func(*testing.T) []string { return sandbox }, nil, map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "on"},
			`AWS_USE_DUALSTACK_ENDPOINT="on" (environment): use true or false`},
		{"a list of variable names", func(*testing.T) []string { return append(sandbox, "--token-command-env", "A-B") }, nil, nil,
			`--token-command-env "A-B": "A-B" is not a variable name`},
		{"a session name", func(*testing.T) []string { return sandbox }, map[string]string{"CREDD_SESSION_NAME": "a b"}, nil,
			`CREDD_SESSION_NAME="a b" (handed over by credd reload --from-env): session name "a b" is not valid`},
		{"an STS endpoint", func(*testing.T) []string { return sandbox }, nil, map[string]string{"AWS_ENDPOINT_URL_STS": "sts.local"},
			`AWS_ENDPOINT_URL_STS="sts.local" (environment): use an http:// or https:// URL`},
		{"an issuer", func(t *testing.T) []string {
			return append(sandbox, "--config", conf(t, "[roles.ops]\nissuer = \"idp.example\"\n"))
		}, nil, nil, `issuer = "idp.example" in [roles.ops] of config file `},
		{"the listen address", func(t *testing.T) []string {
			return append(sandbox, "--config", conf(t, `listen = "0.0.0.0:9911"`))
		}, nil, nil, `listen = "0.0.0.0:9911" in config file `},
		{"the log level", func(*testing.T) []string { return sandbox }, nil, map[string]string{"CREDD_LOG_LEVEL": "loud"},
			`CREDD_LOG_LEVEL="loud" (environment): use debug, info, warn or error`},
		{"keep-login", func(*testing.T) []string { return append(sandbox, "--keep-login", "maybe") }, nil, nil,
			`--keep-login "maybe": use true or false`},
		{"keep-token, which only the daemon's environment sets", func(*testing.T) []string { return sandbox },
			map[string]string{"CREDD_KEEP_TOKEN": "true"}, map[string]string{"CREDD_KEEP_TOKEN": "sometimes"},
			`CREDD_KEEP_TOKEN="sometimes" (environment): use true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveLayers(t, tt.args(t), tt.session, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

// A value quoted in an error has its secrets redacted: the error reaches
// the terminal, the log and `credd status`.
func TestAQuotedValueKeepsItsSecret(t *testing.T) {
	_, err := resolveLayers(t, []string{"--token-source", "sandbox"}, nil,
		map[string]string{"CREDD_STS_ENDPOINT": "sts://admin:hunter2@sts.example"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "CREDD_STS_ENDPOINT=") {
		t.Fatalf("err = %v, want CREDD_STS_ENDPOINT named without its password", err)
	}
}
