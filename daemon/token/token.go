// Package token reads an identity token's claims and checks them locally,
// without verifying the signature: STS does that, credd only wants a precise
// error before the round trip.
package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// Error codes returned by Parse and Check.
const (
	CodeMalformed   daemon.Code = "MalformedToken"
	CodeExpired     daemon.Code = "TokenExpired"
	CodeNotYetValid daemon.Code = "TokenNotYetValid"
	CodeAudience    daemon.Code = "AudienceMismatch"
	CodeIssuer      daemon.Code = "IssuerMismatch"
	// CodeFractionalDate: exp, iat or nbf is not a whole number of
	// seconds. JWT allows it (RFC 7519 §2, NumericDate); STS does not.
	CodeFractionalDate daemon.Code = "TokenDateNotInteger"
)

const (
	defaultSkew    = 30 * time.Second
	maxTokenBytes  = 64 << 10
	maxUnixSeconds = 253402300799 // 9999-12-31T23:59:59Z
	hintOneJWT     = "provide exactly one JWT, header.payload.signature in base64url, and nothing else"
)

// Parse reads the claims of a compact JWS without verifying its signature.
// Whitespace around the token (a file's trailing newline, say) is ignored.
//
// Errors are *daemon.Error with code MalformedToken (KindPermanent); they
// describe the token's shape and never contain the token.
func Parse(raw string) (daemon.Claims, error) {
	c, _, err := parse(raw)
	return c, err
}

// parse is Parse that also names the date claims written with a fraction,
// which Parse accepts (RFC 7519 does) and Check refuses (STS does).
func parse(raw string) (daemon.Claims, []fractional, error) {
	raw = strings.TrimSpace(raw)
	if err := shape(raw); err != nil {
		return daemon.Claims{}, nil, err
	}
	parts := strings.Split(raw, ".")
	var header map[string]any
	if err := decodePart(parts[0], "header", &header); err != nil {
		return daemon.Claims{}, nil, err
	}
	if parts[2] == "" {
		return daemon.Claims{}, nil, malformed("the token has no signature", "credd needs a signed ID token from the issuer, not an unsecured JWT")
	}
	if _, err := decodeBase64(parts[2]); err != nil {
		return daemon.Claims{}, nil, malformed("the signature part is not base64url", hintOneJWT)
	}
	var payload map[string]any
	if err := decodePart(parts[1], "payload", &payload); err != nil {
		return daemon.Claims{}, nil, err
	}
	return claimsOf(payload)
}

// shape rejects the common ways a source hands over something that is not
// one compact JWS, naming what it got.
func shape(raw string) error {
	switch {
	case raw == "":
		return malformed("the token is empty", hintOneJWT)
	case len(raw) > maxTokenBytes:
		return malformed(fmt.Sprintf("the token is %d bytes, more than the %d a JWT can sensibly be", len(raw), maxTokenBytes), hintOneJWT)
	case strings.ContainsAny(raw, "\r\n"):
		n := len(strings.FieldsFunc(raw, func(r rune) bool { return r == '\n' || r == '\r' }))
		return malformed(fmt.Sprintf("the token has %d lines", n), hintOneJWT)
	case strings.HasPrefix(strings.ToLower(raw), "bearer "):
		return malformed(`the token starts with "Bearer "`, "provide the bare JWT without an authorization scheme")
	case raw[0] == '{' || raw[0] == '[' || raw[0] == '"':
		return malformed("the token is JSON, not a JWT", `extract the JWT from the document (GitHub's ID-token endpoint puts it in "value")`)
	case strings.ContainsAny(raw, " \t"):
		return malformed("the token contains spaces", hintOneJWT)
	}
	switch n := strings.Count(raw, ".") + 1; {
	case n == 5:
		return malformed("the token has 5 parts: it is an encrypted JWE, not a signed JWT", "use the issuer's signed ID token")
	case n != 3:
		return malformed(fmt.Sprintf("the token has %d dot-separated parts, want 3", n), hintOneJWT)
	}
	return nil
}

func decodePart(part, name string, v *map[string]any) error {
	b, err := decodeBase64(part)
	if err != nil {
		return malformed(fmt.Sprintf("the %s is not base64url", name), hintOneJWT)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil || *v == nil || dec.More() {
		return malformed(fmt.Sprintf("the %s is not a JSON object", name), hintOneJWT)
	}
	return nil
}

// decodeBase64 accepts base64url with or without padding: JWS forbids
// padding, but some hand-made tokens carry it and the claims are still clear.
func decodeBase64(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}

// fractional is a date claim written with a fraction or an exponent, as
// the token has it.
type fractional struct{ name, value string }

func claimsOf(p map[string]any) (daemon.Claims, []fractional, error) {
	var c daemon.Claims
	var err error
	if c.Issuer, err = stringClaim(p, "iss"); err != nil {
		return daemon.Claims{}, nil, err
	}
	if c.Subject, err = stringClaim(p, "sub"); err != nil {
		return daemon.Claims{}, nil, err
	}
	if c.Audience, err = audienceClaim(p); err != nil {
		return daemon.Claims{}, nil, err
	}
	if p["exp"] == nil {
		return daemon.Claims{}, nil, malformed("the token has no exp claim", "credd only accepts ID tokens that expire; check the issuer")
	}
	var frac []fractional
	for _, d := range []struct {
		name string
		to   *time.Time
	}{{"exp", &c.Expiry}, {"iat", &c.IssuedAt}, {"nbf", &c.NotBefore}} {
		var whole bool
		var written string
		if *d.to, written, whole, err = timeClaim(p, d.name); err != nil {
			return daemon.Claims{}, nil, err
		}
		if !whole {
			frac = append(frac, fractional{d.name, written})
		}
	}
	for k, v := range p {
		s, ok := v.(string)
		if !ok || registered(k) {
			continue
		}
		if c.Extra == nil {
			c.Extra = make(map[string]string)
		}
		c.Extra[k] = s
	}
	return c, frac, nil
}

// registered reports whether name is a claim Claims has a field for.
func registered(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "iat", "nbf":
		return true
	}
	return false
}

func stringClaim(p map[string]any, name string) (string, error) {
	v, ok := p[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", malformed(fmt.Sprintf("the %s claim is not a string", name), "check the issuer")
	}
	return s, nil
}

func audienceClaim(p map[string]any) ([]string, error) {
	switch v := p["aud"].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		aud := make([]string, 0, len(v))
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, malformed("the aud claim holds a value that is not a string", "check the issuer")
			}
			aud = append(aud, s)
		}
		return aud, nil
	default:
		return nil, malformed("the aud claim is neither a string nor an array of strings", "check the issuer")
	}
}

// timeClaim reads a NumericDate: seconds since the epoch, possibly with a
// fraction, or a JSON string holding a decimal integer, which STS accepts
// as that date (radkawar/stackd internal/services/sts/testdata/oidc/
// aws.json, real STS: scenarios exp-string, iat-string and nbf-string
// succeed, nbf-invalid, the string "invalid", is refused). written is the
// number as the token has it; whole reports whether it is an integer (an
// absent claim is whole).
func timeClaim(p map[string]any, name string) (t time.Time, written string, whole bool, err error) {
	v, ok := p[name]
	if !ok || v == nil {
		return time.Time{}, "", true, nil
	}
	switch v := v.(type) {
	case json.Number:
		written = string(v)
	case string:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return time.Time{}, "", false, malformed(fmt.Sprintf("the %s claim is a string that is not a whole number of seconds", name), "check the issuer: dates are seconds since 1970, written as integers")
		}
		written = v
	default:
		return time.Time{}, "", false, malformed(fmt.Sprintf("the %s claim is not a number", name), "check the issuer")
	}
	f, err := strconv.ParseFloat(written, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxUnixSeconds {
		return time.Time{}, "", false, malformed(fmt.Sprintf("the %s claim is not a date between 1970 and 9999", name), "check the issuer")
	}
	_, err = strconv.ParseInt(written, 10, 64)
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), written, err == nil, nil
}

func malformed(msg, hint string) *daemon.Error {
	return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeMalformed, Message: msg, Hint: hint}
}

// Checks are the local checks Check applies. The zero value checks only
// expiry and validity start, with the default skew.
type Checks struct {
	// Audience, if set, must be among the token's aud.
	Audience string
	// Issuer, if set, must equal iss exactly, trailing slash included: OIDC
	// discovery (go-oidc) and IAM's OIDC provider take the issuer as the IdP
	// writes it.
	Issuer string
	// Skew is the safety margin (0 means 30s; negative means none): a token
	// that expires within Skew counts as expired, and one whose nbf or iat is
	// more than Skew in the future is not yet valid.
	Skew time.Duration
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// Check parses raw and checks its claims. Errors are *daemon.Error:
// MalformedToken, IssuerMismatch, AudienceMismatch and TokenDateNotInteger
// (KindPermanent: a new token of the same kind will not help), TokenExpired
// and TokenNotYetValid (KindNewToken). Permanent problems are reported
// first.
func Check(raw string, c Checks) (daemon.Claims, error) {
	claims, frac, err := parse(raw)
	if err != nil {
		return daemon.Claims{}, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	skew := c.Skew
	switch {
	case skew == 0:
		skew = defaultSkew
	case skew < 0:
		skew = 0
	}
	if c.Issuer != "" && claims.Issuer != c.Issuer {
		return claims, issuerMismatch(claims.Issuer, c.Issuer)
	}
	if c.Audience != "" && !slices.Contains(claims.Audience, c.Audience) {
		return claims, &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeAudience,
			Message: fmt.Sprintf("the token's audience is %s, want %q", quoteAll(claims.Audience), c.Audience),
			Hint:    "request the token for the audience the role's trust policy names, or set --audience to match it",
		}
	}
	if len(frac) > 0 {
		var what []string
		for _, f := range frac {
			what = append(what, f.name+" "+f.value)
		}
		return claims, &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeFractionalDate,
			Message: fmt.Sprintf("the token's dates are not whole seconds (%s); STS refuses such a token as InvalidIdentityToken (%q)", strings.Join(what, ", "), "Invalid timestamp in token claims."),
			Hint:    "make whatever issues the token write exp, iat and nbf as whole seconds since 1970: integers, without a fraction or an exponent",
		}
	}
	t := now()
	if !claims.Expiry.After(t.Add(skew)) {
		msg := fmt.Sprintf("the token expired at %s, %s ago", claims.Expiry.Format(time.RFC3339), readable(t.Sub(claims.Expiry)))
		if claims.Expiry.After(t) {
			msg = fmt.Sprintf("the token expires at %s, in %s, within the %s safety margin", claims.Expiry.Format(time.RFC3339), readable(claims.Expiry.Sub(t)), skew)
		}
		return claims, &daemon.Error{
			Kind:    daemon.KindNewToken,
			Code:    CodeExpired,
			Message: msg,
			Hint:    "the token source must provide a fresh token; if it keeps serving this one, check whatever writes it and this machine's clock",
		}
	}
	for _, nb := range []struct {
		name string
		at   time.Time
	}{{"nbf", claims.NotBefore}, {"iat", claims.IssuedAt}} {
		if !nb.at.IsZero() && nb.at.After(t.Add(skew)) {
			return claims, &daemon.Error{
				Kind:    daemon.KindNewToken,
				Code:    CodeNotYetValid,
				Message: fmt.Sprintf("the token's %s is %s, %s in the future", nb.name, nb.at.Format(time.RFC3339), readable(nb.at.Sub(t))),
				Hint:    "check this machine's clock and the issuer's; the token is not valid yet",
			}
		}
	}
	return claims, nil
}

// issuerMismatch says how the token's iss and the configured issuer
// differ; a trailing slash is named, as it is the usual way they do.
func issuerMismatch(got, want string) *daemon.Error {
	msg := fmt.Sprintf("the token's issuer is %q, want %q", got, want)
	if strings.TrimSuffix(got, "/") == strings.TrimSuffix(want, "/") {
		msg += ": they differ only in the trailing slash, which counts"
	}
	return &daemon.Error{
		Kind:    daemon.KindPermanent,
		Code:    CodeIssuer,
		Message: msg,
		Hint:    "the configured issuer, --issuer, must match the token's iss exactly, including any trailing slash: set it to the iss the IdP writes, which the role's IAM OIDC provider must name too",
	}
}

func quoteAll(ss []string) string {
	if len(ss) == 0 {
		return "empty"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// readable renders how long ago (or ahead) a date is, in the unit a
// person would use: 250ms, 3m12s, 3h12m, 12 days, 6.2 years; not
// 54489h43m35s. Each bucket is chosen after rounding, so 59m59.7s reads as
// 1h, not 60m0s.
func readable(d time.Duration) string {
	const day, year = 24 * time.Hour, 36525 * 24 * time.Hour / 100 // a Julian year
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d.Round(time.Second) < time.Hour:
		return d.Round(time.Second).String()
	case d.Round(time.Minute) < day:
		d = d.Round(time.Minute)
		if m := d % time.Hour / time.Minute; m != 0 {
			return fmt.Sprintf("%dh%dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	case d.Round(day) < 365*day:
		if days := d.Round(day) / day; days != 1 {
			return fmt.Sprintf("%d days", days)
		}
		return "1 day"
	}
	return fmt.Sprintf("%.1f years", float64(d)/float64(year))
}
