package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Token sources.
const (
	SourceFile    = "file"
	SourceCommand = "command"
	SourceGitHub  = "github"
	SourceActions = "actions"
	SourceLogin   = "login"
	SourceSandbox = "sandbox"
)

// TokenSource is one --token-source value and everything config knows of
// it: when it is chosen for a role that names none, what a role needs to
// use it, and which variables it reads. Adding a source is one entry in
// TokenSources, one builder in the agent (agent/sources.go) and the source
// itself; the agent's tests check that every entry has a builder.
type TokenSource struct {
	Name string
	// Detect says why the source fits a role that names no source, or ""
	// if it does not. nil means it is never chosen unless named.
	Detect func(r Role, getenv func(string) string) string
	// Check says what a role using the source lacks; nil means nothing.
	Check func(r Role) error
	// Env names the variables the source reads from the environment the
	// role was resolved with. They are kept with the role (SourceEnv), so
	// a reload that hands over new values rebuilds it.
	Env []string
	// RoleEnv names more variables to keep that the role itself asks for.
	RoleEnv func(r Role) []string
}

// CommandEnv is the environment every token command gets, the values taken
// from credd's: where to find programs and the user's files, the locale,
// and how to reach the network. Nothing else of credd's environment
// reaches a command (not CREDD_CLIENT_SECRET, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN) unless the role
// lists it in --token-command-env, as `vault read` needs VAULT_ADDR.
var CommandEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ",
	"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_MESSAGES", "LC_MONETARY", "LC_NUMERIC", "LC_TIME",
	"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
	"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
}

// TokenSources are the token sources, in the order they are detected:
// what the role configures (a file, a command, a bridge) before what the
// environment offers (GitHub Actions), before a login.
var TokenSources = []TokenSource{
	{
		Name: SourceFile,
		Detect: func(r Role, _ func(string) string) string {
			return when(r.TokenFile != "", "a token file is configured")
		},
		// Only the setting is checked, never the file: whatever the file
		// is now (missing, its directory missing, empty, not a JWT, even a
		// directory, as `docker run -v` makes of a bind-mount source that
		// does not exist yet) may be right a moment later, and the file
		// source watches for that and says in status what is wrong. A
		// start or reload refused over it would leave a supervisor
		// restarting credd in a loop, and SDKs with no 503 to explain.
		Check: func(r Role) error {
			if r.TokenFile == "" {
				return errors.New("needs --token-file (or AWS_WEB_IDENTITY_TOKEN_FILE): set it to the file your identity provider writes")
			}
			return nil
		},
	},
	{
		Name: SourceCommand,
		Detect: func(r Role, _ func(string) string) string {
			return when(r.TokenCommand != "", "a token command is configured")
		},
		Check: func(r Role) error {
			if strings.TrimSpace(r.TokenCommand) == "" {
				return errors.New("needs --token-command: set it to a shell command that prints a JWT")
			}
			return nil
		},
		Env:     CommandEnv,
		RoleEnv: func(r Role) []string { return r.TokenCommandEnv },
	},
	{
		Name:   SourceGitHub,
		Detect: detectGitHub,
		Check:  checkGitHub,
		// A reload that hands over a new GITHUB_TOKEN (a new terminal in a
		// Codespace) rebuilds the source with it.
		Env: []string{"GITHUB_TOKEN", "GITHUB_REPOSITORY"},
	},
	{
		Name: SourceActions,
		Detect: func(_ Role, getenv func(string) string) string {
			return when(getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "", "ACTIONS_ID_TOKEN_REQUEST_URL is set (GitHub Actions)")
		},
		Env: []string{"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"},
	},
	{
		Name: SourceLogin,
		Detect: func(r Role, _ func(string) string) string {
			return when(r.Issuer != "" && r.ClientID != "", "an issuer and client ID are configured")
		},
		Check: func(r Role) error {
			if r.Issuer == "" || r.ClientID == "" {
				return errors.New("needs --issuer (your IdP's OIDC issuer URL) and --client-id: set both")
			}
			return nil
		},
	},
	{Name: SourceSandbox},
}

// Sources lists the valid --token-source values, in detection order.
var Sources = sourceNames()

func sourceNames() []string {
	names := make([]string, len(TokenSources))
	for i, s := range TokenSources {
		names[i] = s.Name
	}
	return names
}

// LookupSource returns the token source with the given name.
func LookupSource(name string) (TokenSource, bool) {
	for _, s := range TokenSources {
		if s.Name == name {
			return s, true
		}
	}
	return TokenSource{}, false
}

// errNoSource means no token source fits a role that names none.
var errNoSource = errors.New("no identity token source found")

// sourceSettings are the settings that give a role a token source, for
// messages that ask for one.
const sourceSettings = "--token-file, --token-command, --bridge-url with a GITHUB_TOKEN, or --issuer with --client-id"

// chooseSource sets r.TokenSource, when the role names none, to the first
// source that fits, and says why in r.SourceReason; errNoSource if none
// does.
func chooseSource(r *Role, getenv func(string) string) error {
	if r.TokenSource != "" {
		if _, ok := LookupSource(r.TokenSource); !ok {
			return fmt.Errorf("not a token source: use one of %s", strings.Join(Sources, ", "))
		}
		r.SourceReason = "set explicitly"
		return nil
	}
	for _, s := range TokenSources {
		if s.Detect == nil {
			continue
		}
		if why := s.Detect(*r, getenv); why != "" {
			r.TokenSource, r.SourceReason = s.Name, why
			return nil
		}
	}
	return errNoSource
}

// checkSource says what the role lacks to use its token source, and keeps
// the variables that source reads.
func checkSource(r *Role, getenv func(string) string) error {
	s, _ := LookupSource(r.TokenSource)
	names := s.Env
	if s.RoleEnv != nil {
		names = append(slices.Clip(names), s.RoleEnv(*r)...)
	}
	if len(names) > 0 {
		r.SourceEnv = map[string]string{}
		for _, k := range names {
			if v := getenv(k); v != "" {
				r.SourceEnv[k] = v
			}
		}
	}
	if s.Check == nil {
		return nil
	}
	return s.Check(*r)
}

// parseEnvNames reads --token-command-env: variable names separated by
// spaces or commas.
func parseEnvNames(v string) ([]string, error) {
	names := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	for _, n := range names {
		if !envNameRE.MatchString(n) {
			return nil, fmt.Errorf("%q is not a variable name: list names such as VAULT_ADDR, separated by spaces or commas", n)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func when(ok bool, why string) string {
	if ok {
		return why
	}
	return ""
}
