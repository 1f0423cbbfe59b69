// Package redact removes secrets from text that credd did not write and
// that crosses into a log line, an error or the status document: a token
// command's stderr, an IdP's error_description, an STS error message. It
// works on shapes (a JWT, an AWS key, `password=…`, `Bearer …`, a known
// token prefix), not on a list of known values, so it also catches other
// programs' secrets. It is for logs and errors only: it costs microseconds,
// which the credentials hot path must not pay.
package redact

import (
	"regexp"
	"strings"
)

// Marker replaces a secret; a known prefix (hvs., ghp_, AKIA) is kept in
// front of it, so a reader still sees what kind of secret it was.
const Marker = "[redacted]"

// JWTMarker replaces an identity token (a JWS or JWE compact
// serialization, or a JWT cut short after its payload).
const JWTMarker = "[redacted JWT]"

var (
	jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){0,3}`)

	privateKeyRE = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)

	// userinfoRE is a URL's user:password@; the user is kept.
	userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/?#\s:@"'<>]*):[^/?#\s@"'<>]*@`)

	// schemeRE is an HTTP authorization scheme and its credentials. Only
	// credentials that look like one (a digit or a symbol, or 16
	// characters) count, so that prose such as "Bearer token" stays.
	schemeRE = regexp.MustCompile(`\b((?:Bearer|bearer|BEARER|Basic|basic|BASIC|Negotiate)[ \t]+)([A-Za-z0-9._~+/=-]+)`)

	// prefixRE are tokens whose issuers give them a recognisable prefix:
	// HashiCorp Vault (hvs., hvb., hvr.; s. and b. before Vault 1.10),
	// GitHub, Slack, GitLab, npm, PyPI, Google, Stripe. The prefix is kept.
	prefixRE = regexp.MustCompile(`\b(hv[sbr]\.|gh[pousr]_|github_pat_|xox[abposre]-|xapp-|glpat-|gldt-|npm_|pypi-|ya29\.|AIza|[sr]k_(?:live|test)_)([A-Za-z0-9_.=-]{8,})`)
	// prefixes are literals of prefixRE, to skip it cheaply.
	prefixes = []string{"hvs.", "hvb.", "hvr.", "gh", "xox", "xapp-", "glpat-", "gldt-", "npm_", "pypi-", "ya29.", "AIza", "k_live_", "k_test_"}
	// legacyVaultRE: Vault's s. and b. tokens before 1.10.
	legacyVaultRE = regexp.MustCompile(`\b([sb]\.)[A-Za-z0-9]{24,}\b`)

	// accessKeyRE is an AWS access key ID: AKIA (long-term) or ASIA
	// (temporary), then 16 characters. The prefix is kept.
	accessKeyRE = regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`)

	// kvRE is a secret-named key with its value: key=value, key: value,
	// "key":"value". A key is secret-named when its last part (after _, -
	// or .) ends in one of the words, as in GITHUB_TOKEN, client_secret,
	// X-Amz-Security-Token, accessToken.
	kvRE = regexp.MustCompile(`(?i)(["']?)\b((?:[a-z0-9]+[_.-])*[a-z0-9]*(?:token|secret|password|passwd|pwd|passphrase|key|credentials?|authorization|auth|signature|cookie))(["']?)([ \t]*[:=][ \t]*)("[^"]*"|'[^']*'|[^\s"',;&)\]}>=][^\s"',;&)\]}>]*)`)
)

// String returns s with anything shaped like a secret replaced by Marker
// (JWTMarker for an identity token). Ordinary text (role ARNs, URLs
// without a password, paths, error codes) is left as it is.
func String(s string) string {
	if len(s) < 8 {
		return s // too short to hold a secret worth the scan
	}
	if strings.Contains(s, "PRIVATE KEY") {
		s = privateKeyRE.ReplaceAllString(s, Marker)
	}
	if strings.Contains(s, "eyJ") {
		s = jwtRE.ReplaceAllString(s, JWTMarker)
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = userinfoRE.ReplaceAllString(s, "${1}:"+Marker+"@")
	}
	if containsAny(s, "earer", "EARER", "asic", "ASIC", "Negotiate") {
		s = replaceSubmatch(schemeRE, s, func(m []string) string {
			if !credentialLike(m[2], 4, 16) {
				return m[0]
			}
			return m[1] + Marker
		})
	}
	if containsAny(s, prefixes...) {
		s = prefixRE.ReplaceAllString(s, "${1}"+Marker)
	}
	if legacyVault(s) {
		s = legacyVaultRE.ReplaceAllString(s, "${1}"+Marker)
	}
	if strings.Contains(s, "AKIA") || strings.Contains(s, "ASIA") {
		s = accessKeyRE.ReplaceAllString(s, "${1}"+Marker)
	}
	if secretKeyed(s) {
		s = replaceSubmatch(kvRE, s, keyValue)
	}
	return opaqueRuns(s)
}

// keyWords are what kvRE's keys end in, lower case.
var keyWords = []string{"token", "secret", "password", "passwd", "pwd", "passphrase", "key", "credential", "auth", "authorization", "signature", "cookie"}

// secretKeyed reports whether one of keyWords is followed by a separator
// (after an optional closing quote), as kvRE needs: most text has none,
// and the regexp is the expensive part.
func secretKeyed(s string) bool {
	if !strings.ContainsAny(s, "=:") {
		return false
	}
	lower := strings.ToLower(s)
	for _, w := range keyWords {
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			i += j + len(w)
			k := i
			if k < len(lower) && (lower[k] == 's' || lower[k] == '"' || lower[k] == '\'') {
				k++ // credentials, "token"
			}
			for k < len(lower) && (lower[k] == ' ' || lower[k] == '\t') {
				k++
			}
			if k < len(lower) && (lower[k] == '=' || lower[k] == ':') {
				return true
			}
		}
	}
	return false
}

// legacyVault reports whether s may hold an s. or b. Vault token: the
// prefix, then 24 letters or digits.
func legacyVault(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], ".")
		if j < 0 {
			return false
		}
		i += j + 1
		if i >= 2 && (s[i-2] == 's' || s[i-2] == 'b') && len(s)-i >= 24 {
			n := 0
			for n < 24 && isAlnum(s[i+n]) {
				n++
			}
			if n == 24 {
				return true
			}
		}
	}
}

func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// keyValue redacts the value of one kvRE match m, unless it is a colon
// shape in prose ("token: refreshing failed", "id-token: write").
func keyValue(m []string) string {
	openQ, key, closeQ, sep, val := m[1], m[2], m[3], m[4], m[5]
	inner := val
	if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') {
		inner = val[1 : len(val)-1]
	}
	if inner == "" || strings.Contains(inner, "[redacted") || isScheme(inner) {
		return m[0]
	}
	if !strings.Contains(sep, "=") {
		quoted := (openQ != "" && openQ == closeQ) || inner != val
		if !quoted && !passwordWord(key) && (strings.Contains(inner, "://") || !credentialLike(inner, 6, 0)) {
			return m[0]
		}
	}
	out := openQ + key + closeQ + sep
	if inner != val {
		return out + val[:1] + Marker + val[len(val)-1:]
	}
	return out + Marker
}

func passwordWord(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, "password") || strings.HasSuffix(k, "passwd") || strings.HasSuffix(k, "pwd") || strings.HasSuffix(k, "passphrase")
}

// isScheme: the value of "Authorization: Bearer x" is the scheme, whose
// credentials schemeRE has already redacted.
func isScheme(v string) bool {
	switch strings.ToLower(v) {
	case "bearer", "basic", "negotiate", "token", "aws4-hmac-sha256":
		return true
	}
	return false
}

// credentialLike reports whether v looks like a credential rather than a
// word: at least min bytes with a digit or a symbol, or at least long
// bytes (0: no length alone suffices).
func credentialLike(v string, min, long int) bool {
	if long > 0 && len(v) >= long {
		return true
	}
	if len(v) < min {
		return false
	}
	return strings.ContainsAny(v, "0123456789./+=_~-")
}

// opaqueRuns redacts runs of base64 or base64url characters that look
// random: 40 or more (an AWS secret access key has 40, a session token
// hundreds) mixing upper case, lower case and digits, with few
// separators. Paths, identifiers such as role names, hex digests and
// words do not look random.
func opaqueRuns(s string) string {
	var b strings.Builder
	last, start := 0, -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isB64(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start < 0 {
			continue
		}
		if random(s[start:i]) {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:start])
			b.WriteString(Marker)
			last = i
		}
		start = -1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

func random(run string) bool {
	run = strings.TrimRight(run, "=")
	if len(run) < 40 {
		return false
	}
	var upper, lower, digit bool
	seps, changes := 0, 0
	prev := -1
	for i := 0; i < len(run); i++ {
		class := 3
		switch c := run[i]; {
		case 'A' <= c && c <= 'Z':
			upper, class = true, 0
		case 'a' <= c && c <= 'z':
			lower, class = true, 1
		case '0' <= c && c <= '9':
			digit, class = true, 2
		default:
			if i == 0 || run[i-1] != c {
				seps++
			}
		}
		if prev >= 0 && class != prev {
			changes++
		}
		prev = class
	}
	// Random base64 has one separator (+ / - _) in 32 characters; an AWS
	// session token also has runs of slashes, counted once. It also changes
	// character class (upper, lower, digit) at about 6 in 10 characters,
	// words and camel-case names (a test's temporary path) at 4 in 10 or
	// fewer: below that, it is a name, not a secret (a random 40-character
	// key falls below it about once in 700 draws).
	return upper && lower && digit && seps <= len(run)/16+2 && changes*10 >= (len(run)-1)*4
}

// replaceSubmatch is ReplaceAllStringFunc with the submatches at hand.
func replaceSubmatch(re *regexp.Regexp, s string, f func(m []string) string) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, loc := range idx {
		m := make([]string, len(loc)/2)
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = s[loc[2*i]:loc[2*i+1]]
			}
		}
		b.WriteString(s[last:loc[0]])
		b.WriteString(f(m))
		last = loc[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
