// Package config resolves credd's settings once, in one place: flag, then
// CREDD_* environment variable, then config file, then default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults documented in the README.
const (
	DefaultPort     = 9911
	DefaultListen   = "127.0.0.1:9911"
	DefaultAudience = "sts.amazonaws.com"
	DefaultDuration = time.Hour
	DefaultRegion   = "us-east-1"
	// DefaultRoleName names the role served at /v1/credentials.
	DefaultRoleName = "default"
)

// Token sources.
const (
	SourceFile    = "file"
	SourceActions = "actions"
	SourceCommand = "command"
	SourceLogin   = "login"
	SourceSandbox = "sandbox"
)

// Sources lists the valid --token-source values.
var Sources = []string{SourceFile, SourceActions, SourceCommand, SourceLogin, SourceSandbox}

// Role is one role to assume and serve.
type Role struct {
	Name         string
	RoleARN      string
	TokenSource  string
	TokenFile    string
	TokenCommand string
	Audience     string
	Issuer       string
	ClientID     string
	ClientSecret string // confidential login clients only; never logged
	Scopes       string // login scopes, space-separated; "" = openid offline_access
	Region       string
	STSEndpoint  string
	SessionName  string
	Duration     time.Duration
	// SourceReason says why TokenSource was chosen when it was not set.
	SourceReason string
}

// Path is where the role is served.
func (r Role) Path() string {
	if r.Name == DefaultRoleName {
		return "/v1/credentials"
	}
	return "/v1/credentials/" + r.Name
}

// Config is the daemon's resolved configuration.
type Config struct {
	Listen     string
	StateDir   string
	ConfigFile string
	LogLevel   string
	// Roles holds the default role first (when configured), then the named
	// roles of the config file in name order.
	Roles []Role
}

// Role returns the role with the given name.
func (c Config) Role(name string) (Role, bool) {
	for _, r := range c.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// roleSettings are the settings a role can have; each is a flag, a CREDD_*
// variable and a config-file key (the flag name with '_' for '-').
var roleSettings = []struct{ name, usage string }{
	{"role-arn", "ARN of the IAM role to assume (falls back to AWS_ROLE_ARN)"},
	{"token-source", "where the identity token comes from: file, actions, command, login or sandbox (default: chosen from what is present)"},
	{"token-file", "file holding the identity token (falls back to AWS_WEB_IDENTITY_TOKEN_FILE)"},
	{"token-command", "shell command that prints an identity token"},
	{"audience", "audience the identity token must carry (default sts.amazonaws.com)"},
	{"issuer", "OIDC issuer URL of the token (checked locally when set; the IdP for login)"},
	{"client-id", "OAuth client ID for --token-source login"},
	{"client-secret", "OAuth client secret for a confidential login client (prefer CREDD_CLIENT_SECRET or the config file: a flag shows in ps)"},
	{"scopes", "scopes the login asks for, space-separated (default \"openid offline_access\")"},
	{"region", "AWS region of the STS endpoint (falls back to AWS_REGION, AWS_DEFAULT_REGION, us-east-1)"},
	{"sts-endpoint", "STS endpoint URL (falls back to AWS_ENDPOINT_URL_STS)"},
	{"session-name", "role session name (default derived from GITHUB_USER, CODESPACE_NAME or user@host)"},
	{"duration", "lifetime of the credentials STS issues, 15m to 12h (default 1h)"},
}

var daemonSettings = []struct{ name, usage string }{
	{"listen", "address of the credentials endpoint, loopback only (default " + DefaultListen + ")"},
	{"state-dir", "directory for the authorization-token file and the control socket (default $XDG_RUNTIME_DIR/credd or /tmp/credd-<uid>)"},
	{"config", "TOML file with settings and named roles"},
	{"log-level", "debug, info, warn or error (default info)"},
}

// Flags holds the daemon's command-line flags before resolution.
type Flags struct {
	fs     *flag.FlagSet
	values map[string]*string
}

// RegisterDaemonFlags adds every daemon flag to fs.
func RegisterDaemonFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, values: map[string]*string{}}
	for _, s := range roleSettings {
		f.values[s.name] = fs.String(s.name, "", s.usage)
	}
	for _, s := range daemonSettings {
		f.values[s.name] = fs.String(s.name, "", s.usage)
	}
	return f
}

// EnvName is the CREDD_* twin of a flag: --role-arn → CREDD_ROLE_ARN.
func EnvName(flagName string) string {
	return "CREDD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Resolve applies flag > CREDD_* env > config file > default and validates
// the result. getenv is os.Getenv in production.
func (f *Flags) Resolve(getenv func(string) string) (Config, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	lookup := func(name string) string {
		if set[name] {
			return *f.values[name]
		}
		return getenv(EnvName(name))
	}

	cfg := Config{ConfigFile: lookup("config")}
	var file *fileConfig
	if cfg.ConfigFile != "" {
		var err error
		if file, err = loadFile(cfg.ConfigFile); err != nil {
			return Config{}, err
		}
	} else {
		file = &fileConfig{}
	}

	pick := func(name string) string {
		if v := lookup(name); v != "" {
			return v
		}
		return file.top[name]
	}
	cfg.Listen = orDefault(pick("listen"), DefaultListen)
	cfg.StateDir = pick("state-dir")
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir(getenv)
	}
	cfg.LogLevel = orDefault(pick("log-level"), "info")
	if err := validateListen(cfg.Listen); err != nil {
		return Config{}, err
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, cfg.LogLevel) {
		return Config{}, fmt.Errorf("--log-level %q: use debug, info, warn or error", cfg.LogLevel)
	}

	base := map[string]string{}
	for _, s := range roleSettings {
		base[s.name] = pick(s.name)
	}
	defaultRole, err := buildRole(DefaultRoleName, base, getenv)
	hasDefault := err == nil
	if err != nil && (len(file.roles) == 0 || !errors.Is(err, errNoRole)) {
		return Config{}, err
	}
	if hasDefault {
		cfg.Roles = append(cfg.Roles, defaultRole)
	}
	for _, name := range file.roleNames() {
		if err := validateRoleName(name); err != nil {
			return Config{}, fmt.Errorf("%s: %w", cfg.ConfigFile, err)
		}
		merged := map[string]string{}
		for k, v := range base {
			merged[k] = v
		}
		for k, v := range file.roles[name] {
			merged[k] = v
		}
		r, err := buildRole(name, merged, getenv)
		if err != nil {
			return Config{}, fmt.Errorf("%s: role %q: %w", cfg.ConfigFile, name, err)
		}
		cfg.Roles = append(cfg.Roles, r)
	}
	return cfg, nil
}

var errNoRole = errors.New("no role to assume")

func buildRole(name string, v map[string]string, getenv func(string) string) (Role, error) {
	r := Role{
		Name:         name,
		RoleARN:      v["role-arn"],
		TokenSource:  v["token-source"],
		TokenFile:    v["token-file"],
		TokenCommand: v["token-command"],
		Audience:     orDefault(v["audience"], DefaultAudience),
		Issuer:       v["issuer"],
		ClientID:     v["client-id"],
		ClientSecret: v["client-secret"],
		Scopes:       strings.Join(strings.FieldsFunc(v["scopes"], func(r rune) bool { return r == ' ' || r == ',' }), " "),
		Region:       firstNonEmpty(v["region"], getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), DefaultRegion),
		STSEndpoint:  firstNonEmpty(v["sts-endpoint"], getenv("AWS_ENDPOINT_URL_STS")),
		SessionName:  v["session-name"],
	}
	if name == DefaultRoleName {
		r.RoleARN = firstNonEmpty(r.RoleARN, getenv("AWS_ROLE_ARN"))
		r.TokenFile = firstNonEmpty(r.TokenFile, getenv("AWS_WEB_IDENTITY_TOKEN_FILE"))
	}
	if err := chooseSource(&r, getenv); err != nil {
		return Role{}, err
	}
	if r.RoleARN == "" && r.TokenSource != SourceSandbox {
		return Role{}, fmt.Errorf("%w: set --role-arn (or CREDD_ROLE_ARN) to the ARN of the IAM role to assume, or try --token-source sandbox", errNoRole)
	}
	if r.RoleARN != "" && !roleARN.MatchString(r.RoleARN) {
		return Role{}, fmt.Errorf("--role-arn %q is not an IAM role ARN: expected arn:aws:iam::<12-digit account>:role/<name>", r.RoleARN)
	}
	d, err := ParseDuration(v["duration"])
	if err != nil {
		return Role{}, err
	}
	r.Duration = d
	if r.SessionName == "" {
		r.SessionName = DefaultSessionName(getenv)
	} else if !sessionName.MatchString(r.SessionName) {
		return Role{}, fmt.Errorf("--session-name %q: use 2 to 64 characters of letters, digits and +=,.@_-", r.SessionName)
	}
	if r.STSEndpoint != "" {
		if err := validateURL("--sts-endpoint", r.STSEndpoint); err != nil {
			return Role{}, err
		}
	}
	if r.Issuer != "" {
		if err := validateURL("--issuer", r.Issuer); err != nil {
			return Role{}, err
		}
	}
	return r, validateSource(r)
}

func chooseSource(r *Role, getenv func(string) string) error {
	if r.TokenSource != "" {
		if !slices.Contains(Sources, r.TokenSource) {
			return fmt.Errorf("unknown --token-source %q: use one of %s", r.TokenSource, strings.Join(Sources, ", "))
		}
		r.SourceReason = "set explicitly"
		return nil
	}
	switch {
	case r.TokenFile != "":
		r.TokenSource, r.SourceReason = SourceFile, "a token file is configured"
	case r.TokenCommand != "":
		r.TokenSource, r.SourceReason = SourceCommand, "a token command is configured"
	case getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "":
		r.TokenSource, r.SourceReason = SourceActions, "ACTIONS_ID_TOKEN_REQUEST_URL is set (GitHub Actions)"
	case r.Issuer != "" && r.ClientID != "":
		r.TokenSource, r.SourceReason = SourceLogin, "an issuer and client ID are configured"
	default:
		return fmt.Errorf("%w: no identity token source found: set --token-file, --token-command, or --issuer with --client-id; in GitHub Actions grant `permissions: id-token: write`; or try --token-source sandbox", errNoRole)
	}
	return nil
}

func validateSource(r Role) error {
	switch r.TokenSource {
	case SourceFile:
		if r.TokenFile == "" {
			return errors.New("--token-source file needs --token-file (or AWS_WEB_IDENTITY_TOKEN_FILE)")
		}
		if _, err := os.Stat(r.TokenFile); err != nil {
			return fmt.Errorf("token file %s: %w: create it, or point --token-file at the file your identity provider writes", r.TokenFile, errors.Unwrap(err))
		}
	case SourceCommand:
		if strings.TrimSpace(r.TokenCommand) == "" {
			return errors.New("--token-source command needs --token-command, a shell command that prints a JWT")
		}
	case SourceLogin:
		if r.Issuer == "" || r.ClientID == "" {
			return errors.New("--token-source login needs --issuer (your IdP's OIDC issuer URL) and --client-id")
		}
	}
	return nil
}

var (
	roleARN     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	sessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	roleName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

func validateRoleName(name string) error {
	if name == DefaultRoleName || !roleName.MatchString(name) {
		return fmt.Errorf("role name %q: use letters, digits, '.', '_' or '-' (and not %q)", name, DefaultRoleName)
	}
	return nil
}

// ParseDuration reads --duration: a Go duration ("1h", "90m") or seconds.
// "" means the default. STS accepts 15 minutes to 12 hours.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return DefaultDuration, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, serr := strconv.Atoi(s)
		if serr != nil {
			return 0, fmt.Errorf("--duration %q: use a duration such as 1h or 90m, or seconds", s)
		}
		d = time.Duration(secs) * time.Second
	}
	if d < 15*time.Minute || d > 12*time.Hour {
		return 0, fmt.Errorf("--duration %s: STS issues credentials for 15m to 12h (and the role's maximum session duration must allow it)", d)
	}
	return d, nil
}

func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: use 127.0.0.1:PORT", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("--listen %q: bad port: use 127.0.0.1:PORT", addr)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q refused: credd listens on loopback only, because the endpoint hands credentials to anyone who can reach it; use 127.0.0.1:%s", addr, port)
	}
	return nil
}

func validateURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: use an http:// or https:// URL", flagName, s)
	}
	return nil
}

// DefaultStateDir is $XDG_RUNTIME_DIR/credd, or /tmp/credd-<uid> (checked
// for ownership when used, as tmux does).
func DefaultStateDir(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "credd")
	}
	return filepath.Join(os.TempDir(), "credd-"+strconv.Itoa(os.Getuid()))
}

// StateDir resolves --state-dir for the client commands (env, status, ...).
func StateDir(flagValue string, getenv func(string) string) string {
	return firstNonEmpty(flagValue, getenv(EnvName("state-dir")), DefaultStateDir(getenv))
}

var invalidSessionChars = regexp.MustCompile(`[^\w+=,.@-]+`)

// DefaultSessionName derives a role session name that traces actions in
// CloudTrail back to the person: GITHUB_USER and CODESPACE_NAME in a
// Codespace, GITHUB_ACTOR in Actions, else user@host.
func DefaultSessionName(getenv func(string) string) string {
	var name string
	switch {
	case getenv("GITHUB_USER") != "":
		name = getenv("GITHUB_USER")
		if cs := getenv("CODESPACE_NAME"); cs != "" {
			name += "@" + cs
		}
	case getenv("GITHUB_ACTOR") != "":
		name = getenv("GITHUB_ACTOR") + "@github-actions"
	default:
		user := firstNonEmpty(getenv("USER"), getenv("LOGNAME"), "user")
		host, _ := os.Hostname()
		name = user + "@" + firstNonEmpty(host, "host")
	}
	return SanitizeSessionName(name)
}

// SanitizeSessionName maps any string onto STS's [\w+=,.@-]{2,64}.
func SanitizeSessionName(s string) string {
	s = invalidSessionChars.ReplaceAllString(s, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	for len(s) < 2 {
		s += "-"
	}
	return s
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
