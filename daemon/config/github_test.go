package config

import (
	"strings"
	"testing"
)

const (
	testBridge  = "https://bridge.example/issuer"
	testGHToken = "ghu_16C7e42F292c6912E7710c838347Ae178B4a"
)

func TestGitHubIsDetectedWhenABridgeHasATokenToSee(t *testing.T) {
	tokenFile := writeFile(t, "token", "x")
	withToken := map[string]string{"GITHUB_TOKEN": testGHToken, "GITHUB_REPOSITORY": "octo/app"}
	tests := []struct {
		name          string
		args          []string
		session, env  map[string]string
		want, because string
	}{
		{"a bridge URL and GITHUB_TOKEN choose github", []string{"--role-arn", testARN, "--bridge-url", testBridge}, nil, withToken,
			SourceGitHub, "a bridge URL is set and GITHUB_TOKEN is present"},
		{"a GITHUB_TOKEN handed over by a session counts", []string{"--role-arn", testARN, "--bridge-url", testBridge}, withToken, nil,
			SourceGitHub, "a bridge URL is set and GITHUB_TOKEN is present"},
		{"a bridge URL and a client ID choose github, for a login", []string{"--role-arn", testARN, "--bridge-url", testBridge, "--client-id", "Iv1.abc", "--github-repository", "octo/app"}, nil, nil,
			SourceGitHub, "a bridge URL and a client ID are set"},
		{"github comes before login", []string{"--role-arn", testARN, "--bridge-url", testBridge, "--issuer", "https://idp.example", "--client-id", "c"}, nil, withToken,
			SourceGitHub, "a bridge URL is set and GITHUB_TOKEN is present"},
		{"github comes before GitHub Actions", []string{"--role-arn", testARN, "--bridge-url", testBridge}, nil,
			map[string]string{"GITHUB_TOKEN": testGHToken, "GITHUB_REPOSITORY": "octo/app", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://actions.example/x"},
			SourceGitHub, "a bridge URL is set and GITHUB_TOKEN is present"},
		{"an Actions job's installation token leaves it to actions", []string{"--role-arn", testARN, "--bridge-url", testBridge}, nil,
			map[string]string{"GITHUB_TOKEN": "ghs_16C7e42F292c6912E7710c838347Ae178B4a", "GITHUB_REPOSITORY": "octo/app", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://actions.example/x"},
			SourceActions, "ACTIONS_ID_TOKEN_REQUEST_URL is set (GitHub Actions)"},
		{"a token file comes before github", []string{"--role-arn", testARN, "--bridge-url", testBridge, "--token-file", tokenFile}, nil, withToken,
			SourceFile, "a token file is configured"},
		{"GITHUB_TOKEN without a bridge is not github", []string{"--role-arn", testARN, "--issuer", "https://idp.example", "--client-id", "c"}, nil, withToken,
			SourceLogin, "an issuer and client ID are configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolveLayers(t, tt.args, tt.session, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Roles[0]
			if r.TokenSource != tt.want || r.SourceReason != tt.because {
				t.Errorf("source %s (%s), want %s (%s)", r.TokenSource, r.SourceReason, tt.want, tt.because)
			}
		})
	}
}

func TestABridgeAloneIsNoTokenSource(t *testing.T) {
	_, err := resolve(t, []string{"--role-arn", testARN, "--bridge-url", testBridge}, nil)
	if err == nil || !strings.Contains(err.Error(), "--bridge-url with a GITHUB_TOKEN") {
		t.Errorf("err = %v, want the missing source named with --bridge-url among the choices", err)
	}
}

func TestGitHubSaysWhatItLacks(t *testing.T) {
	repo := map[string]string{"GITHUB_REPOSITORY": "octo/app"}
	github := []string{"--role-arn", testARN, "--token-source", "github"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no bridge URL", github, repo, `--token-source "github": needs --bridge-url: set it to the issuer URL of your credd-bridge`},
		{"a bridge URL that is no URL", append(github, "--bridge-url", "bridge.example"), repo, `--bridge-url "bridge.example": use an http:// or https:// URL`},
		{"a cleartext bridge off loopback", append(github, "--bridge-url", "http://bridge.example"), repo,
			`--bridge-url "http://bridge.example" (from flag --bridge-url): it is http:// to a host that is not loopback, so the GitHub token would cross the network in the clear: use https://`},
		{"a cleartext bridge from the environment", github, map[string]string{"GITHUB_REPOSITORY": "octo/app", "CREDD_BRIDGE_URL": "http://10.0.0.1:8080"},
			`(from environment CREDD_BRIDGE_URL): it is http:// to a host that is not loopback`},
		{"no repository", append(github, "--bridge-url", testBridge), nil,
			"needs a repository: set --github-repository (or GITHUB_REPOSITORY, which a Codespace sets) to OWNER/REPO"},
		{"a repository without an owner", append(github, "--bridge-url", testBridge, "--github-repository", "app"), nil,
			`--github-repository "app": use OWNER/REPO`},
		{"a bad GITHUB_REPOSITORY names the variable", append(github, "--bridge-url", testBridge), map[string]string{"GITHUB_REPOSITORY": "octo/a b"},
			`GITHUB_REPOSITORY="octo/a b" (environment): the repository name must be`},
		{"a cleartext GitHub URL off loopback", append(github, "--bridge-url", testBridge, "--github-url", "http://ghes.example"), repo,
			`--github-url "http://ghes.example": it is http:// to a host that is not loopback`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(t, tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestGitHubTakesALoopbackBridgeOverHTTP(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:9/issuer", "http://[::1]:80", "https://bridge.example"} {
		cfg, err := resolve(t, []string{"--role-arn", testARN, "--token-source", "github", "--bridge-url", u, "--github-repository", "octo/app"}, nil)
		if err != nil {
			t.Errorf("--bridge-url %s: %v", u, err)
			continue
		}
		if cfg.Roles[0].BridgeURL != u {
			t.Errorf("BridgeURL = %q, want %q", cfg.Roles[0].BridgeURL, u)
		}
	}
}

// A GitHub role starts without a GitHub token: the source says in status
// how to hand one over, and a reload that does rebuilds it.
func TestGitHubStartsWithoutAGitHubTokenAndKeepsWhatItReads(t *testing.T) {
	args := []string{"--role-arn", testARN, "--token-source", "github", "--bridge-url", testBridge}
	cfg, err := resolve(t, args, map[string]string{"GITHUB_REPOSITORY": "octo/app"})
	if err != nil {
		t.Fatalf("a github role without GITHUB_TOKEN: %v", err)
	}
	without := cfg.Roles[0]
	if _, ok := without.SourceEnv["GITHUB_TOKEN"]; ok || without.SourceEnv["GITHUB_REPOSITORY"] != "octo/app" {
		t.Errorf("SourceEnv = %v", without.SourceEnv)
	}
	cfg, err = resolveLayers(t, args, map[string]string{"GITHUB_TOKEN": testGHToken}, map[string]string{"GITHUB_REPOSITORY": "octo/app"})
	if err != nil {
		t.Fatal(err)
	}
	with := cfg.Roles[0]
	if with.SourceEnv["GITHUB_TOKEN"] != testGHToken {
		t.Errorf("the handed-over GITHUB_TOKEN is not kept: %v", with.SourceEnv)
	}
	if with.Same(without) {
		t.Error("a role with a new GITHUB_TOKEN is the Same as one without: a reload would not rebuild its source")
	}
	for _, s := range with.Settings() {
		if strings.Contains(s.Value, testGHToken) {
			t.Errorf("setting %s shows the GitHub token", s.Name)
		}
	}
}

func TestGitHubSettingsPrecedence(t *testing.T) {
	defs := writeFile(t, "feature.toml", "bridge_url = \"https://defaults.example\"\ngithub_repository = \"defaults/app\"\ngithub_url = \"https://defaults-gh.example\"\n")
	conf := writeFile(t, "credd.toml", "bridge_url = \"https://file.example\"\ngithub_repository = \"file/app\"\ngithub_url = \"https://file-gh.example\"\n")
	base := []string{"--role-arn", testARN, "--token-source", "github", "--defaults-file", defs}
	envVars := map[string]string{"CREDD_BRIDGE_URL": "https://env.example", "CREDD_GITHUB_REPOSITORY": "env/app", "CREDD_GITHUB_URL": "https://env-gh.example", "GITHUB_REPOSITORY": "codespace/app"}
	tests := []struct {
		name                   string
		args                   []string
		session, env           map[string]string
		bridge, repo, ghURL    string
		bridgeOrigin, repoFrom string
	}{
		{"defaults file", base, nil, nil,
			"https://defaults.example", "defaults/app", "https://defaults-gh.example", "defaults file " + defs, "defaults file " + defs},
		{"the config file beats the defaults file", append(base, "--config", conf), nil, nil,
			"https://file.example", "file/app", "https://file-gh.example", "config file " + conf, "config file " + conf},
		{"CREDD_* beat the config file, and CREDD_GITHUB_REPOSITORY beats GITHUB_REPOSITORY", append(base, "--config", conf), nil, envVars,
			"https://env.example", "env/app", "https://env-gh.example", "environment CREDD_BRIDGE_URL", "environment CREDD_GITHUB_REPOSITORY"},
		{"a session beats the daemon's environment", append(base, "--config", conf), map[string]string{"CREDD_BRIDGE_URL": "https://session.example"}, envVars,
			"https://session.example", "env/app", "https://env-gh.example", "session CREDD_BRIDGE_URL", "environment CREDD_GITHUB_REPOSITORY"},
		{"flags beat everything", append(base, "--config", conf, "--bridge-url", "https://flag.example", "--github-repository", "flag/app", "--github-url", "https://flag-gh.example"), nil, envVars,
			"https://flag.example", "flag/app", "https://flag-gh.example", "flag --bridge-url", "flag --github-repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolveLayers(t, tt.args, tt.session, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Roles[0]
			if r.BridgeURL != tt.bridge || r.GitHubRepository != tt.repo || r.GitHubURL != tt.ghURL {
				t.Errorf("got %s %s %s, want %s %s %s", r.BridgeURL, r.GitHubRepository, r.GitHubURL, tt.bridge, tt.repo, tt.ghURL)
			}
			if r.Origins["bridge-url"] != tt.bridgeOrigin || r.Origins["github-repository"] != tt.repoFrom {
				t.Errorf("origins %q, %q; want %q, %q", r.Origins["bridge-url"], r.Origins["github-repository"], tt.bridgeOrigin, tt.repoFrom)
			}
		})
	}
}

func TestGitHubFallbacksServeOnlyTheGitHubSource(t *testing.T) {
	env := map[string]string{"GITHUB_REPOSITORY": "octo/app", "GITHUB_TOKEN": testGHToken}
	cfg, err := resolve(t, []string{"--role-arn", testARN, "--bridge-url", testBridge}, env)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Roles[0]
	if r.GitHubRepository != "octo/app" || r.Origins["github-repository"] != "environment GITHUB_REPOSITORY" ||
		r.GitHubURL != DefaultGitHubURL || r.Origins["github-url"] != "default" {
		t.Errorf("github role: repository %q (%s), GitHub URL %q (%s)", r.GitHubRepository, r.Origins["github-repository"], r.GitHubURL, r.Origins["github-url"])
	}

	cfg, err = resolve(t, []string{"--role-arn", testARN, "--issuer", "https://idp.example", "--client-id", "c"}, env)
	if err != nil {
		t.Fatal(err)
	}
	r = cfg.Roles[0]
	if r.GitHubRepository != "" || r.GitHubURL != "" {
		t.Errorf("a login role got the GitHub fallbacks: repository %q, GitHub URL %q", r.GitHubRepository, r.GitHubURL)
	}
	for _, s := range r.Settings() {
		if strings.HasPrefix(s.Name, "github-") {
			t.Errorf("a login role shows setting %s", s.Name)
		}
	}
}

func TestNamedRolesSetTheirOwnBridge(t *testing.T) {
	conf := writeFile(t, "credd.toml", `
role_arn = "`+testARN+`"
token_source = "github"
bridge_url = "https://bridge.example"
github_repository = "octo/app"

[roles.other]
role_arn = "arn:aws:iam::210987654321:role/other"
bridge_url = "https://other-bridge.example"
github_repository = "octo/other"
github_url = "https://ghes.example"
`)
	cfg, err := resolve(t, []string{"--config", conf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := cfg.Role(DefaultRoleName)
	other, _ := cfg.Role("other")
	if def.BridgeURL != "https://bridge.example" || def.GitHubRepository != "octo/app" || def.GitHubURL != DefaultGitHubURL {
		t.Errorf("default = %s %s %s", def.BridgeURL, def.GitHubRepository, def.GitHubURL)
	}
	if other.TokenSource != SourceGitHub || other.BridgeURL != "https://other-bridge.example" || other.GitHubRepository != "octo/other" || other.GitHubURL != "https://ghes.example" {
		t.Errorf("other = %s %s %s %s", other.TokenSource, other.BridgeURL, other.GitHubRepository, other.GitHubURL)
	}
}

func TestCheckRepository(t *testing.T) {
	for s, ok := range map[string]bool{
		"octo/app": true, "octo-org/app.js": true, "a/_x-y.z": true, "O/R": true,
		strings.Repeat("a", 39) + "/" + strings.Repeat("b", 100): true,
		"": false, "octo": false, "/app": false, "octo/": false, "octo/app/x": false,
		"octo/.": false, "octo/..": false, "oc_to/app": false, "octo/a b": false, "octo/ä": false,
		strings.Repeat("a", 40) + "/b": false, "a/" + strings.Repeat("b", 101): false,
	} {
		if err := CheckRepository(s); (err == nil) != ok {
			t.Errorf("CheckRepository(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}
