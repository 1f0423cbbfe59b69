package config

import (
	"flag"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A sample value for every setting, and where a resolved Config shows
// it: a role setting in the default role's Settings (with its origin), a
// daemon setting in its field. A new flag without a sample fails the test
// below, so its twins are checked too.
var settingSamples = map[string]string{
	"role-arn": testARN, "token-source": "sandbox", "token-file": "/run/token", "token-command": "echo x",
	"token-command-env": "VAULT_ADDR", "audience": "api://credd", "issuer": "https://idp.example", "client-id": "credd",
	"client-secret": "s3cret", "scopes": "openid",
	"bridge-url": "https://bridge.example", "github-repository": "octo/app", "github-url": "https://github.example", "region": "eu-west-1", "sts-endpoint": "https://sts.example",
	"use-fips-endpoint": "true", "use-dualstack-endpoint": "true", "session-name": "tester", "duration": "2h",
	"listen": "127.0.0.1:1234", "state-dir": "/run/credd-test", "log-level": "debug", "keep-login": "true", "keep-token": "true",
	"ecs-task-definition": "web:3", "ecs-cluster": "dev", "ecs-container": "app",
	// Set to itself below: a file that exists.
	"config": "", "defaults-file": "",
}

func daemonField(cfg Config, setting string) string {
	switch setting {
	case "listen":
		return cfg.Listen
	case "state-dir":
		return cfg.StateDir
	case "config":
		return cfg.ConfigFile
	case "defaults-file":
		return cfg.DefaultsFile
	case "log-level":
		return cfg.LogLevel
	case "keep-login":
		return strconv.FormatBool(cfg.KeepLogin)
	case "keep-token":
		return strconv.FormatBool(cfg.KeepToken)
	case "ecs-task-definition", "ecs-cluster", "ecs-container":
		if cfg.ECS == nil {
			return ""
		}
		return map[string]string{"ecs-task-definition": cfg.ECS.TaskDefinition.String(),
			"ecs-cluster": cfg.ECS.Cluster, "ecs-container": cfg.ECS.Container}[setting]
	}
	return ""
}

// twinsRE reads the end of a flag's usage: (env CREDD_X) or
// (env CREDD_X, config-file key x).
var twinsRE = regexp.MustCompile(`\(env (CREDD_[A-Z_]+)(?:, config-file key ([a-z_]+))?\)$`)

// Every flag's usage ends with its twins, and the resolver reads each
// twin it names: the variable, and the config-file key where there is one.
func TestEveryFlagNamesTwinsTheResolverReads(t *testing.T) {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	RegisterDaemonFlags(fs)
	n := 0
	fs.VisitAll(func(fl *flag.Flag) {
		n++
		t.Run(fl.Name, func(t *testing.T) {
			m := twinsRE.FindStringSubmatch(fl.Usage)
			if m == nil {
				t.Fatalf("usage does not end with its twins, such as (env %s): %q", EnvName(fl.Name), fl.Usage)
			}
			envVar, key := m[1], m[2]
			sample, ok := settingSamples[fl.Name]
			if !ok {
				t.Fatalf("no sample value for --%s: add one to settingSamples", fl.Name)
			}
			if sample == "" {
				sample = writeFile(t, "twin.toml", "")
			}
			if v, origin := readAs(t, fl.Name, nil, map[string]string{envVar: sample}); v != sample || (origin != "" && origin != "environment "+envVar) {
				t.Errorf("with %s=%s the resolver read %q from %q", envVar, sample, v, origin)
			}
			if key == "" {
				if slices.Contains(append(roleKeys(), daemonKeys()...), fl.Name) {
					t.Errorf("usage names no config-file key, but the file reads %s", fileKey(fl.Name))
				}
				return
			}
			if key != fileKey(fl.Name) {
				t.Errorf("usage names key %s, want %s", key, fileKey(fl.Name))
			}
			path := writeFile(t, "twin.toml", key+" = "+strconv.Quote(sample)+"\n")
			if v, origin := readAs(t, fl.Name, []string{"--config", path}, nil); v != sample || (origin != "" && origin != "config file "+path) {
				t.Errorf("with %s = %q in the config file the resolver read %q from %q", key, sample, v, origin)
			}
		})
	})
	if n != len(roleSettings)+len(daemonSettings) {
		t.Errorf("%d flags, %d settings", n, len(roleSettings)+len(daemonSettings))
	}
}

// readAs resolves with args and env over a sandbox role and returns the
// value the setting got and, for a role setting, where from.
func readAs(t *testing.T, setting string, args []string, env map[string]string) (v, origin string) {
	t.Helper()
	if setting != "token-source" {
		args = append(args, "--token-source", "sandbox")
	}
	if setting == "ecs-cluster" || setting == "ecs-container" {
		// They describe the mirrored task, so they need one.
		args = append(args, "--ecs-task-definition", "web")
	}
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterDaemonFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Resolve(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if v := daemonField(cfg, setting); v != "" {
		return v, ""
	}
	for _, s := range cfg.Roles[0].Settings() {
		if s.Name == setting {
			v := s.Value
			switch setting {
			case "client-secret": // shown as (set)
				v = cfg.Roles[0].ClientSecret
			case "duration":
				v = strings.TrimSuffix(v, "0m0s")
			}
			return v, s.Origin
		}
	}
	return "", ""
}

func TestDaemonHelpShowsTheTwins(t *testing.T) {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	RegisterDaemonFlags(fs)
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	for _, want := range []string{"(env CREDD_ROLE_ARN, config-file key role_arn)", "(env CREDD_STATE_DIR, config-file key state_dir)", "(env CREDD_KEEP_TOKEN)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("-h does not show %s:\n%s", want, b.String())
		}
	}
}
