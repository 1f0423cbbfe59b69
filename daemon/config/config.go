// Package config resolves credd's settings in one place, through the layers
// of Layers (flag, handed-off session, environment, config file, defaults
// file, default), and records where each came from.
//
// The rules a setting must follow belong to the package that uses it
// (sts for role ARNs, session names, durations and regions; server for the
// listen address and role names); config calls them. The token sources and
// what each needs are registered once, in TokenSources.
package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/ecstask"
	"github.com/credd-dev/credd/daemon/server"
	"github.com/credd-dev/credd/daemon/sts"
)

// Defaults documented in the README.
const (
	DefaultPort     = 9911
	DefaultListen   = "127.0.0.1:9911"
	DefaultAudience = sts.DefaultAudience // in the aws partition; see sts.PartitionDefaults
	// DefaultRoleName names the role served at /v1/credentials.
	DefaultRoleName = server.DefaultRoleName
	// DefaultGitHubURL is where `credd login` signs in to GitHub for the
	// github token source.
	DefaultGitHubURL = "https://github.com"
)

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
	// UseFIPS and UseDualStack pick the region's FIPS or dual-stack STS
	// endpoint.
	UseFIPS, UseDualStack bool
	SessionName           string
	Duration              time.Duration
	// SourceReason says why TokenSource was chosen when it was not set.
	SourceReason string
	// Origins maps a setting's name (role-arn, region, ...) to the layer
	// its value came from, e.g. "session CREDD_ROLE_ARN".
	Origins map[string]string
	// SourceEnv holds the variables the token source reads from the
	// (layered) environment; it may hold secrets and is never logged.
	SourceEnv map[string]string
	// TokenCommandEnv names the variables of the environment the token
	// command gets besides CommandEnv (--token-command-env).
	TokenCommandEnv []string
	// BridgeURL is credd-bridge's issuer URL (--token-source github).
	BridgeURL string
	// GitHubRepository is the OWNER/REPO the bridge is asked for; for the
	// github source it falls back to GITHUB_REPOSITORY.
	GitHubRepository string
	// GitHubURL is GitHub's web URL for the device-flow login of the
	// github source; DefaultGitHubURL for a github role, else "" unless set.
	GitHubURL string
}

// Path is where the role is served.
func (r Role) Path() string { return server.RolePath(r.Name) }

// Config is the daemon's resolved configuration.
type Config struct {
	Listen     string
	StateDir   string
	ConfigFile string
	// DefaultsFile is the --defaults-file: the config-file format, below
	// the config file in precedence (the devcontainer Feature writes it).
	DefaultsFile string
	LogLevel     string
	// KeepLogin keeps each device login's refresh token in the state dir, so
	// that a login survives a container stop.
	KeepLogin bool
	// KeepToken reuses the authorization token of the previous start
	// instead of writing a new one. The Feature's supervisor sets it when
	// it restarts a daemon that died, so shells that read the token once
	// keep working; every other start gets a new token (see
	// authtoken.New for the trade-off).
	KeepToken bool
	// Roles holds the default role first (when configured), then the named
	// roles of the config file in name order.
	Roles []Role
	// ECS mirrors a task definition (--ecs-task-definition); nil = off.
	ECS *ECS
}

// ECS is what --ecs-task-definition and its companions resolve to.
type ECS struct {
	TaskDefinition ecstask.Ref
	Cluster        string // "" = "default"
	Container      string // "" = the first essential container
	// Region is the region of the ECS, SSM and Secrets Manager calls: the
	// task definition ARN's, else the default role's --region.
	Region string
	// Endpoints of the ECS, SSM and Secrets Manager APIs as the AWS SDKs
	// read them from the environment; "" = the region's.
	Endpoint, SSMEndpoint, SecretsManagerEndpoint string
	// RoleARN is the default role's, whose credentials read the task
	// definition: a mirror reading with another role is a new mirror.
	RoleARN string
	// Origins maps a setting's name to the layer its value came from.
	Origins map[string]string
}

// Same reports whether e and o mirror the same task the same way.
func (e *ECS) Same(o *ECS) bool {
	if e == nil || o == nil {
		return e == o
	}
	return e.TaskDefinition == o.TaskDefinition && e.Cluster == o.Cluster && e.Container == o.Container &&
		e.Region == o.Region && e.Endpoint == o.Endpoint && e.SSMEndpoint == o.SSMEndpoint &&
		e.SecretsManagerEndpoint == o.SecretsManagerEndpoint && e.RoleARN == o.RoleARN
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
	{"token-source", "where the identity token comes from: " + strings.Join(Sources, ", ") + " (default: chosen from what is present)"},
	{"token-file", "file holding the identity token (falls back to AWS_WEB_IDENTITY_TOKEN_FILE)"},
	{"token-command", "shell command that prints an identity token"},
	{"token-command-env", "variables of credd's environment the token command also gets, separated by spaces or commas, such as \"VAULT_ADDR VAULT_TOKEN\"; it always gets PATH, HOME, USER, LOGNAME, SHELL, TMPDIR, TZ, LANG, LC_*, XDG_*_HOME, XDG_RUNTIME_DIR, the proxy variables and SSL_CERT_FILE/SSL_CERT_DIR, and nothing else"},
	{"audience", "audience the identity token must carry (default sts.amazonaws.com; sts.amazonaws.com.cn for a role in aws-cn)"},
	{"issuer", "OIDC issuer URL of the token (checked locally when set; the IdP for login)"},
	{"client-id", "OAuth client ID for --token-source login (for github: the GitHub App's, for `credd login` where no GITHUB_TOKEN is handed over)"},
	{"client-secret", "OAuth client secret for a confidential login client (prefer CREDD_CLIENT_SECRET or the config file: a flag shows in ps)"},
	{"scopes", "scopes the login asks for, space-separated (default \"openid offline_access\")"},
	{"bridge-url", "issuer URL of the credd-bridge that trades a GitHub user token (GITHUB_TOKEN in a Codespace) for an identity token, for --token-source github: https://, or http:// for a loopback host only"},
	{"github-repository", "OWNER/REPO whose access the bridge checks, for --token-source github (falls back to GITHUB_REPOSITORY)"},
	{"github-url", "GitHub's URL for `credd login` with --token-source github (default " + DefaultGitHubURL + "; https://HOST for GitHub Enterprise Server)"},
	{"region", "AWS region of the STS endpoint (falls back to AWS_REGION, AWS_DEFAULT_REGION, then the role partition's: us-east-1, cn-north-1, us-gov-west-1 ...)"},
	{"sts-endpoint", "STS endpoint URL (falls back to AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true)"},
	{"use-fips-endpoint", "use the region's FIPS STS endpoint: true or false (falls back to AWS_USE_FIPS_ENDPOINT)"},
	{"use-dualstack-endpoint", "use the region's dual-stack (IPv6) STS endpoint: true or false (falls back to AWS_USE_DUALSTACK_ENDPOINT)"},
	{"session-name", "role session name (default derived from GITHUB_USER, CODESPACE_NAME or user@host)"},
	{"duration", "lifetime of the credentials STS issues, 15m to 12h (default 1h)"},
}

var daemonSettings = []struct{ name, usage string }{
	{"listen", "address of the credentials endpoint, loopback only (default " + DefaultListen + ")"},
	{"state-dir", "directory for the authorization-token file and the control socket (default $XDG_RUNTIME_DIR/credd, else $XDG_CACHE_HOME/credd or ~/.cache/credd, else /tmp/credd-<uid>)"},
	{"config", "TOML file with settings and named roles"},
	{"defaults-file", "TOML file in the --config format whose settings apply where nothing else sets them (the devcontainer Feature writes its options there)"},
	{"log-level", "debug, info, warn or error (default info)"},
	{"keep-login", "keep a device login's refresh token in the state dir (0600) so the login survives a restart: true or false (default true inside a devcontainer or Codespace)"},
	{"keep-token", "reuse the authorization token of the previous start, for a supervisor restarting a daemon that died: true or false (default false: a new token at every start)"},
	{"ecs-task-definition", "mirror this ECS task definition as task metadata v4 on the endpoint (ECS_CONTAINER_METADATA_URI_V4) and for `credd ecs env`: FAMILY (its latest revision, followed), FAMILY:REVISION or a task definition ARN; read with the default role's credentials (default: off)"},
	{"ecs-cluster", "cluster name or ARN the mirrored task says it runs in (default \"default\")"},
	{"ecs-container", "container of the task definition this dev container stands in for (default: its first essential container)"},
}

// Flags holds the daemon's command-line flags before resolution.
type Flags struct {
	fs     *flag.FlagSet
	values map[string]*string
}

// RegisterDaemonFlags adds every daemon flag to fs. Each flag's usage ends
// with its twins, so `credd daemon -h` shows every way to set it.
func RegisterDaemonFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, values: map[string]*string{}}
	for _, s := range roleSettings {
		f.values[s.name] = fs.String(s.name, "", s.usage+" "+twins(s.name))
	}
	for _, s := range daemonSettings {
		f.values[s.name] = fs.String(s.name, "", s.usage+" "+twins(s.name))
	}
	return f
}

// twins names a setting's other spellings, which ResolveLayers reads: its
// CREDD_* variable and, where a file may set it, its config-file key.
func twins(setting string) string {
	if slices.Contains(roleKeys(), setting) || slices.Contains(daemonKeys(), setting) {
		return "(env " + EnvName(setting) + ", config-file key " + fileKey(setting) + ")"
	}
	return "(env " + EnvName(setting) + ")"
}

// EnvName is the CREDD_* twin of a flag: --role-arn → CREDD_ROLE_ARN.
func EnvName(flagName string) string {
	return "CREDD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Resolve is ResolveLayers with no handed-off session environment.
func (f *Flags) Resolve(getenv func(string) string) (Config, error) {
	return f.ResolveLayers(Layers{Getenv: getenv})
}

// ResolveLayers applies the precedence of Layers, validates the result and
// records where each role setting came from. It reads the files anew on
// every call, so the daemon calls it again to reload.
func (f *Flags) ResolveLayers(in Layers) (Config, error) {
	if in.Getenv == nil {
		in.Getenv = func(string) string { return "" }
	}
	l := &layered{flags: map[string]string{}, env: env{session: in.Session, getenv: in.Getenv},
		file: &fileConfig{}, defaults: &fileConfig{}}
	f.fs.Visit(func(fl *flag.Flag) {
		if p, ok := f.values[fl.Name]; ok {
			l.flags[fl.Name] = *p
		}
	})
	cfg := Config{ConfigFile: l.top("config").v, DefaultsFile: l.top("defaults-file").v}
	var err error
	if l.file, err = loadOptional(cfg.ConfigFile); err != nil {
		return Config{}, err
	}
	if l.defaults, err = loadOptional(cfg.DefaultsFile); err != nil {
		return Config{}, fmt.Errorf("defaults %w", err)
	}
	l.filePath, l.defsPath = cfg.ConfigFile, cfg.DefaultsFile
	if err := resolveDaemon(&cfg, l); err != nil {
		return Config{}, err
	}

	defaultRole, err := buildRole(DefaultRoleName, l)
	names := l.roleNames()
	if err != nil && len(names) == 0 && errors.Is(err, ErrNoRole) {
		// The mirror waits for the role like the endpoint does, but a
		// mistake in its settings is one to say now.
		var ecsErr error
		if cfg.ECS, ecsErr = resolveECS(l, nil); ecsErr != nil {
			return Config{}, ecsErr
		}
		return cfg, err
	}
	if err != nil && !errors.Is(err, ErrNoRole) {
		return Config{}, err
	}
	if err == nil {
		cfg.Roles = append(cfg.Roles, defaultRole)
	}
	for _, name := range names {
		if err := server.CheckRoleName(name); err != nil {
			return Config{}, fmt.Errorf("%s: %w", cmp.Or(cfg.ConfigFile, cfg.DefaultsFile), err)
		}
		r, err := buildRole(name, l)
		if errors.Is(err, ErrNoRole) {
			// As for the default role: the daemon-wide settings, so the
			// daemon can start and wait for the file to be fixed (SIGHUP)
			// or a session to hand the missing setting over.
			cfg.Roles = nil
			return cfg, fmt.Errorf("%s: role %q: %w", cmp.Or(cfg.ConfigFile, cfg.DefaultsFile), name, err)
		}
		if err != nil {
			return Config{}, fmt.Errorf("%s: role %q: %w", cmp.Or(cfg.ConfigFile, cfg.DefaultsFile), name, err)
		}
		cfg.Roles = append(cfg.Roles, r)
	}
	if cfg.ECS, err = resolveECS(l, cfg.Roles); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// loadOptional loads a config-format file, or nothing when path is "".
func loadOptional(path string) (*fileConfig, error) {
	if path == "" {
		return &fileConfig{}, nil
	}
	return loadFile(path)
}

// resolveDaemon fills in and checks the daemon-wide settings.
func resolveDaemon(cfg *Config, l *layered) error {
	cfg.Listen = orDefault(l.top("listen").v, DefaultListen)
	cfg.StateDir = l.top("state-dir").v
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir(l.env.getenv)
	}
	cfg.LogLevel = orDefault(l.top("log-level").v, "info")
	keepLogin := l.top("keep-login")
	keep, err := parseKeepLogin(keepLogin.v, l.env.get)
	if err != nil {
		return fmt.Errorf("%s: %w", keepLogin.said("keep-login"), err)
	}
	cfg.KeepLogin = keep
	if cfg.KeepToken, err = parseBool(l.top("keep-token").v); err != nil {
		return fmt.Errorf("%s: %w", l.top("keep-token").said("keep-token"), err)
	}
	if _, err := server.CheckListenAddr(cfg.Listen); err != nil {
		return fmt.Errorf("%s: %w", l.top("listen").said("listen"), err)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, cfg.LogLevel) {
		return fmt.Errorf("%s: use debug, info, warn or error", l.top("log-level").said("log-level"))
	}
	return nil
}

// ErrNoRole means no role can be served yet: the settings name no role to
// assume, or no token source for it. ResolveLayers returns it with the
// daemon-wide settings resolved, so the daemon can start and wait for a
// reload to hand the role over. Test for it with errors.Is: the error
// returned says which of the two is missing, in its own words.
var ErrNoRole = errors.New("no role can be served yet")

// noRoleError is an ErrNoRole that says what is missing.
type noRoleError struct{ why string }

func (e *noRoleError) Error() string        { return e.why }
func (e *noRoleError) Is(target error) bool { return target == ErrNoRole }

// buildRole resolves and validates one role, recording each setting's origin.
func buildRole(name string, l *layered) (Role, error) {
	r := Role{Name: name, Origins: map[string]string{}}
	taken := map[string]value{} // what get chose, for errors
	get := func(setting string, fallbacks ...value) string {
		v := l.role(name, setting)
		for _, fb := range fallbacks {
			if v.v != "" {
				break
			}
			v = fb
		}
		if v.v != "" {
			r.Origins[setting] = v.origin
			taken[setting] = v
		}
		return v.v
	}
	// bad says what is wrong with a setting, naming it as the user wrote
	// it and where: a flag, a variable, or a file and its key.
	bad := func(setting string, err error) error {
		return fmt.Errorf("%s: %w", taken[setting].said(setting), err)
	}
	e := l.env
	r.RoleARN = get("role-arn")
	r.TokenFile = get("token-file")
	if name == DefaultRoleName {
		// The AWS SDKs' own web-identity variables configure the default role.
		r.RoleARN = cmp.Or(r.RoleARN, get("role-arn", firstVar(e, "AWS_ROLE_ARN")))
		r.TokenFile = cmp.Or(r.TokenFile, get("token-file", firstVar(e, "AWS_WEB_IDENTITY_TOKEN_FILE")))
	}
	r.TokenSource = get("token-source")
	r.TokenCommand = get("token-command")
	partition := sts.PartitionOfARN(r.RoleARN)
	defaultRegion, defaultAudience := sts.PartitionDefaults(partition)
	defaultOrigin := originDefault
	if partition != "aws" {
		defaultOrigin = originDefault + " for partition " + partition
	}
	r.Audience = get("audience", value{v: defaultAudience, origin: defaultOrigin})
	r.Issuer = get("issuer")
	r.ClientID = get("client-id")
	r.ClientSecret = get("client-secret")
	r.Scopes = strings.Join(strings.FieldsFunc(get("scopes"), func(r rune) bool { return r == ' ' || r == ',' }), " ")
	r.BridgeURL = get("bridge-url")
	r.Region = get("region", firstVar(e, "AWS_REGION", "AWS_DEFAULT_REGION"), value{v: defaultRegion, origin: defaultOrigin})
	r.STSEndpoint = get("sts-endpoint", configuredEndpoint(e))
	var err error
	if r.UseFIPS, err = parseBool(get("use-fips-endpoint", firstVar(e, "AWS_USE_FIPS_ENDPOINT"))); err != nil {
		return Role{}, bad("use-fips-endpoint", err)
	}
	if r.UseDualStack, err = parseBool(get("use-dualstack-endpoint", firstVar(e, "AWS_USE_DUALSTACK_ENDPOINT"))); err != nil {
		return Role{}, bad("use-dualstack-endpoint", err)
	}
	if r.TokenCommandEnv, err = parseEnvNames(get("token-command-env")); err != nil {
		return Role{}, bad("token-command-env", err)
	}
	r.SessionName = get("session-name")
	switch err := chooseSource(&r, e.get); {
	case errors.Is(err, errNoSource) && r.RoleARN == "":
		return Role{}, &noRoleError{"no role to assume: set --role-arn (or CREDD_ROLE_ARN) to the ARN of the IAM role to assume, and a token source (" + sourceSettings + "), or try --token-source sandbox"}
	case errors.Is(err, errNoSource):
		return Role{}, &noRoleError{fmt.Sprintf("no identity token source for role %s: set %s; in GitHub Actions grant `permissions: id-token: write`; or try --token-source sandbox", r.RoleARN, sourceSettings)}
	case err != nil:
		return Role{}, bad("token-source", err)
	}
	if _, ok := r.Origins["token-source"]; !ok {
		r.Origins["token-source"] = originDefault + ": " + r.SourceReason
	}
	// The GitHub settings' fallbacks serve the github source only: other
	// roles in a Codespace or an Actions job need no repository.
	var repoFallback, githubURLDefault value
	if r.TokenSource == SourceGitHub {
		repoFallback = firstVar(e, "GITHUB_REPOSITORY")
		githubURLDefault = value{v: DefaultGitHubURL, origin: originDefault}
	}
	r.GitHubRepository = get("github-repository", repoFallback)
	r.GitHubURL = get("github-url", githubURLDefault)
	if r.RoleARN == "" && r.TokenSource != SourceSandbox {
		return Role{}, &noRoleError{"no role to assume: set --role-arn (or CREDD_ROLE_ARN) to the ARN of the IAM role to assume, or try --token-source sandbox"}
	}
	if r.RoleARN != "" {
		if _, _, err := sts.ParseRoleARN(r.RoleARN); err != nil {
			return Role{}, bad("role-arn", err)
		}
	}
	d, err := ParseDuration(get("duration"))
	if err != nil {
		return Role{}, bad("duration", err)
	}
	r.Duration = d
	if _, ok := r.Origins["duration"]; !ok {
		r.Origins["duration"] = originDefault
	}
	if r.SessionName == "" {
		r.SessionName = DefaultSessionName(e.get)
		r.Origins["session-name"] = sessionNameOrigin(e)
	} else if err := sts.CheckSessionName(r.SessionName); err != nil {
		return Role{}, bad("session-name", err)
	}
	if err := sts.CheckRegion(r.Region); err != nil {
		return Role{}, bad("region", err)
	}
	if rp := sts.PartitionOfRegion(r.Region); r.RoleARN != "" && r.STSEndpoint == "" && rp != "" && rp != partition {
		return Role{}, bad("region", fmt.Errorf("the region is in partition %s, but the role %s is in %s, whose STS will not answer there: set --region to a region of %s, such as %s",
			rp, r.RoleARN, partition, partition, defaultRegion))
	}
	if r.STSEndpoint != "" {
		if err := validateURL(r.STSEndpoint); err != nil {
			return Role{}, bad("sts-endpoint", err)
		}
	}
	if r.Issuer != "" {
		if err := validateURL(r.Issuer); err != nil {
			return Role{}, bad("issuer", err)
		}
	}
	if r.BridgeURL != "" {
		if err := validateURL(r.BridgeURL); err != nil {
			return Role{}, bad("bridge-url", err)
		}
	}
	if r.GitHubURL != "" {
		if err := validateSecureURL(r.GitHubURL); err != nil {
			return Role{}, bad("github-url", err)
		}
	}
	if r.GitHubRepository != "" {
		if err := CheckRepository(r.GitHubRepository); err != nil {
			return Role{}, bad("github-repository", err)
		}
	}
	if err := checkSource(&r, e.get); err != nil {
		if _, named := taken["token-source"]; named {
			return Role{}, bad("token-source", err)
		}
		return Role{}, fmt.Errorf("token source %s (%s): %w", r.TokenSource, r.SourceReason, err)
	}
	return r, nil
}

// ParseDuration reads --duration: a Go duration ("1h", "90m") or seconds.
// "" means the default. STS accepts 15 minutes to 12 hours. The error
// does not name the setting: the caller knows where the value came from.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return sts.DefaultDuration, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, serr := strconv.Atoi(s)
		if serr != nil {
			return 0, errors.New("use a duration such as 1h or 90m, or seconds")
		}
		d = time.Duration(secs) * time.Second
	}
	if err := sts.CheckDuration(d); err != nil {
		return 0, err
	}
	return d, nil
}

// configuredEndpoint is the STS endpoint the environment configures, as the
// AWS SDKs read it: see serviceEndpoint.
func configuredEndpoint(e env) value { return serviceEndpoint(e, "STS") }

// serviceEndpoint is the endpoint the environment configures for a
// service, as the AWS SDKs read it: AWS_ENDPOINT_URL_<SERVICE>, else
// AWS_ENDPOINT_URL, and neither when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
// true. service is the variable's suffix: the service ID in upper case
// with spaces as underscores, such as SECRETS_MANAGER (AWS SDKs and Tools
// Reference Guide, "Service-specific endpoints").
func serviceEndpoint(e env, service string) value {
	if ignore, _ := strconv.ParseBool(e.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")); ignore {
		return value{}
	}
	return firstVar(e, "AWS_ENDPOINT_URL_"+service, "AWS_ENDPOINT_URL")
}

// errNotBool is what a true/false setting says of any other value.
var errNotBool = errors.New("use true or false")

// parseBool reads a true/false setting; "" is false.
func parseBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errNotBool
	}
	return b, nil
}

// parseKeepLogin reads --keep-login. Unset, a login is kept inside a
// devcontainer, whose state dir lives as long as the container: GitHub
// Codespaces sets CODESPACES=true and VS Code's Dev Containers
// REMOTE_CONTAINERS=true; the credd Feature sets keep_login itself.
func parseKeepLogin(v string, getenv func(string) string) (bool, error) {
	if v == "" {
		return getenv("CODESPACES") == "true" || getenv("REMOTE_CONTAINERS") == "true", nil
	}
	return parseBool(v)
}

func validateURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("use an http:// or https:// URL")
	}
	return nil
}

// validateSecureURL is validateURL for a URL that a secret crosses (a
// GitHub token): https://, or http:// to a loopback host (Cleartext's
// rule), where a local test server runs.
func validateSecureURL(s string) error {
	if err := validateURL(s); err != nil {
		return err
	}
	if Cleartext(s) {
		return errors.New("it is http:// to a host that is not loopback, so the GitHub token would cross the network in the clear: " + CleartextFix)
	}
	return nil
}

// DefaultStateDir is $XDG_RUNTIME_DIR/credd; else credd in the user's
// cache dir ($XDG_CACHE_HOME, or $HOME/.cache), which no other user can
// create first; else, when neither is an absolute path (HOME an existing
// directory) or the control socket's path would be too long there,
// /tmp/credd-<uid>. That one is predictable, so the daemon creates it
// itself (mode 0700) and everyone refuses it when another user made it
// (authtoken.CheckDir).
func DefaultStateDir(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "credd")
	}
	if d := userCacheDir(getenv); d != "" {
		dir := filepath.Join(d, "credd")
		if control.SocketPathFits(dir) {
			return dir
		}
	}
	return filepath.Join(os.TempDir(), "credd-"+strconv.Itoa(os.Getuid()))
}

// userCacheDir is os.UserCacheDir's unix rule on getenv: $XDG_CACHE_HOME,
// else $HOME/.cache; "" when neither is an absolute path, or HOME is not
// a directory (HOME=/nonexistent for a system user).
func userCacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return d
	}
	h := getenv("HOME")
	if !filepath.IsAbs(h) {
		return ""
	}
	if fi, err := os.Stat(h); err != nil || !fi.IsDir() {
		return ""
	}
	return filepath.Join(h, ".cache")
}

// StateDir resolves --state-dir for the client commands (env, status, ...).
func StateDir(flagValue string, getenv func(string) string) string {
	return firstNonEmpty(flagValue, getenv(EnvName("state-dir")), DefaultStateDir(getenv))
}

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
	return sts.SessionNameFrom(name)
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
