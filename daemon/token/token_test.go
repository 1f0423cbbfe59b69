package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/token"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// jwt builds an unsigned-but-shaped compact JWS with the given payload.
func jwt(t testing.TB, payload any) string {
	t.Helper()
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return rawJWT(`{"alg":"RS256","typ":"JWT","kid":"k1"}`, string(p))
}

func rawJWT(header, payload string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString([]byte("signature"))
}

func githubClaims() map[string]any {
	return map[string]any{
		"iss":         "https://token.actions.githubusercontent.com",
		"sub":         "repo:octo/app:ref:refs/heads/main",
		"aud":         "sts.amazonaws.com",
		"exp":         now.Add(5 * time.Minute).Unix(),
		"iat":         now.Add(-time.Minute).Unix(),
		"nbf":         now.Add(-time.Minute).Unix(),
		"repository":  "octo/app",
		"actor":       "octocat",
		"ref":         "refs/heads/main",
		"environment": "prod",
		"jti":         "abc",
		"run_number":  7,
		"private":     true,
	}
}

func with(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestParse(t *testing.T) {
	good := jwt(t, githubClaims())
	tests := []struct {
		name string
		raw  string
		want daemon.Claims
	}{
		{
			name: "a GitHub Actions token yields its registered claims and string extras",
			raw:  good,
			want: daemon.Claims{
				Issuer:    "https://token.actions.githubusercontent.com",
				Subject:   "repo:octo/app:ref:refs/heads/main",
				Audience:  []string{"sts.amazonaws.com"},
				Expiry:    now.Add(5 * time.Minute),
				IssuedAt:  now.Add(-time.Minute),
				NotBefore: now.Add(-time.Minute),
				Extra:     map[string]string{"repository": "octo/app", "actor": "octocat", "ref": "refs/heads/main", "environment": "prod", "jti": "abc"},
			},
		},
		{
			name: "surrounding whitespace and a trailing newline are ignored",
			raw:  "  \n" + good + "\r\n",
			want: daemon.Claims{
				Issuer:    "https://token.actions.githubusercontent.com",
				Subject:   "repo:octo/app:ref:refs/heads/main",
				Audience:  []string{"sts.amazonaws.com"},
				Expiry:    now.Add(5 * time.Minute),
				IssuedAt:  now.Add(-time.Minute),
				NotBefore: now.Add(-time.Minute),
				Extra:     map[string]string{"repository": "octo/app", "actor": "octocat", "ref": "refs/heads/main", "environment": "prod", "jti": "abc"},
			},
		},
		{
			name: "an audience array is kept in order",
			raw:  jwt(t, map[string]any{"aud": []string{"a", "sts.amazonaws.com"}, "exp": 1700000000}),
			want: daemon.Claims{Audience: []string{"a", "sts.amazonaws.com"}, Expiry: time.Unix(1700000000, 0).UTC()},
		},
		{
			name: "fractional dates keep their fraction",
			raw:  rawJWT(`{"alg":"RS256"}`, `{"exp":1700000000.5,"iat":1699999999.25}`),
			want: daemon.Claims{Expiry: time.Unix(1700000000, 5e8).UTC(), IssuedAt: time.Unix(1699999999, 25e7).UTC()},
		},
		// STS reads a string of digits as that date (radkawar/stackd
		// internal/services/sts/testdata/oidc/aws.json, real STS:
		// exp-string, iat-string and nbf-string succeed), so Parse does too.
		{
			name: "dates written as strings of digits are read as those dates",
			raw:  rawJWT(`{"alg":"RS256"}`, `{"exp":"1700000000","iat":"1699999999","nbf":"1699999998"}`),
			want: daemon.Claims{Expiry: time.Unix(1700000000, 0).UTC(), IssuedAt: time.Unix(1699999999, 0).UTC(), NotBefore: time.Unix(1699999998, 0).UTC()},
		},
		{
			name: "padded base64url parts are accepted",
			raw: base64.URLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
				base64.URLEncoding.EncodeToString([]byte(`{"exp":1700000000,"sub":"x"}`)) + ".c2ln",
			want: daemon.Claims{Subject: "x", Expiry: time.Unix(1700000000, 0).UTC()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.Parse(tt.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestParseRejectsMalformedTokens(t *testing.T) {
	good := jwt(t, githubClaims())
	tests := []struct {
		name        string
		raw         string
		wantMessage string
	}{
		{"an empty string", " \n", "the token is empty"},
		{"two tokens on two lines", good + "\n" + good, "the token has 2 lines"},
		{"an authorization header value", "Bearer " + good, `starts with "Bearer "`},
		{"the raw Actions endpoint response", `{"count":1,"value":"` + good + `"}`, "the token is JSON"},
		{"a token with a space inside", good[:10] + " " + good[10:], "contains spaces"},
		{"an opaque access token", "gho_abcdefABCDEF0123456789", "1 dot-separated parts, want 3"},
		{"a JWE", "a.b.c.d.e", "encrypted JWE"},
		{"an unsigned token", strings.TrimSuffix(good, good[strings.LastIndex(good, ".")+1:]), "no signature"},
		{"a header that is not base64url", "%%%." + strings.SplitN(good, ".", 2)[1], "header is not base64url"},
		{"a payload that is not JSON", rawJWT(`{"alg":"RS256"}`, `not json`), "payload is not a JSON object"},
		{"a payload that is a JSON array", rawJWT(`{"alg":"RS256"}`, `[1,2]`), "payload is not a JSON object"},
		{"a payload of JSON null", rawJWT(`{"alg":"RS256"}`, `null`), "payload is not a JSON object"},
		{"a payload with trailing data", rawJWT(`{"alg":"RS256"}`, `{"exp":1} {}`), "payload is not a JSON object"},
		{"a header that is not JSON", rawJWT(`RS256`, `{"exp":1}`), "header is not a JSON object"},
		{"a token without exp", jwt(t, with(githubClaims(), "exp", nil)), "no exp claim"},
		{"a token whose exp is null", rawJWT(`{"alg":"RS256"}`, `{"exp":null}`), "no exp claim"},
		{"a token whose exp is a string of words", jwt(t, with(githubClaims(), "exp", "tomorrow")), "exp claim is a string that is not a whole number of seconds"},
		{"a token whose iat is a string holding a fraction", jwt(t, with(githubClaims(), "iat", "1700000000.5")), "iat claim is a string that is not a whole number of seconds"},
		{"a token whose nbf is a negative string", jwt(t, with(githubClaims(), "nbf", "-5")), "nbf claim is not a date"},
		{"a token whose exp is a boolean", jwt(t, with(githubClaims(), "exp", true)), "exp claim is not a number"},
		{"a token whose exp is beyond year 9999", rawJWT(`{"alg":"RS256"}`, `{"exp":1e300}`), "exp claim is not a date"},
		{"a token whose iat is negative", rawJWT(`{"alg":"RS256"}`, `{"exp":1,"iat":-5}`), "iat claim is not a date"},
		{"a token whose aud is a number", jwt(t, with(githubClaims(), "aud", 5)), "aud claim is neither"},
		{"a token whose aud array holds a number", jwt(t, with(githubClaims(), "aud", []any{"a", 5})), "aud claim holds a value"},
		{"a token whose iss is an object", jwt(t, with(githubClaims(), "iss", map[string]any{})), "iss claim is not a string"},
		{"an absurdly long token", strings.Repeat("a", 70000) + ".b.c", "more than"},
	}
	for _, tt := range tests {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			_, err := token.Parse(tt.raw)
			e := wantError(t, err, token.CodeMalformed, daemon.KindPermanent)
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", e.Message, tt.wantMessage)
			}
			if e.Hint == "" {
				t.Error("no hint")
			}
			assertNoToken(t, err, tt.raw)
		})
	}
}

func TestCheck(t *testing.T) {
	c := githubClaims()
	tests := []struct {
		name        string
		claims      map[string]any
		checks      token.Checks
		wantCode    daemon.Code // "" = valid
		wantKind    daemon.Kind
		wantMessage string
	}{
		{name: "a valid token passes every check", claims: c,
			checks: token.Checks{Audience: "sts.amazonaws.com", Issuer: "https://token.actions.githubusercontent.com"}},
		// go-oidc's discovery and IAM's OIDC provider both take the issuer
		// exactly as the IdP writes it (OpenID Connect Discovery 1.0 §4.3:
		// the discovered issuer "MUST be identical" to the one used).
		{name: "an issuer differing by a trailing slash is a mismatch that says so", claims: c,
			checks:   token.Checks{Issuer: "https://token.actions.githubusercontent.com/"},
			wantCode: token.CodeIssuer, wantKind: daemon.KindPermanent,
			wantMessage: `issuer is "https://token.actions.githubusercontent.com", want "https://token.actions.githubusercontent.com/": they differ only in the trailing slash`},
		{name: "a token's trailing slash must be configured too", claims: with(c, "iss", "https://idp.example.com/"),
			checks:   token.Checks{Issuer: "https://idp.example.com"},
			wantCode: token.CodeIssuer, wantKind: daemon.KindPermanent, wantMessage: `issuer is "https://idp.example.com/", want "https://idp.example.com"`},
		{name: "an issuer with its trailing slash configured passes", claims: with(c, "iss", "https://idp.example.com/"),
			checks: token.Checks{Issuer: "https://idp.example.com/"}},
		{name: "an audience found in an array passes", claims: with(c, "aud", []string{"x", "sts.amazonaws.com"}),
			checks: token.Checks{Audience: "sts.amazonaws.com"}},
		{name: "empty checks skip audience and issuer", claims: with(c, "aud", nil, "iss", nil)},
		{name: "an expired token needs a new one", claims: with(c, "exp", now.Add(-3*time.Minute).Unix()),
			wantCode: token.CodeExpired, wantKind: daemon.KindNewToken, wantMessage: "expired at 2025-06-01T11:57:00Z, 3m0s ago"},
		{name: "a token that expired years ago says so in years", claims: with(c, "exp", now.Add(-54489*time.Hour).Unix(), "iat", now.Add(-54490*time.Hour).Unix()),
			wantCode: token.CodeExpired, wantKind: daemon.KindNewToken, wantMessage: ", 6.2 years ago"},
		{name: "a token expiring within the default skew counts as expired", claims: with(c, "exp", now.Add(20*time.Second).Unix()),
			wantCode: token.CodeExpired, wantKind: daemon.KindNewToken, wantMessage: "in 20s, within the 30s safety margin"},
		{name: "a token expiring just after the skew is valid", claims: with(c, "exp", now.Add(31*time.Second).Unix())},
		{name: "a custom skew is honoured", claims: with(c, "exp", now.Add(50*time.Second).Unix()), checks: token.Checks{Skew: time.Minute},
			wantCode: token.CodeExpired, wantKind: daemon.KindNewToken, wantMessage: "within the 1m0s safety margin"},
		{name: "a negative skew means no margin", claims: with(c, "exp", now.Add(time.Second).Unix()), checks: token.Checks{Skew: -1}},
		{name: "a token whose nbf is in the future is not yet valid", claims: with(c, "nbf", now.Add(2*time.Minute).Unix()),
			wantCode: token.CodeNotYetValid, wantKind: daemon.KindNewToken, wantMessage: "nbf is 2025-06-01T12:02:00Z, 2m0s in the future"},
		{name: "a token issued in the future is not yet valid", claims: with(c, "iat", now.Add(time.Hour).Unix()),
			wantCode: token.CodeNotYetValid, wantKind: daemon.KindNewToken, wantMessage: "iat is"},
		{name: "a token issued slightly in the future is within the skew", claims: with(c, "iat", now.Add(10*time.Second).Unix(), "nbf", now.Add(10*time.Second).Unix())},
		{name: "a wrong audience is permanent and names both values", claims: with(c, "aud", "https://github.com/octo"),
			checks:   token.Checks{Audience: "sts.amazonaws.com"},
			wantCode: token.CodeAudience, wantKind: daemon.KindPermanent, wantMessage: `audience is "https://github.com/octo", want "sts.amazonaws.com"`},
		{name: "a missing audience is a mismatch", claims: with(c, "aud", nil),
			checks:   token.Checks{Audience: "sts.amazonaws.com"},
			wantCode: token.CodeAudience, wantKind: daemon.KindPermanent, wantMessage: `audience is empty`},
		{name: "an audience array without the wanted value lists all values", claims: with(c, "aud", []string{"a", "b"}),
			checks:   token.Checks{Audience: "sts.amazonaws.com"},
			wantCode: token.CodeAudience, wantKind: daemon.KindPermanent, wantMessage: `["a", "b"]`},
		{name: "a wrong issuer is permanent and names both values", claims: c,
			checks:   token.Checks{Issuer: "https://idp.example.com"},
			wantCode: token.CodeIssuer, wantKind: daemon.KindPermanent, wantMessage: `issuer is "https://token.actions.githubusercontent.com", want "https://idp.example.com"`},
		{name: "a wrong issuer is reported before expiry", claims: with(c, "exp", now.Add(-time.Hour).Unix()),
			checks:   token.Checks{Issuer: "https://idp.example.com"},
			wantCode: token.CodeIssuer, wantKind: daemon.KindPermanent},
		// STS answers a fractional exp or iat with InvalidIdentityToken
		// "Invalid timestamp in token claims." (radkawar/stackd
		// internal/services/sts/testdata/oidc/aws.json, scenarios
		// exp-fraction and iat-fraction, recorded against real STS).
		{name: "a fractional exp is refused for good, naming the claim", claims: with(c, "exp", float64(now.Add(time.Hour).Unix())+0.5),
			wantCode: token.CodeFractionalDate, wantKind: daemon.KindPermanent, wantMessage: "not whole seconds (exp 1748782800.5)"},
		{name: "every fractional date is named", claims: with(c, "iat", 1748778000.25, "nbf", 1748778000.75),
			wantCode: token.CodeFractionalDate, wantKind: daemon.KindPermanent, wantMessage: "(iat 1748778000.25, nbf 1748778000.75)"},
		{name: "a date with an exponent is no integer either", claims: with(c, "iat", json.Number("1.748778e9")),
			wantCode: token.CodeFractionalDate, wantKind: daemon.KindPermanent, wantMessage: "iat 1.748778e9"},
		{name: "dates written as strings of digits pass, as STS takes them",
			claims: with(c, "exp", fmt.Sprint(now.Add(time.Hour).Unix()), "iat", fmt.Sprint(now.Unix()), "nbf", fmt.Sprint(now.Unix()))},
		{name: "a date written as a string of digits is checked like a number", claims: with(c, "exp", fmt.Sprint(now.Add(-3*time.Minute).Unix())),
			wantCode: token.CodeExpired, wantKind: daemon.KindNewToken, wantMessage: "expired at 2025-06-01T11:57:00Z"},
		{name: "a fractional date is reported before expiry", claims: with(c, "exp", 1000.5),
			wantCode: token.CodeFractionalDate, wantKind: daemon.KindPermanent},
		{name: "a wrong audience is reported before a fractional date", claims: with(c, "aud", "x", "exp", float64(now.Add(time.Hour).Unix())+0.5),
			checks:   token.Checks{Audience: "sts.amazonaws.com"},
			wantCode: token.CodeAudience, wantKind: daemon.KindPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := tt.checks
			checks.Now = func() time.Time { return now }
			raw := jwt(t, tt.claims)
			got, err := token.Check(raw+"\n", checks)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				want, _ := token.Parse(raw)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("claims = %+v, want %+v", got, want)
				}
				return
			}
			e := wantError(t, err, tt.wantCode, tt.wantKind)
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", e.Message, tt.wantMessage)
			}
			if e.Hint == "" {
				t.Error("no hint")
			}
			assertNoToken(t, err, raw)
		})
	}
}

func TestCheckDefaultsToTheWallClock(t *testing.T) {
	raw := jwt(t, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
	if _, err := token.Check(raw, token.Checks{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestCheckPassesMalformedErrorsThrough(t *testing.T) {
	_, err := token.Check("nope", token.Checks{})
	wantError(t, err, token.CodeMalformed, daemon.KindPermanent)
}

func wantError(t *testing.T, err error, code daemon.Code, kind daemon.Kind) *daemon.Error {
	t.Helper()
	var e *daemon.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *daemon.Error", err, err)
	}
	if e.Code != code || e.Kind != kind {
		t.Fatalf("error = %s/%s (%v), want %s/%s", e.Code, e.Kind, err, code, kind)
	}
	return e
}

// assertNoToken fails if any part of the token long enough to be a secret
// shows up in the error.
func assertNoToken(t *testing.T, err error, raw string) {
	t.Helper()
	for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return r == '.' || r == '\n' || r == ' ' }) {
		if len(part) >= 16 && strings.Contains(err.Error(), part) {
			t.Errorf("error %q contains part of the token", err)
		}
	}
}

func TestCheckHintsSayWhatToFix(t *testing.T) {
	checks := token.Checks{Now: func() time.Time { return now }}
	tests := []struct {
		name     string
		claims   map[string]any
		issuer   string
		wantHint []string
	}{
		{"an issuer mismatch asks for the exact iss", githubClaims(), "https://token.actions.githubusercontent.com/",
			[]string{"must match the token's iss exactly", "trailing slash"}},
		{"a fractional date asks for whole seconds", with(githubClaims(), "exp", 1748782800.5), "",
			[]string{"exp, iat and nbf", "whole seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checks
			c.Issuer = tt.issuer
			claims, err := token.Check(jwt(t, tt.claims), c)
			var e *daemon.Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v, want a *daemon.Error", err)
			}
			for _, h := range tt.wantHint {
				if !strings.Contains(e.Hint, h) {
					t.Errorf("hint %q lacks %q", e.Hint, h)
				}
			}
			if claims.Subject == "" {
				t.Error("the refused token's claims are not returned")
			}
		})
	}
}
