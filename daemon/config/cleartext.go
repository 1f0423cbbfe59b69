package config

import (
	"cmp"
	"net"
	"net/url"
	"strings"

	"github.com/credd-dev/credd/daemon"
)

// Warning is a setting that works but deserves a word: the daemon logs it
// at start and at each reload, and `credd doctor` (and `credd status`)
// show it.
type Warning struct {
	Role    string `json:"role"`
	Setting string `json:"setting"` // such as "issuer" or "sts-endpoint"
	// URL is the setting's value without its userinfo.
	URL    string `json:"url"`
	Origin string `json:"origin"` // the layer the value came from
	// Message says what is wrong, Fix what to do.
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// String is the warning as one sentence.
func (w Warning) String() string { return w.Message + ": " + w.Fix }

// CleartextFix is what to do about a cleartext endpoint.
const CleartextFix = "use https://, or a loopback address for a local test server"

// cleartextCarries says what crosses the network to each endpoint setting.
var cleartextCarries = map[string]string{
	"issuer":       "the client secret, the device code, the refresh and ID tokens, and the keys that verify tokens",
	"sts-endpoint": "the identity token and the AWS credentials STS answers with",
}

// CleartextEndpoints warns about every role's issuer and STS endpoint that
// is plain http:// to a host that is not loopback.
func CleartextEndpoints(cfg Config) []Warning {
	var out []Warning
	for _, r := range cfg.Roles {
		out = append(out, CleartextRole(r)...)
	}
	return out
}

// CleartextRole is CleartextEndpoints for one role.
func CleartextRole(r Role) []Warning {
	// The raw values, in status's order: Settings() redacts them for
	// display, which can leave a URL unparsable.
	var settings []daemon.Setting
	for _, s := range roleSettings {
		if _, ok := cleartextCarries[s.name]; !ok {
			continue
		}
		if v := r.settingValue(s.name); v != "" {
			settings = append(settings, daemon.Setting{Name: s.name, Value: v, Origin: cmp.Or(r.Origins[s.name], originDefault)})
		}
	}
	return CleartextSettings(r.Name, settings)
}

// CleartextSettings is CleartextEndpoints for one role's settings as the
// daemon reports them (daemon.RoleStatus.Settings), so that clients of
// the control socket apply the same rule.
func CleartextSettings(role string, settings []daemon.Setting) []Warning {
	var out []Warning
	for _, s := range settings {
		carries, ok := cleartextCarries[s.Name]
		if !ok || !Cleartext(s.Value) {
			continue
		}
		u := redactURL(s.Value)
		msg := "role " + role + ": --" + s.Name + " " + u
		if s.Origin != "" {
			msg += " (from " + s.Origin + ")"
		}
		msg += " is not https and not loopback, so " + carries + " cross the network in the clear"
		out = append(out, Warning{Role: role, Setting: s.Name, URL: u, Origin: s.Origin, Message: msg, Fix: CleartextFix})
	}
	return out
}

// Cleartext reports whether requests to rawURL would leave this machine
// unencrypted: its scheme is not https and its host is not a loopback
// address (127.0.0.0/8, ::1) or localhost. Loopback stays cleartext-safe:
// tests and the sandbox serve there. An unparsable URL is not judged here
// (validation refuses it).
func Cleartext(rawURL string) bool {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Scheme, "https") {
		return false
	}
	return !isLoopbackHost(u.Hostname())
}

func isLoopbackHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "localhost" {
		return true
	}
	h, _, _ = strings.Cut(h, "%") // an IPv6 zone
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// redactURL is rawURL without its userinfo, which may hold a password.
func redactURL(rawURL string) string {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return rawURL
	}
	u.User = nil
	return cmp.Or(u.String(), rawURL)
}
