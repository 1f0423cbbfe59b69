// Package envcheck checks a shell's environment against a running credd:
// whether AWS SDKs started from it would reach the daemon, and what in their
// default credential chains would be used before it.
package envcheck

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// Severity ranks a finding.
type Severity string

const (
	// OK: as it should be.
	OK Severity = "ok"
	// Warn: works for most SDKs, or may surprise.
	Warn Severity = "warn"
	// Problem: SDKs in this shell will not use credd, or will fail.
	Problem Severity = "problem"
)

// Finding is one observation about the environment. It never holds a
// secret: tokens and keys are compared, never copied.
type Finding struct {
	Severity Severity `json:"severity"`
	// Code is stable, for scripts: e.g. "shadow-env-keys", "token-mismatch".
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fix says what to do; empty for OK findings.
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of Check.
type Report struct {
	// PointsAtDaemon is true when FULL_URI names one of the daemon's
	// endpoints and the token variables carry its token.
	PointsAtDaemon bool `json:"pointsAtDaemon"`
	// Shadowed is true when something earlier in some SDK's chain wins.
	Shadowed bool `json:"shadowed"`
	// Profile is the profile SDKs would load ("default" unless AWS_PROFILE).
	Profile  string    `json:"profile"`
	Findings []Finding `json:"findings"`
}

// Input is what Check looks at. Zero values mean "not known": with no
// Endpoints nothing is compared against the daemon.
type Input struct {
	Getenv func(string) string
	// ReadFile reads the token file and the ~/.aws files; errors wrapping
	// fs.ErrNotExist mean a file is absent.
	ReadFile func(string) ([]byte, error)
	// Home is the user's home directory, for ~/.aws.
	Home string
	// Endpoints are the daemon's credentials URLs, one per role.
	Endpoints []string
	// Token is the daemon's authorization token (from its token file); it
	// is compared in constant time and never reported.
	Token string
	// TokenFile is the daemon's token file.
	TokenFile string
}

// Check inspects the environment.
func Check(in Input) Report {
	if in.Getenv == nil {
		in.Getenv = func(string) string { return "" }
	}
	if in.ReadFile == nil {
		in.ReadFile = func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	}
	c := &checker{in: in}
	pointsURI := c.fullURI()
	pointsToken := c.token(pointsURI)
	c.shadows()
	c.rep.PointsAtDaemon = pointsURI && pointsToken
	if c.rep.Findings == nil {
		c.rep.Findings = []Finding{}
	}
	return c.rep
}

type checker struct {
	in  Input
	rep Report
}

func (c *checker) add(sev Severity, code, msg, fix string) {
	c.rep.Findings = append(c.rep.Findings, Finding{Severity: sev, Code: code, Message: msg, Fix: fix})
}

func (c *checker) env(k string) string { return c.in.Getenv(k) }

const fixEnv = `run eval "$(credd env)" in this shell`

// fullURI checks AWS_CONTAINER_CREDENTIALS_FULL_URI and reports whether it
// names one of the daemon's endpoints.
func (c *checker) fullURI() bool {
	v := c.env("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if v == "" {
		c.add(Problem, "full-uri-unset", "AWS_CONTAINER_CREDENTIALS_FULL_URI is not set: AWS SDKs in this shell do not know about credd", fixEnv)
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		c.add(Problem, "full-uri-invalid", "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: "+v, fixEnv)
		return false
	}
	host := u.Hostname()
	switch ip := net.ParseIP(host); {
	case host == "127.0.0.1":
	case host == "localhost":
		c.add(Warn, "full-uri-localhost", "AWS_CONTAINER_CREDENTIALS_FULL_URI uses localhost: the Go, Java, Rust and C++ SDKs resolve it and refuse it if it also resolves to ::1", "use http://127.0.0.1:PORT/...: "+fixEnv)
	case ip != nil && ip.IsLoopback():
		c.add(Warn, "full-uri-old-sdks", "AWS_CONTAINER_CREDENTIALS_FULL_URI uses "+host+": botocore before 1.32, the AWS CLI before 2.15 and the JS SDK v2 accept only 127.0.0.1 and localhost", "use http://127.0.0.1:PORT/...: "+fixEnv)
	case u.Scheme == "http":
		c.add(Problem, "full-uri-host", "AWS_CONTAINER_CREDENTIALS_FULL_URI uses "+host+", which AWS SDKs refuse over http (only loopback and the ECS/EKS addresses)", fixEnv)
	}
	if len(c.in.Endpoints) == 0 {
		return false
	}
	if slices.Contains(c.in.Endpoints, v) || slices.Contains(c.in.Endpoints, sameHost(v)) {
		c.add(OK, "full-uri", "AWS_CONTAINER_CREDENTIALS_FULL_URI points at this daemon: "+v, "")
		return true
	}
	c.add(Problem, "full-uri-other", "AWS_CONTAINER_CREDENTIALS_FULL_URI is "+v+", not this daemon's "+strings.Join(c.in.Endpoints, " or "), fixEnv)
	return false
}

// sameHost rewrites a localhost URL to 127.0.0.1, which names the same
// daemon.
func sameHost(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Hostname() != "localhost" {
		return v
	}
	u.Host = "127.0.0.1:" + u.Port()
	return u.String()
}

// token checks the two token variables against the daemon's token.
func (c *checker) token(uriOK bool) bool {
	inline := c.env("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	file := c.env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	var fromFile string
	fileOK := false
	if file != "" {
		b, err := c.in.ReadFile(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			c.add(Problem, "token-file-missing", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names "+file+", which does not exist", fixEnv)
		case err != nil:
			c.add(Problem, "token-file-unreadable", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names "+file+", which cannot be read: "+err.Error(), "make it readable by this user, or "+fixEnv)
		case bytes.ContainsAny(b, "\r\n"):
			c.add(Problem, "token-file-newline", "the token file "+file+" contains a newline: botocore, Go and Rust refuse it and the JS SDK v2 crashes", "rewrite it without a newline, or point the variable at the daemon's "+c.in.TokenFile)
		default:
			fromFile, fileOK = string(b), true
		}
	}
	if file == "" && inline == "" {
		c.add(Problem, "token-unset", "neither AWS_CONTAINER_AUTHORIZATION_TOKEN nor AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is set: the endpoint will answer 401", fixEnv)
		return false
	}
	if inline == "" {
		c.add(Warn, "token-inline-unset", "AWS_CONTAINER_AUTHORIZATION_TOKEN is not set: the AWS CLI before 2.15, botocore before 1.32 and the JS SDK v2 before 2.1550 read only that variable", fixEnv)
	}
	if file == "" {
		c.add(Warn, "token-file-unset", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is not set: fine for every SDK that reads the variable, but the file survives a daemon restart with a new token", fixEnv)
	}
	if fileOK && inline != "" && !equal(fromFile, inline) {
		c.add(Problem, "token-vars-differ", "AWS_CONTAINER_AUTHORIZATION_TOKEN differs from the content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: the JS SDK v2 and Java use the variable, every other SDK the file", fixEnv)
	}
	if c.in.Token == "" {
		return false
	}
	ok := true
	if inline != "" && !equal(inline, c.in.Token) {
		c.add(Problem, "token-mismatch", "AWS_CONTAINER_AUTHORIZATION_TOKEN does not match the daemon's token in "+c.in.TokenFile+" (a shell set up for another state dir, or before the token file was recreated)", fixEnv)
		ok = false
	}
	if fileOK && !equal(fromFile, c.in.Token) {
		c.add(Problem, "token-file-mismatch", "the file in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ("+file+") does not hold the daemon's token", fixEnv)
		ok = false
	}
	if file != "" && !fileOK {
		ok = false
	}
	if ok && uriOK {
		c.add(OK, "token", "the authorization token in this shell matches the daemon's", "")
	}
	return ok
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// shadows reports what the SDKs' default chains use before the container
// provider (SDK-COMPAT.md §1).
func (c *checker) shadows() {
	shadow := func(code, msg, fix string) {
		c.rep.Shadowed = true
		c.add(Problem, code, msg, fix)
	}
	if c.env("AWS_ACCESS_KEY_ID") != "" || c.env("AWS_SECRET_ACCESS_KEY") != "" {
		shadow("shadow-env-keys", "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set: every SDK uses these keys before credd", "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN")
	}
	wif, roleARN := c.env("AWS_WEB_IDENTITY_TOKEN_FILE"), c.env("AWS_ROLE_ARN")
	switch {
	case wif != "" && roleARN != "":
		shadow("shadow-web-identity-env", "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set: every SDK but the JS SDK v2 assumes the role itself before asking credd", "unset AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN in this shell (give the daemon --token-file and --role-arn instead)")
	case wif != "":
		c.add(Warn, "web-identity-env-partial", "AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN: most SDKs skip it, but some fail on it", "unset AWS_WEB_IDENTITY_TOKEN_FILE in this shell")
	}
	if c.env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" {
		shadow("shadow-relative-uri", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set: it wins over FULL_URI in every SDK but Go v1 and older Go v2, and points at 169.254.170.2", "unset AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
	}
	c.profile()
}

func (c *checker) profile() {
	name := c.env("AWS_PROFILE")
	explicit := name != ""
	if name == "" {
		name = c.env("AWS_DEFAULT_PROFILE") // botocore and the CLI
		explicit = name != ""
	}
	if name == "" {
		name = "default"
	}
	c.rep.Profile = name
	credsPath := c.awsFile("AWS_SHARED_CREDENTIALS_FILE", "credentials")
	cfgPath := c.awsFile("AWS_CONFIG_FILE", "config")
	creds, credsFound := c.section(credsPath, name)
	cfgName := "profile " + name
	cfg, cfgFound := c.section(cfgPath, cfgName)
	if !cfgFound && name == "default" {
		cfg, cfgFound = c.section(cfgPath, "default")
	}
	if explicit && !credsFound && !cfgFound {
		c.add(Problem, "profile-missing", "AWS_PROFILE names profile "+name+", which is in neither "+credsPath+" nor "+cfgPath+": most SDKs fail with \"profile not found\"", "unset AWS_PROFILE, or add the profile")
		return
	}
	where := func(file string) string { return "profile " + name + " in " + file }
	shadow := func(code, msg, fix string) {
		c.rep.Shadowed = true
		c.add(Problem, code, msg, fix)
	}
	for _, s := range []struct {
		sec  map[string]string
		file string
	}{{creds, credsPath}, {cfg, cfgPath}} {
		if s.sec == nil {
			continue
		}
		if s.sec["aws_access_key_id"] != "" {
			shadow("shadow-profile-keys", where(s.file)+" has static keys (aws_access_key_id): SDKs use them before credd", "remove the keys from the profile, or select another with AWS_PROFILE")
		}
		if p := s.sec["credential_process"]; p != "" {
			if strings.Contains(p, "credd") {
				c.add(OK, "profile-credential-process-credd", where(s.file)+" gets credentials from credd through credential_process", "")
			} else {
				shadow("shadow-profile-process", where(s.file)+" has credential_process: SDKs run it before asking credd", "remove credential_process from the profile")
			}
		}
		if s.sec["web_identity_token_file"] != "" {
			shadow("shadow-profile-web-identity", where(s.file)+" has web_identity_token_file: SDKs assume its role_arn themselves before asking credd", "remove web_identity_token_file and role_arn from the profile")
		} else if s.sec["role_arn"] != "" {
			switch src := s.sec["credential_source"]; {
			case strings.EqualFold(src, "EcsContainer"):
				c.add(OK, "profile-assume-role-credd", where(s.file)+" assumes "+s.sec["role_arn"]+" with credd's credentials (credential_source = EcsContainer)", "")
			default:
				shadow("shadow-profile-assume-role", where(s.file)+" assumes role_arn "+s.sec["role_arn"]+" with other credentials: SDKs use it before credd", "remove role_arn from the profile, or set credential_source = EcsContainer to chain from credd")
			}
		}
		if s.sec["sso_start_url"] != "" || s.sec["sso_session"] != "" {
			shadow("shadow-profile-sso", where(s.file)+" uses IAM Identity Center (SSO): SDKs use it before credd", "select another profile, or remove the sso_* settings")
		}
	}
	if !c.rep.Shadowed {
		c.add(OK, "no-shadow", "nothing in the environment or "+name+" profile comes before credd in the SDKs' default chains", "")
	}
}

func (c *checker) awsFile(envName, base string) string {
	if p := c.env(envName); p != "" {
		return expandHome(p, c.in.Home)
	}
	return filepath.Join(c.in.Home, ".aws", base)
}

func expandHome(p, home string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok && home != "" {
		return filepath.Join(home, rest)
	}
	return p
}

// section reads one section of an AWS shared config file.
func (c *checker) section(path, name string) (map[string]string, bool) {
	if path == "" {
		return nil, false
	}
	b, err := c.in.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.add(Warn, "aws-file-unreadable", path+" cannot be read: "+err.Error(), "")
		}
		return nil, false
	}
	sec, ok := ParseINI(b)[name]
	return sec, ok
}
