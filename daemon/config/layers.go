package config

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
	"strconv"
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

// lookup returns a variable's value and where it came from (the zero
// value if unset).
func (e env) lookup(name string) value {
	if HandedOff(name) {
		if v := e.session[name]; v != "" {
			return value{v, "session " + name, name + "=" + quote(v) + " (handed over by credd reload --from-env)"}
		}
	}
	return e.own(name)
}

// own looks a variable up in the daemon's own environment only.
func (e env) own(name string) value {
	if v := e.getenv(name); v != "" {
		return value{v, "environment " + name, name + "=" + quote(v) + " (environment)"}
	}
	return value{}
}

func (e env) get(name string) string { return e.lookup(name).v }

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

// value is a setting's value, the layer it came from (as status shows it),
// and, for errors, the setting as that layer spells it with the value as
// the user wrote it: --duration "20h", CREDD_DURATION="20h" (environment),
// duration = "20h" in config file /etc/credd.toml.
type value struct{ v, origin, quoted string }

// said names the setting in an error: as the user wrote it, or, for a
// value nobody wrote (a default), as its flag with the value's origin.
func (v value) said(setting string) string {
	switch {
	case v.quoted != "":
		return v.quoted
	case v.v == "":
		return "--" + setting
	}
	return "--" + setting + " " + quote(v.v) + " (" + cmp.Or(v.origin, originDefault) + ")"
}

// quote quotes a value for an error message. A value that holds a
// secret (a URL with a password, say) is shown with the secret redacted:
// errors reach the terminal, the log and `credd status`.
func quote(v string) string { return strconv.Quote(redact.String(v)) }

// fileKey is the config-file key of a setting: the flag name with '_' for
// '-'.
func fileKey(setting string) string { return strings.ReplaceAll(setting, "-", "_") }

// inFile is a value read from a config-format file; table is "" for the
// top level, else a named role's table such as "roles.prod".
func inFile(v, kind, path, table, setting string) value {
	origin, where := kind+" "+path, kind+" "+path
	if table != "" {
		origin += " [" + table + "]"
		where = "[" + table + "] of " + where
	}
	return value{v, origin, fileKey(setting) + " = " + quote(v) + " in " + where}
}

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
		return value{v, "flag --" + name, "--" + name + " " + quote(v)}
	}
	if slices.Contains(fixedSettings, name) {
		if v := l.env.own(EnvName(name)); v.v != "" {
			return v
		}
	} else if v := l.env.lookup(EnvName(name)); v.v != "" {
		return v
	}
	if v := l.file.top[name]; v != "" {
		return inFile(v, "config file", l.filePath, "", name)
	}
	if v := l.defaults.top[name]; v != "" {
		return inFile(v, "defaults file", l.defsPath, "", name)
	}
	return value{}
}

// role resolves a setting of a role: a named role's own table in either
// file comes first (it exists to differ from the top level), then the top
// level.
func (l *layered) role(name, setting string) value {
	if name != DefaultRoleName {
		if v := l.file.roles[name][setting]; v != "" {
			return inFile(v, "config file", l.filePath, "roles."+name, setting)
		}
		if v := l.defaults.roles[name][setting]; v != "" {
			return inFile(v, "defaults file", l.defsPath, "roles."+name, setting)
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
	case "bridge-url":
		return r.BridgeURL
	case "github-repository":
		return r.GitHubRepository
	case "github-url":
		return r.GitHubURL
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
		if o := e.lookup(name).origin; o != "" {
			parts = append(parts, o)
		}
	}
	if len(parts) == 0 {
		if o := e.lookup("GITHUB_ACTOR").origin; o != "" {
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
		if v := e.lookup(n); v.v != "" {
			return v
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
