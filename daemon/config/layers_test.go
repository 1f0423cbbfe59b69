package config

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/sts"
)

func resolveLayers(t *testing.T, args []string, session, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterDaemonFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.ResolveLayers(Layers{Session: session, Getenv: func(k string) string { return env[k] }})
}

func TestEachLayerBeatsTheOnesBelowAndIsNamed(t *testing.T) {
	arn := func(n string) string { return "arn:aws:iam::123456789012:role/" + n }
	defs := writeFile(t, "feature.toml", "token_source = \"sandbox\"\nrole_arn = \""+arn("defaults")+"\"\nregion = \"ap-south-1\"\n")
	conf := writeFile(t, "credd.toml", "role_arn = \""+arn("config")+"\"\n")
	base := []string{"--defaults-file", defs}
	tests := []struct {
		name          string
		args          []string
		session, env  map[string]string
		want, origin  string
		region, rOrig string
	}{
		{"the defaults file is used when nothing else is set", base, nil, nil,
			arn("defaults"), "defaults file " + defs, "ap-south-1", "defaults file " + defs},
		{"the config file beats the defaults file", append(base, "--config", conf), nil, nil,
			arn("config"), "config file " + conf, "ap-south-1", "defaults file " + defs},
		{"the daemon's environment beats the config file", append(base, "--config", conf), nil,
			map[string]string{"CREDD_ROLE_ARN": arn("env"), "AWS_REGION": "eu-west-3"},
			arn("env"), "environment CREDD_ROLE_ARN", "ap-south-1", "defaults file " + defs},
		{"the session beats the daemon's environment", append(base, "--config", conf),
			map[string]string{"CREDD_ROLE_ARN": arn("session")}, map[string]string{"CREDD_ROLE_ARN": arn("env")},
			arn("session"), "session CREDD_ROLE_ARN", "ap-south-1", "defaults file " + defs},
		{"a flag beats the session", append(base, "--role-arn", arn("flag")),
			map[string]string{"CREDD_ROLE_ARN": arn("session")}, nil,
			arn("flag"), "flag --role-arn", "ap-south-1", "defaults file " + defs},
		{"fallback variables come last and the session's win", []string{"--token-source", "sandbox"},
			map[string]string{"AWS_ROLE_ARN": arn("fallback"), "AWS_REGION": "eu-central-1"}, map[string]string{"AWS_ROLE_ARN": arn("env"), "AWS_REGION": "us-west-1"},
			arn("fallback"), "session AWS_ROLE_ARN", "eu-central-1", "session AWS_REGION"},
		{"the built-in default comes last of all", []string{"--token-source", "sandbox"}, nil, nil,
			"", "", sts.DefaultRegion, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolveLayers(t, tt.args, tt.session, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Roles[0]
			if r.RoleARN != tt.want || r.Origins["role-arn"] != tt.origin {
				t.Errorf("role-arn = %q from %q, want %q from %q", r.RoleARN, r.Origins["role-arn"], tt.want, tt.origin)
			}
			if r.Region != tt.region || r.Origins["region"] != tt.rOrig {
				t.Errorf("region = %q from %q, want %q from %q", r.Region, r.Origins["region"], tt.region, tt.rOrig)
			}
		})
	}
}

func TestTheSessionNamesTheCodespaceUser(t *testing.T) {
	cfg, err := resolveLayers(t, []string{"--token-source", "sandbox"},
		map[string]string{"GITHUB_USER": "octocat", "CODESPACE_NAME": "octocat-fuzzy-space-1234"},
		map[string]string{"USER": "vscode"})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Roles[0]
	if r.SessionName != "octocat@octocat-fuzzy-space-1234" {
		t.Errorf("session name = %q", r.SessionName)
	}
	if got := r.Origins["session-name"]; got != "session GITHUB_USER + session CODESPACE_NAME" {
		t.Errorf("origin = %q", got)
	}
	long := strings.Repeat("u", 40)
	cfg, _ = resolveLayers(t, []string{"--token-source", "sandbox"},
		map[string]string{"GITHUB_USER": long, "CODESPACE_NAME": "space name/" + long}, nil)
	if got := cfg.Roles[0].SessionName; len(got) != 64 || sts.CheckSessionName(got) != nil {
		t.Errorf("long session name = %q, want 64 valid characters", got)
	}
}

func TestTheSessionCannotMoveTheDaemon(t *testing.T) {
	cfg, err := resolveLayers(t, []string{"--token-source", "sandbox"},
		map[string]string{"CREDD_STATE_DIR": "/tmp/elsewhere", "CREDD_CONFIG": "/nonexistent", "CREDD_LISTEN": "127.0.0.1:1234"},
		map[string]string{"XDG_RUNTIME_DIR": "/run/user/7"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/run/user/7/credd" || cfg.ConfigFile != "" {
		t.Errorf("state dir %q, config %q: the session moved them", cfg.StateDir, cfg.ConfigFile)
	}
	if cfg.Listen != "127.0.0.1:1234" {
		t.Errorf("listen = %q: the session may set it (a restart applies it)", cfg.Listen)
	}
}

func TestHandOffAllowList(t *testing.T) {
	got := HandOffEnv([]string{
		"CREDD_ROLE_ARN=arn", "CREDD_STATE_DIR=/s", "CREDD_CONFIG=/c", "CREDD_DEFAULTS_FILE=/d",
		"GITHUB_USER=octocat", "CODESPACE_NAME=cs", "GITHUB_TOKEN=ghu_x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=t",
		"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIA", "HOME=/home/x", "PATH=/bin", "CREDD_EMPTY=",
	})
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := "ACTIONS_ID_TOKEN_REQUEST_TOKEN,AWS_REGION,CODESPACE_NAME,CREDD_ROLE_ARN,GITHUB_TOKEN,GITHUB_USER"
	if strings.Join(keys, ",") != want {
		t.Errorf("handed off %v, want %s", keys, want)
	}
	for name, secret := range map[string]bool{"GITHUB_TOKEN": true, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": true, "CREDD_CLIENT_SECRET": true, "GITHUB_USER": false} {
		if IsSecretVar(name) != secret {
			t.Errorf("IsSecretVar(%s) = %v", name, !secret)
		}
	}
	if f := FilterHandOff(map[string]string{"LD_PRELOAD": "/x.so", "AWS_REGION": "eu-west-1"}); len(f) != 1 {
		t.Errorf("FilterHandOff kept %v", f)
	}
}

func TestSettingsShowSecretsAsSetOnly(t *testing.T) {
	cfg, err := resolveLayers(t, []string{"--role-arn", testARN, "--issuer", "https://idp.example", "--client-id", "c"},
		map[string]string{"CREDD_CLIENT_SECRET": "hunter2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Roles[0].Settings() {
		if strings.Contains(s.Value, "hunter2") {
			t.Fatalf("setting %s shows the secret", s.Name)
		}
		if s.Name == "client-secret" && (s.Value != "(set)" || s.Origin != "session CREDD_CLIENT_SECRET") {
			t.Errorf("client-secret = %+v", s)
		}
	}
}

func TestSameIgnoresWhereSettingsCameFrom(t *testing.T) {
	a, _ := resolveLayers(t, []string{"--token-source", "sandbox"}, map[string]string{"CREDD_REGION": "eu-west-1"}, nil)
	b, _ := resolveLayers(t, []string{"--token-source", "sandbox"}, nil, map[string]string{"CREDD_REGION": "eu-west-1"})
	c, _ := resolveLayers(t, []string{"--token-source", "sandbox"}, nil, map[string]string{"CREDD_REGION": "eu-west-2"})
	if !a.Roles[0].Same(b.Roles[0]) || a.Roles[0].Same(c.Roles[0]) {
		t.Error("Same compares origins, or ignores values")
	}
}
