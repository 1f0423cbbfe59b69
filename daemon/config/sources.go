package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Token sources.
const (
	SourceFile    = "file"
	SourceCommand = "command"
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
}

// TokenSources are the token sources, in the order they are detected:
// what the role configures (a file, a command) before what the
// environment offers (GitHub Actions), before a login.
var TokenSources = []TokenSource{
	{
		Name: SourceFile,
		Detect: func(r Role, _ func(string) string) string {
			return when(r.TokenFile != "", "a token file is configured")
		},
		Check: func(r Role) error {
			if r.TokenFile == "" {
				return errors.New("--token-source file needs --token-file (or AWS_WEB_IDENTITY_TOKEN_FILE)")
			}
			if _, err := os.Stat(r.TokenFile); err != nil {
				return fmt.Errorf("token file %s: %w: create it, or point --token-file at the file your identity provider writes", r.TokenFile, errors.Unwrap(err))
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
				return errors.New("--token-source command needs --token-command, a shell command that prints a JWT")
			}
			return nil
		},
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
				return errors.New("--token-source login needs --issuer (your IdP's OIDC issuer URL) and --client-id")
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

// chooseSource sets r.TokenSource, when the role names none, to the first
// source that fits, and says why in r.SourceReason.
func chooseSource(r *Role, getenv func(string) string) error {
	if r.TokenSource != "" {
		if _, ok := LookupSource(r.TokenSource); !ok {
			return fmt.Errorf("unknown --token-source %q: use one of %s", r.TokenSource, strings.Join(Sources, ", "))
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
	return fmt.Errorf("%w: no identity token source found: set --token-file, --token-command, or --issuer with --client-id; in GitHub Actions grant `permissions: id-token: write`; or try --token-source sandbox", ErrNoRole)
}

// checkSource says what the role lacks to use its token source, and keeps
// the variables that source reads.
func checkSource(r *Role, getenv func(string) string) error {
	s, _ := LookupSource(r.TokenSource)
	if len(s.Env) > 0 {
		r.SourceEnv = map[string]string{}
		for _, k := range s.Env {
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

func when(ok bool, why string) string {
	if ok {
		return why
	}
	return ""
}
