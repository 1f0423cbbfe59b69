package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sts"
)

const testARN = "arn:aws:iam::123456789012:role/dev"

func resolve(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterDaemonFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.Resolve(func(k string) string { return env[k] })
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	tokenFile := writeFile(t, "token", "x")
	cfgFile := writeFile(t, "credd.toml", `
role_arn = "arn:aws:iam::111111111111:role/from-file"
region = "eu-west-1"
duration = "2h"
token_file = "`+tokenFile+`"
`)
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantARN    string
		wantRegion string
	}{
		{"the file is used when nothing else is set", []string{"--config", cfgFile}, nil,
			"arn:aws:iam::111111111111:role/from-file", "eu-west-1"},
		{"the environment beats the file", []string{"--config", cfgFile},
			map[string]string{"CREDD_ROLE_ARN": "arn:aws:iam::222222222222:role/env", "CREDD_REGION": "eu-north-1"},
			"arn:aws:iam::222222222222:role/env", "eu-north-1"},
		{"a flag beats the environment", []string{"--config", cfgFile, "--role-arn", testARN},
			map[string]string{"CREDD_ROLE_ARN": "arn:aws:iam::222222222222:role/env"},
			testARN, "eu-west-1"},
		{"the config file itself can come from the environment", nil,
			map[string]string{"CREDD_CONFIG": cfgFile},
			"arn:aws:iam::111111111111:role/from-file", "eu-west-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolve(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Roles[0]
			if r.RoleARN != tt.wantARN || r.Region != tt.wantRegion || r.Duration != 2*time.Hour {
				t.Errorf("got %s %s %s, want %s %s 2h", r.RoleARN, r.Region, r.Duration, tt.wantARN, tt.wantRegion)
			}
			if r.TokenSource != SourceFile {
				t.Errorf("source = %q, want file chosen from the token file", r.TokenSource)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	tokenFile := writeFile(t, "token", "x")
	cfg, err := resolve(t, nil, map[string]string{
		"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
		"AWS_ROLE_ARN":                testARN,
		"GITHUB_USER":                 "octocat",
		"CODESPACE_NAME":              "fuzzy space/1",
		"XDG_RUNTIME_DIR":             "/run/user/1000",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Roles[0]
	checks := map[string][2]string{
		"listen":       {cfg.Listen, DefaultListen},
		"state dir":    {cfg.StateDir, "/run/user/1000/credd"},
		"role":         {r.RoleARN, testARN},
		"source":       {r.TokenSource, SourceFile},
		"audience":     {r.Audience, DefaultAudience},
		"region":       {r.Region, sts.DefaultRegion},
		"session name": {r.SessionName, "octocat@fuzzy-space-1"},
		"path":         {r.Path(), "/v1/credentials"},
		"duration":     {r.Duration.String(), "1h0m0s"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", what, c[0], c[1])
		}
	}
}

func TestSourceIsChosenFromWhatIsPresent(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"GitHub Actions variables choose actions", []string{"--role-arn", testARN},
			map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/x?a=1"}, SourceActions},
		{"a token command chooses command", []string{"--role-arn", testARN, "--token-command", "echo x"}, nil, SourceCommand},
		{"an issuer and client ID choose login", []string{"--role-arn", testARN, "--issuer", "https://idp.example", "--client-id", "c"}, nil, SourceLogin},
		{"sandbox needs no role", []string{"--token-source", "sandbox"}, nil, SourceSandbox},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolve(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Roles[0].TokenSource; got != tt.want {
				t.Errorf("source = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBadValuesSayWhatToFix(t *testing.T) {
	tokenFile := writeFile(t, "token", "x")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a role that is not an ARN", []string{"--role-arn", "dev", "--token-file", tokenFile}, `--role-arn "dev": role ARN "dev" is not an ARN`},
		{"an unknown token source", []string{"--role-arn", testARN, "--token-source", "magic"}, `--token-source "magic": not a token source: use one of file, command, github, actions, login, sandbox`},
		{"a non-loopback listen address", []string{"--token-source", "sandbox", "--listen", "0.0.0.0:9911"}, "loopback only"},
		{"a listen address without a port", []string{"--token-source", "sandbox", "--listen", "127.0.0.1"}, "use 127.0.0.1:PORT"},
		{"a duration STS refuses", []string{"--token-source", "sandbox", "--duration", "5m"}, "15m to 12h"},
		{"a duration that does not parse", []string{"--token-source", "sandbox", "--duration", "soon"}, "use a duration such as 1h"},
		{"no token source at all", []string{"--role-arn", testARN}, "no identity token source for role " + testARN + ": set --token-file, --token-command, --bridge-url with a GITHUB_TOKEN, or --issuer with --client-id"},
		{"no role", []string{"--token-file", tokenFile}, "no role to assume: set --role-arn"},
		{"neither a role nor a token source", nil, "no role to assume: set --role-arn (or CREDD_ROLE_ARN) to the ARN of the IAM role to assume, and a token source (--token-file"},
		{"the file source without a file", []string{"--role-arn", testARN, "--token-source", "file"}, `--token-source "file": needs --token-file`},
		{"a blank token command", []string{"--role-arn", testARN, "--token-command", " "}, "token source command (a token command is configured): needs --token-command"},
		{"a bad session name", []string{"--token-source", "sandbox", "--session-name", "a b"}, "--session-name"},
		{"a bad STS endpoint", []string{"--token-source", "sandbox", "--sts-endpoint", "sts.local"}, "http:// or https://"},
		{"a bad log level", []string{"--token-source", "sandbox", "--log-level", "loud"}, "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(t, tt.args, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestNamedRolesInheritTheTopLevel(t *testing.T) {
	tokenFile := writeFile(t, "token", "x")
	cfgFile := writeFile(t, "credd.toml", `
region = "eu-west-1"
token_file = "`+tokenFile+`"
role_arn = "`+testARN+`"

[roles.prod]
role_arn = "arn:aws:iam::210987654321:role/readonly"
duration = "3h"

[roles.audit]
role_arn = "arn:aws:iam::210987654321:role/audit"
region = "us-west-2"
`)
	cfg, err := resolve(t, []string{"--config", cfgFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range cfg.Roles {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "default,audit,prod" {
		t.Fatalf("roles = %s", got)
	}
	prod, _ := cfg.Role("prod")
	if prod.Region != "eu-west-1" || prod.Duration != 3*time.Hour || prod.TokenFile != tokenFile || prod.Path() != "/v1/credentials/prod" {
		t.Errorf("prod = %+v", prod)
	}
	audit, _ := cfg.Role("audit")
	if audit.Region != "us-west-2" || audit.Duration != time.Hour {
		t.Errorf("audit = %+v", audit)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"an unknown key", `role_arnn = "x"`, "unknown key role_arnn"},
		{"a role that is not a table", `roles = "x"`, "roles must be tables"},
		{"a number where a string belongs", `region = 1.5`, "must be a string"},
		{"broken TOML", `region = `, "config file"},
		{"a bad role name", "[roles.\"a b\"]\nrole_arn = \"" + testARN + "\"\ntoken_source = \"sandbox\"", "role name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "credd.toml", tt.content)
			_, err := resolve(t, []string{"--config", p, "--token-source", "sandbox"}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
