package config

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/redact"
)

// Layers are where settings come from besides the command-line flags and
// the two files they name. Highest first, a setting is taken from:
//
//  1. the daemon's command-line flags;
//  2. Session, the environment handed over by `credd reload --from-env`;
//  3. the daemon's own environment (Getenv);
//  4. the --config file;
//  5. the --defaults-file file (the devcontainer Feature's options);
//  6. fallback variables (AWS_ROLE_ARN, AWS_REGION, GITHUB_USER, ...), read
//     session first, then the daemon's environment, and built-in defaults.
type Layers struct {
	// Session is the handed-off session environment; nil when none was
	// handed over. Variables outside the hand-off allow-list are ignored.
	Session map[string]string
	// Getenv reads the daemon's own environment: os.Getenv in production.
	Getenv func(string) string
}

// Origins of a setting, as `credd status` shows them.
const (
	originDefault = "default"
)

// env is the layered environment: the session's variables over the
// daemon's own.
type env struct {
	session map[string]string
	getenv  func(string) string
}

// lookup returns a variable's value and where it came from ("" if unset).
func (e env) lookup(name string) (value, origin string) {
	if HandedOff(name) {
		if v := e.session[name]; v != "" {
			return v, "session " + name
		}
	}
	if v := e.getenv(name); v != "" {
		return v, "environment " + name
	}
	return "", ""
}

func (e env) get(name string) string {
	v, _ := e.lookup(name)
	return v
}

// handOffVars are the non-CREDD_* variables a session hands to the daemon:
// its settings' fallbacks, the Codespace identity, and what token sources
// read from the environment.
var handOffVars = []string{
	"AWS_ROLE_ARN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "GITHUB_USER", "CODESPACE_NAME", "CODESPACES",
	"GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_ACTOR",
	"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
}

// fixedSettings are fixed for the daemon's life, so a session cannot set
// them: the client finds the socket through CREDD_STATE_DIR, the files
// are re-read, not replaced, on a reload, and only the supervisor says
// whether a start may keep the authorization token.
var fixedSettings = []string{"state-dir", "config", "defaults-file", "keep-token"}

// secretVars hold secrets: kept in memory only, never logged, shown as set.
var secretVars = []string{"GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CREDD_CLIENT_SECRET"}

// HandedOff reports whether a session may hand the variable name to the
// daemon: the one allow-list of `credd reload --from-env`.
func HandedOff(name string) bool {
	if slices.Contains(handOffVars, name) {
		return true
	}
	if !strings.HasPrefix(name, "CREDD_") {
		return false
	}
	for _, s := range fixedSettings {
		if name == EnvName(s) {
			return false
		}
	}
	return true
}

// IsSecretVar reports whether a handed-off variable holds a secret.
func IsSecretVar(name string) bool { return slices.Contains(secretVars, name) }

// HandOffEnv picks from environ (os.Environ's form) the non-empty
// variables a session hands to the daemon.
func HandOffEnv(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && v != "" && HandedOff(k) {
			out[k] = v
		}
	}
	return out
}

// FilterHandOff keeps the allow-listed, non-empty variables of a handed-off
// environment, so the daemon holds nothing it was not meant to get.
func FilterHandOff(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != "" && HandedOff(k) {
			out[k] = v
		}
	}
	return out
}

// value is a setting's value and the layer it came from.
type value struct{ v, origin string }

// layered resolves settings through every layer but the fallbacks.
type layered struct {
	flags              map[string]string // flags given on the command line
	env                env
	file, defaults     *fileConfig
	filePath, defsPath string
}

// top resolves a daemon or default-role setting.
func (l *layered) top(name string) value {
	if v := l.flags[name]; v != "" {
		return value{v, "flag --" + name}
	}
	if slices.Contains(fixedSettings, name) {
		if v := l.env.getenv(EnvName(name)); v != "" {
			return value{v, "environment " + EnvName(name)}
		}
	} else if v, o := l.env.lookup(EnvName(name)); v != "" {
		return value{v, o}
	}
	if v := l.file.top[name]; v != "" {
		return value{v, "config file " + l.filePath}
	}
	if v := l.defaults.top[name]; v != "" {
		return value{v, "defaults file " + l.defsPath}
	}
	return value{}
}

// role resolves a setting of a role: a named role's own table in either
// file comes first (it exists to differ from the top level), then the top
// level.
func (l *layered) role(name, setting string) value {
	if name != DefaultRoleName {
		if v := l.file.roles[name][setting]; v != "" {
			return value{v, "config file " + l.filePath + " [roles." + name + "]"}
		}
		if v := l.defaults.roles[name][setting]; v != "" {
			return value{v, "defaults file " + l.defsPath + " [roles." + name + "]"}
		}
	}
	return l.top(setting)
}

// roleNames are the named roles of both files, in name order.
func (l *layered) roleNames() []string {
	names := slices.Collect(maps.Keys(l.file.roles))
	for n := range l.defaults.roles {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Settings lists the role's settings that have a value, in flag order,
// with their origins. Secrets show as "(set)", never their value.
func (r Role) Settings() []daemon.Setting {
	var out []daemon.Setting
	for _, s := range roleSettings {
		v := r.settingValue(s.name)
		if v == "" {
			continue
		}
		if s.name == "client-secret" {
			v = "(set)"
		}
		// A token command or an endpoint URL may hold a literal secret
		// (`vault read -token=…`, https://user:pw@…): status shows the rest.
		v = redact.String(v)
		out = append(out, daemon.Setting{Name: s.name, Value: v, Origin: cmp.Or(r.Origins[s.name], originDefault)})
	}
	return out
}

func (r Role) settingValue(name string) string {
	switch name {
	case "role-arn":
		return r.RoleARN
	case "token-source":
		return r.TokenSource
	case "token-file":
		return r.TokenFile
	case "token-command":
		return r.TokenCommand
	case "token-command-env":
		return strings.Join(r.TokenCommandEnv, " ")
	case "audience":
		return r.Audience
	case "issuer":
		return r.Issuer
	case "client-id":
		return r.ClientID
	case "client-secret":
		return r.ClientSecret
	case "scopes":
		return r.Scopes
	case "region":
		return r.Region
	case "sts-endpoint":
		return r.STSEndpoint
	case "use-fips-endpoint":
		return trueOrEmpty(r.UseFIPS)
	case "use-dualstack-endpoint":
		return trueOrEmpty(r.UseDualStack)
	case "session-name":
		return r.SessionName
	case "duration":
		if r.Duration == 0 {
			return ""
		}
		return r.Duration.String()
	}
	return ""
}

// Same reports whether two resolved roles would be built alike: where a
// setting came from, or why a source was chosen, makes no difference.
func (r Role) Same(o Role) bool {
	r.Origins, o.Origins = nil, nil
	r.SourceReason, o.SourceReason = "", ""
	if len(r.SourceEnv) == 0 && len(o.SourceEnv) == 0 {
		r.SourceEnv, o.SourceEnv = nil, nil
	}
	return reflect.DeepEqual(r, o)
}

// sessionNameOrigin says which variables a derived session name came from.
func sessionNameOrigin(e env) string {
	var parts []string
	for _, name := range []string{"GITHUB_USER", "CODESPACE_NAME"} {
		if _, o := e.lookup(name); o != "" {
			parts = append(parts, o)
		}
	}
	if len(parts) == 0 {
		if _, o := e.lookup("GITHUB_ACTOR"); o != "" {
			parts = append(parts, o)
		}
	}
	if len(parts) == 0 {
		return originDefault + " (user@host)"
	}
	return strings.Join(parts, " + ")
}

// firstVar returns the first set variable among names, with its origin.
func firstVar(e env, names ...string) value {
	for _, n := range names {
		if v, o := e.lookup(n); v != "" {
			return value{v, o}
		}
	}
	return value{}
}

func trueOrEmpty(b bool) string {
	if b {
		return "true"
	}
	return ""
}
