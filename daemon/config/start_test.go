package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What the token file holds now is not the settings' business: the file
// source watches it and status says what is wrong, so a start or a reload
// never fails over a file that may be right a moment later.
func TestTheTokenFileNeedNotBeThereYet(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, path string }{
		{"a missing file", filepath.Join(dir, "token")},
		{"a missing directory", filepath.Join(dir, "not-yet", "token")},
		{"an empty file", writeFile(t, "empty", "")},
		{"a file that is not a JWT yet", writeFile(t, "garbage", "not a token\n")},
		{"a directory where the file belongs, as docker run -v makes", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, how := range []struct {
				name string
				args []string
				env  map[string]string
			}{
				{"flags", []string{"--role-arn", testARN, "--token-file", tt.path}, nil},
				{"the SDKs' variables", nil, map[string]string{"AWS_ROLE_ARN": testARN, "AWS_WEB_IDENTITY_TOKEN_FILE": tt.path}},
			} {
				cfg, err := resolve(t, how.args, how.env)
				if err != nil {
					t.Fatalf("with %s: %v", how.name, err)
				}
				if r := cfg.Roles[0]; r.TokenSource != SourceFile || r.TokenFile != tt.path {
					t.Errorf("with %s: role %+v", how.name, r)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "not-yet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("resolving made the token file's directory: %v", err)
	}
}

// ErrNoRole's words say which of the two is missing; errors.Is finds it
// either way, and the daemon-wide settings come with it so the daemon can
// start and wait.
func TestNoRoleSaysWhatIsMissing(t *testing.T) {
	tokenFile := writeFile(t, "token", "x")
	named := writeFile(t, "credd.toml", "[roles.prod]\nrole_arn = \""+testARN+"\"\n")
	tests := []struct {
		name    string
		args    []string
		want    string
		notWant string
	}{
		{"a role without a token source", []string{"--role-arn", testARN},
			"no identity token source for role " + testARN, "no role to assume"},
		{"a token source without a role", []string{"--token-file", tokenFile},
			"no role to assume: set --role-arn", "token source"},
		{"neither", nil, "no role to assume: set --role-arn (or CREDD_ROLE_ARN) to the ARN of the IAM role to assume, and a token source", ""},
		{"a named role without a token source", []string{"--config", named},
			named + `: role "prod": no identity token source for role ` + testARN, "no role to assume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolve(t, append(tt.args, "--listen", "127.0.0.1:1234", "--state-dir", "/run/credd-test"), nil)
			if !errors.Is(err, ErrNoRole) {
				t.Fatalf("err = %v, want ErrNoRole", err)
			}
			if !strings.Contains(err.Error(), tt.want) || (tt.notWant != "" && strings.Contains(err.Error(), tt.notWant)) {
				t.Errorf("err = %q, want %q without %q", err, tt.want, tt.notWant)
			}
			if cfg.Listen != "127.0.0.1:1234" || cfg.StateDir != "/run/credd-test" || len(cfg.Roles) != 0 {
				t.Errorf("config = %+v, want the daemon-wide settings and no role", cfg)
			}
		})
	}
}
