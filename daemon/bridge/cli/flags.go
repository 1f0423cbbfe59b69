package bridgecli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon/bridge"
)

// DefaultListen is where the bridge listens unless told otherwise: loopback,
// behind a TLS terminator.
const DefaultListen = "127.0.0.1:8080"

// envPrefix starts every flag's environment twin: --allow is CREDD_BRIDGE_ALLOW.
const envPrefix = "CREDD_BRIDGE_"

// settings are the resolved flags and environment.
type settings struct {
	issuer           string
	signingKey       string
	kmsKeyID         string
	previousKeys     []string
	previousKMSKeys  []string
	githubAPI        string
	allow            []string
	minPermission    string
	tokenLifetime    time.Duration
	audiences        []string
	acceptTokenKinds []string
	clientID         string
	clientSecretSpec string
	listen           string
	rateLimit        int
	version          bool
}

// option is one flag with its environment twin: one row, so a flag cannot
// lose its twin.
type option struct {
	name  string
	usage string
	value flag.Value
	noEnv bool // --version
}

func (o option) env() string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(o.name, "-", "_"))
}

func options(s *settings) []option {
	return []option{
		{name: "issuer", usage: "public https URL of the bridge, exactly the tokens' iss (required, except behind a Lambda function URL: then https://<the URL's domain>)", value: stringValue{&s.issuer}},
		{name: "signing-key", usage: "PEM RSA private key (PKCS#1 or PKCS#8, >= 2048 bits) that signs the tokens", value: stringValue{&s.signingKey}},
		{name: "kms-key-id", usage: "AWS KMS key (ID, ARN or alias) that signs the tokens, instead of --signing-key, where this build supports it", value: stringValue{&s.kmsKeyID}},
		{name: "previous-key", usage: "PEM public (or private) key still published in the JWKS after a rotation; repeatable, comma-separated in the environment", value: listValue{&s.previousKeys}},
		{name: "previous-kms-key-id", usage: "AWS KMS key still published in the JWKS after a rotation to a new --kms-key-id; repeatable", value: listValue{&s.previousKMSKeys}},
		{name: "github-api", usage: "GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3)", value: stringValue{&s.githubAPI}},
		{name: "allow", usage: "OWNER or OWNER/REPO whose users may get tokens; repeatable and comma-separated (required)", value: listValue{&s.allow}},
		{name: "min-permission", usage: "lowest repository permission that gets a token: pull, triage, push, maintain or admin", value: stringValue{&s.minPermission}},
		{name: "token-lifetime", usage: "lifetime of the minted tokens, 1m to 1h", value: durationValue{&s.tokenLifetime}},
		{name: "audiences", usage: "comma-separated audiences the bridge issues tokens for; the first is the default", value: listValue{&s.audiences}},
		{name: "accept-token-kinds", usage: "comma-separated GitHub token kinds accepted: app-user, oauth-app, classic-pat, fine-grained-pat, unknown", value: listValue{&s.acceptTokenKinds}},
		{name: "github-app-client-id", usage: "the GitHub App's client ID: tokens must be the app's (checked with GitHub's check-token API)", value: stringValue{&s.clientID}},
		{name: "github-app-client-secret", usage: "where the app's client secret is: file:PATH, ssm:PARAMETER or kms:BASE64-CIPHERTEXT", value: stringValue{&s.clientSecretSpec}},
		{name: "listen", usage: "address to serve plain HTTP on, behind a TLS terminator", value: stringValue{&s.listen}},
		{name: "rate-limit", usage: "token requests per minute per GitHub user", value: intValue{&s.rateLimit}},
		{name: "version", usage: "print the version and exit", value: boolValue{&s.version}, noEnv: true},
	}
}

// usageError is a mistake on the command line or in the environment.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// parseSettings reads args, then fills what they leave unset from the
// environment: a flag beats its CREDD_BRIDGE_* twin, which beats the default.
// It returns flag.ErrHelp for -h.
func parseSettings(args []string, getenv func(string) string, stdout io.Writer) (settings, error) {
	s := settings{listen: DefaultListen}
	opts := options(&s)
	fs := flag.NewFlagSet("credd-bridge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, o := range opts {
		fs.Var(o.value, o.name, o.usage)
	}
	fs.Usage = func() { printUsage(stdout, opts) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, opts)
			return s, err
		}
		return s, usageError{err}
	}
	if fs.NArg() > 0 {
		return s, usageError{fmt.Errorf("unexpected argument %q: credd-bridge takes flags only", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, o := range opts {
		if set[o.name] || o.noEnv {
			continue
		}
		if v := getenv(o.env()); v != "" {
			if err := o.value.Set(v); err != nil {
				return s, usageError{fmt.Errorf("%s: %w", o.env(), err)}
			}
		}
	}
	return s, nil
}

func printUsage(w io.Writer, opts []option) {
	fmt.Fprintf(w, "Usage: credd-bridge --issuer URL --signing-key FILE --allow OWNER[/REPO] [flags]\n\n"+
		"credd-bridge turns a GitHub user token into a short-lived OIDC token that AWS STS\n"+
		"AssumeRoleWithWebIdentity accepts. Every flag has an environment twin.\n\nFlags:\n")
	for _, o := range opts {
		fmt.Fprintf(w, "  --%s\n    \t%s", o.name, o.usage)
		if def := defaultOf(o.name); def != "" {
			fmt.Fprintf(w, " (default %s)", def)
		}
		if !o.noEnv {
			fmt.Fprintf(w, "\n    \tenv %s", o.env())
		}
		fmt.Fprintln(w)
	}
}

func defaultOf(name string) string {
	switch name {
	case "github-api":
		return bridge.DefaultGitHubAPI
	case "min-permission":
		return bridge.DefaultMinPermission
	case "token-lifetime":
		return bridge.DefaultTokenLifetime.String()
	case "audiences":
		return bridge.DefaultAudience
	case "accept-token-kinds":
		return bridge.KindAppUser
	case "listen":
		return DefaultListen
	case "rate-limit":
		return strconv.Itoa(bridge.DefaultUserRequestsPerMinute)
	}
	return ""
}

type stringValue struct{ p *string }

func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v stringValue) Set(s string) error { *v.p = strings.TrimSpace(s); return nil }

// listValue appends on every use and splits on commas, so --allow a --allow
// b and --allow a,b mean the same.
type listValue struct{ p *[]string }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}

type durationValue struct{ p *time.Duration }

func (v durationValue) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration; write e.g. 5m or 15m", s)
	}
	*v.p = d
	return nil
}

type intValue struct{ p *int }

func (v intValue) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v.p = n
	return nil
}

type boolValue struct{ p *bool }

func (v boolValue) String() string   { return strconv.FormatBool(v.p != nil && *v.p) }
func (v boolValue) IsBoolFlag() bool { return true }
func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*v.p = b
	return nil
}
