package sandbox

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/policy"
	jose "github.com/go-jose/go-jose/v4"
)

// conformanceDoc is the table of behaviours TestConformance holds the
// sandbox to, one subtest per row, named by the row's ID.
const conformanceDoc = "../../docs/sandbox-conformance.md"

// The conformance rig's roles besides DefaultRoleARN.
const (
	confShortRole   = "arn:aws:iam::123456789012:role/short"     // MaxSessionDuration 1h
	confPathRole    = "arn:aws:iam::123456789012:role/ci/deploy" // a role with a path
	confPolicyRole  = "arn:aws:iam::123456789012:role/policy"    // IAM rows set its trust policy
	confClientARole = "arn:aws:iam::123456789012:role/client-a"  // registers client ID client-a
	confClientBRole = "arn:aws:iam::123456789012:role/client-b"  // registers client ID client-b
	confOneKeyRole  = "arn:aws:iam::123456789012:role/one-key"   // trusts an IdP with one key
	confTwoKeysRole = "arn:aws:iam::123456789012:role/two-keys"  // trusts an IdP with two keys
	confDeadIdPRole = "arn:aws:iam::123456789012:role/dead-idp"  // trusts an IdP that does not answer
)

// conformanceRig is one sandbox shared by the rows: its clock is fake and
// never advanced (so answers that carry the time are exact), and it trusts
// three IdPs outside it besides its own issuer.
type conformanceRig struct {
	sb    *Sandbox
	clock *clock.Fake
	// oneKey and twoKeys publish keyA, and keyA and keyB; deadIdP does
	// not answer.
	oneKey, twoKeys, deadIdP string
	keyA, keyB               *ecdsa.PrivateKey
}

func newConformanceRig(t *testing.T) *conformanceRig {
	t.Helper()
	rig := &conformanceRig{clock: clock.NewFake(time.Now().Truncate(time.Second))}
	rig.keyA, rig.keyB = rig.ecKey(t), rig.ecKey(t)
	pubA := jose.JSONWebKey{Key: rig.keyA.Public(), KeyID: "a", Algorithm: string(jose.ES256), Use: "sig"}
	pubB := jose.JSONWebKey{Key: rig.keyB.Public(), KeyID: "b", Algorithm: string(jose.ES256), Use: "sig"}
	rig.oneKey = rig.keyServer(t, pubA)
	rig.twoKeys = rig.keyServer(t, pubA, pubB)
	rig.deadIdP = closedURL(t)
	rig.sb = startSandbox(t, Options{Issuer: IssuerOptions{Clock: rig.clock}, STS: STSOptions{
		TrustedIssuers: []string{rig.oneKey, rig.twoKeys, rig.deadIdP},
		Roles: []Role{
			{ARN: DefaultRoleARN, SubjectPattern: "repo:credd-dev/*"},
			{ARN: confShortRole, MaxSessionDuration: time.Hour},
			{ARN: confPathRole},
			{ARN: confPolicyRole},
			{ARN: confClientARole, Audience: "client-a"},
			{ARN: confClientBRole, Audience: "client-b"},
			{ARN: confOneKeyRole, Issuer: rig.oneKey},
			{ARN: confTwoKeysRole, Issuer: rig.twoKeys},
			{ARN: confDeadIdPRole, Issuer: rig.deadIdP},
		},
	}})
	return rig
}

func (rig *conformanceRig) ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// keyServer is an OIDC provider outside the sandbox publishing keys.
func (rig *conformanceRig) keyServer(t *testing.T, keys ...jose.JSONWebKey) string {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			writeJSON(w, http.StatusOK, map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys"})
		case "/keys":
			writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: keys})
		default:
			http.NotFound(w, r)
		}
	})
	return srv.URL
}

// externalToken is a token of the IdP at iss, signed ES256 by key.
func (rig *conformanceRig) externalToken(t *testing.T, iss string, key *ecdsa.PrivateKey, kid string) string {
	t.Helper()
	now := rig.clock.Now()
	return signToken(t, jose.ES256, key, kid, map[string]any{
		"iss": iss, "sub": "external-user", "aud": DefaultAudience,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
}

// signedByOneKey is a token of the IdP at rig.oneKey (kid "a") whose
// payload is exactly payload, with header fields added to the JOSE header.
func (rig *conformanceRig) signedByOneKey(t *testing.T, payload string, header map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "a")
	for k, v := range header {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: rig.keyA}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// token is a sandbox token for DefaultAudience with claims overridden.
func (rig *conformanceRig) token(t *testing.T, overrides map[string]any) string {
	t.Helper()
	return mintToken(t, rig.sb, overrides)
}

// form is an AssumeRoleWithWebIdentity request; kv adds parameters.
func (rig *conformanceRig) form(role, session, token string, kv ...string) url.Values {
	v := url.Values{
		"Action": {"AssumeRoleWithWebIdentity"}, "Version": {stsVersion},
		"RoleArn": {role}, "RoleSessionName": {session}, "WebIdentityToken": {token},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// rigAnswer is an STS answer as a client receives it.
type rigAnswer struct {
	status int
	header http.Header
	body   []byte
}

// call sends params as a form POST body, or for GET in the query.
func (rig *conformanceRig) call(t *testing.T, method string, params url.Values) rigAnswer {
	t.Helper()
	var body io.Reader
	target := rig.sb.STSURL + "/"
	if method == http.MethodGet {
		target += "?" + params.Encode()
	} else {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	return rig.do(t, req)
}

func (rig *conformanceRig) do(t *testing.T, req *http.Request) rigAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return rigAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

// wantError checks that a is an STS error in AWS's shape with this status,
// code and message; message "" leaves the words unchecked, for rows whose
// words have no source.
func (a rigAnswer) wantError(t *testing.T, status int, code, message string) {
	t.Helper()
	var e struct {
		XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}
	if err := xml.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("status %d, not an STS error answer (%v): %s", a.status, err, a.body)
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	if a.status != status || e.Type != kind || e.Code != code || (message != "" && e.Message != message) {
		t.Errorf("answer %d %s %s: %q\nwant   %d %s %s: %q", a.status, e.Type, e.Code, e.Message, status, kind, code, message)
	}
	if id := a.header.Get("X-Amzn-Requestid"); e.RequestID == "" || e.RequestID != id {
		t.Errorf("RequestId %q, x-amzn-RequestId %q: want the same, not empty", e.RequestID, id)
	}
	if ct := a.header.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("Content-Type %q, want text/xml", ct)
	}
}

// rigAssumed is an AssumeRoleWithWebIdentity answer as on the wire.
type rigAssumed struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Result  struct {
		SubjectFromWebIdentityToken, Audience, Provider string
		AssumedRoleUser                                 struct {
			Arn           string
			AssumedRoleID string `xml:"AssumedRoleId"`
		}
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
	} `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// assumed reads a successful AssumeRoleWithWebIdentity answer.
func (a rigAnswer) assumed(t *testing.T) rigAssumed {
	t.Helper()
	var out rigAssumed
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", a.status, a.body)
	}
	if err := xml.Unmarshal(a.body, &out); err != nil {
		t.Fatalf("not an AssumeRoleWithWebIdentityResponse (%v): %s", err, a.body)
	}
	return out
}

// sdkError is the status, code and message of an error the SDK returned.
func (rig *conformanceRig) sdkError(t *testing.T, err error) (status int, code, message string) {
	t.Helper()
	var apiErr smithy.APIError
	var respErr interface{ HTTPStatusCode() int }
	if !errors.As(err, &apiErr) || !errors.As(err, &respErr) {
		t.Fatalf("err = %v, want an STS error answer", err)
	}
	return respErr.HTTPStatusCode(), apiErr.ErrorCode(), apiErr.ErrorMessage()
}

// getCallerIdentity calls GetCallerIdentity through the SDK with creds.
func (rig *conformanceRig) getCallerIdentity(t *testing.T, sb *Sandbox, creds aws.Credentials) (*sts.GetCallerIdentityOutput, error) {
	t.Helper()
	return stsClient(sb, credentials.StaticCredentialsProvider{Value: creds}).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
}

// trust is a trust policy allowing action to the federated principal under
// condition (IAM JSON, "" for none).
func (rig *conformanceRig) trust(federated, action, condition string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + federated +
		`"},"Action":"` + action + `","Condition":` + cmp.Or(condition, "{}") + `}]}`
}

// provider and federated name the sandbox issuer as IAM does.
func (rig *conformanceRig) provider() string { return policy.ProviderName(rig.sb.IssuerURL) }
func (rig *conformanceRig) federated() string {
	return policy.ProviderARN(DefaultAccountID, rig.sb.IssuerURL)
}

// assumePolicyRole sets confPolicyRole's trust policy to doc and assumes
// the role with token.
func (rig *conformanceRig) assumePolicyRole(t *testing.T, doc, token string) rigAnswer {
	t.Helper()
	if err := rig.sb.STS.SetTrustPolicy(confPolicyRole, doc); err != nil {
		t.Fatalf("SetTrustPolicy: %v", err)
	}
	return rig.call(t, http.MethodPost, rig.form(confPolicyRole, "alice", token))
}

// get fetches rawURL from the issuer with the Authorization header auth
// ("" for none).
func (rig *conformanceRig) get(t *testing.T, rawURL, auth string) rigAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return rig.do(t, req)
}

// value is the "value" of a token endpoint answer.
func (a rigAnswer) value(t *testing.T) string {
	t.Helper()
	var body struct {
		Value *string `json:"value"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &body) != nil || body.Value == nil {
		t.Fatalf("status %d, want 200 with a JSON value: %s", a.status, a.body)
	}
	return *body.Value
}

// jwtPart decodes part i (0 header, 1 payload) of a compact JWT, keeping
// numbers as written.
func (rig *conformanceRig) jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConformance holds the sandbox to each row of
// docs/sandbox-conformance.md, over HTTP, as a client sees it.
func TestConformance(t *testing.T) {
	rig := newConformanceRig(t)
	sb := rig.sb
	now := rig.clock.Now()
	good := rig.token(t, nil)

	// STS: the Query protocol.

	t.Run("STS-01 a form POST and a GET with the query are both served", func(t *testing.T) {
		form := rig.form(DefaultRoleARN, "alice", good)
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			if out := rig.call(t, method, form).assumed(t); out.Result.SubjectFromWebIdentityToken != DefaultSubject {
				t.Errorf("%s: subject %q", method, out.Result.SubjectFromWebIdentityToken)
			}
		}
	})

	t.Run("STS-02 an unknown Action or Version is InvalidAction", func(t *testing.T) {
		rig.call(t, http.MethodPost, url.Values{"Action": {"AssumeRole2"}, "Version": {stsVersion}}).
			wantError(t, 400, "InvalidAction", "Could not find operation AssumeRole2 for version 2011-06-15")
		rig.call(t, http.MethodPost, url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2010-01-01"}}).
			wantError(t, 400, "InvalidAction", "Could not find operation GetCallerIdentity for version 2010-01-01")
	})

	t.Run("STS-03 a request without Action is MissingAction", func(t *testing.T) {
		rig.call(t, http.MethodPost, url.Values{"Version": {stsVersion}}).wantError(t, 400, "MissingAction", "Missing Action")
	})

	t.Run("STS-04 errors are an ErrorResponse with Type, Code, Message and the RequestId", func(t *testing.T) {
		a := rig.call(t, http.MethodPost, url.Values{"Action": {"AssumeRole2"}, "Version": {stsVersion}})
		a.wantError(t, 400, "InvalidAction", "")
		const want = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation AssumeRole2 for version 2011-06-15</Message></Error><RequestId>ID</RequestId></ErrorResponse>`
		if got := strings.ReplaceAll(string(a.body), a.header.Get("X-Amzn-Requestid"), "ID"); got != want {
			t.Errorf("body\n got %s\nwant %s", got, want)
		}
		sb.STS.InjectFault(Fault{Kind: FaultInternalError, Count: 1})
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good)).wantError(t, 500, "InternalFailure", "")
	})

	t.Run("STS-05 a missing required parameter is a ValidationError naming it", func(t *testing.T) {
		for param, member := range map[string]string{"RoleArn": "roleArn", "RoleSessionName": "roleSessionName", "WebIdentityToken": "webIdentityToken"} {
			form := rig.form(DefaultRoleARN, "alice", good)
			form.Del(param)
			rig.call(t, http.MethodPost, form).wantError(t, 400, "ValidationError",
				"1 validation error detected: Value null at '"+member+"' failed to satisfy constraint: Member must not be null")
		}
	})

	t.Run("STS-44 every violated constraint is reported in one ValidationError", func(t *testing.T) {
		form := rig.form(DefaultRoleARN, "a b", "abc", "DurationSeconds", "899")
		form.Del("RoleArn")
		rig.call(t, http.MethodPost, form).wantError(t, 400, "ValidationError", "4 validation errors detected: "+
			"Value null at 'roleArn' failed to satisfy constraint: Member must not be null; "+
			"Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; "+
			"Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4; "+
			"Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900")
	})

	t.Run("STS-45 a parameter sent empty is the empty string, not null", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form("", "alice", good)).wantError(t, 400, "ValidationError", "2 validation errors detected: "+
			"Value '' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: "+
			"[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+; "+
			"Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "", good)).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value '' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", "")).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4")
	})

	t.Run("STS-06 RoleSessionName must match [\\w+=,.@-]*", func(t *testing.T) {
		for _, name := range []string{"alice smith", "dependabot[bot]"} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, name, good)).wantError(t, 400, "ValidationError",
				"1 validation error detected: Value '"+name+"' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
		}
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "a+b=c,d.e@f-g_h", good)).assumed(t)
	})

	t.Run("STS-07 RoleSessionName must be 2 to 64 characters", func(t *testing.T) {
		long := strings.Repeat("s", 65)
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "a", good)).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, long, good)).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value '"+long+"' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, long[:64], good)).assumed(t)
	})

	t.Run("STS-08 WebIdentityToken must be 4 to 20000 characters, and its value is not quoted back", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", "abc")).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", strings.Repeat("x", 20001))).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000")
	})

	t.Run("STS-09 DurationSeconds must be an integer from 900 to 43200", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good, "DurationSeconds", "899")).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good, "DurationSeconds", "43201")).wantError(t, 400, "ValidationError",
			"1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good, "DurationSeconds", "1h")).wantError(t, 400, "ValidationError", "")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good, "DurationSeconds", "900")).assumed(t)
	})

	t.Run("STS-10 without DurationSeconds the session lasts one hour", func(t *testing.T) {
		out := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good)).assumed(t)
		if got, want := out.Result.Credentials.Expiration, now.Add(time.Hour).UTC().Format(daemon.ExpirationLayout); got != want {
			t.Errorf("Expiration %s, want %s", got, want)
		}
	})

	t.Run("STS-11 DurationSeconds above the role's MaxSessionDuration is a ValidationError", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(confShortRole, "alice", good, "DurationSeconds", "3601")).wantError(t, 400, "ValidationError",
			"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		rig.call(t, http.MethodPost, rig.form(confShortRole, "alice", good, "DurationSeconds", "3600")).assumed(t)
	})

	t.Run("STS-12 a RoleArn that is not a role ARN is a ValidationError", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form("arn:aws:iam::123:role/x-and-some-more", "alice", good)).
			wantError(t, 400, "ValidationError", "Request ARN is invalid")
	})

	t.Run("STS-13 a role that does not exist is AccessDenied", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form("arn:aws:iam::123456789012:role/nope", "alice", good)).
			wantError(t, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	})

	t.Run("STS-14 success is an AssumeRoleWithWebIdentityResponse with the RequestId", func(t *testing.T) {
		a := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good))
		out := a.assumed(t)
		if out.RequestID == "" || out.RequestID != a.header.Get("X-Amzn-Requestid") || a.header.Get("Content-Type") != "text/xml" {
			t.Errorf("RequestId %q, headers %v", out.RequestID, a.header)
		}
	})

	t.Run("STS-15 credentials are an ASIA key, a 40-character secret, a session token and a whole-second UTC Expiration", func(t *testing.T) {
		c := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good, "DurationSeconds", "7200")).assumed(t).Result.Credentials
		if !regexp.MustCompile(`^ASIA[A-Z0-9]{16}$`).MatchString(c.AccessKeyID) || len(c.SecretAccessKey) != 40 || c.SessionToken == "" {
			t.Errorf("AccessKeyId %q, secret of %d characters, session token of %d", c.AccessKeyID, len(c.SecretAccessKey), len(c.SessionToken))
		}
		if want := now.Add(2 * time.Hour).UTC().Format(daemon.ExpirationLayout); c.Expiration != want {
			t.Errorf("Expiration %q, want %q", c.Expiration, want)
		}
	})

	t.Run("STS-16 AssumedRoleUser is the assumed-role ARN without the role's path and AROA…:session", func(t *testing.T) {
		var ids []string
		for range 2 {
			u := rig.call(t, http.MethodPost, rig.form(confPathRole, "alice@example.com", good)).assumed(t).Result.AssumedRoleUser
			if want := "arn:aws:sts::123456789012:assumed-role/deploy/alice@example.com"; u.Arn != want {
				t.Errorf("Arn %q, want %q", u.Arn, want)
			}
			if !regexp.MustCompile(`^AROA[A-Z0-9]{17}:alice@example\.com$`).MatchString(u.AssumedRoleID) {
				t.Errorf("AssumedRoleId %q", u.AssumedRoleID)
			}
			ids = append(ids, u.AssumedRoleID)
		}
		if ids[0] != ids[1] {
			t.Errorf("the role's unique ID changed: %v", ids)
		}
	})

	t.Run("STS-17 SubjectFromWebIdentityToken is sub, Audience is azp or else aud, Provider is the provider ARN", func(t *testing.T) {
		const sub = "repo:credd-dev/x:environment:prod"
		r := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"sub": sub}))).assumed(t).Result
		if r.SubjectFromWebIdentityToken != sub || r.Audience != DefaultAudience {
			t.Errorf("SubjectFromWebIdentityToken %q, Audience %q", r.SubjectFromWebIdentityToken, r.Audience)
		}
		if want := "arn:aws:iam::123456789012:oidc-provider/" + strings.TrimPrefix(sb.IssuerURL, "http://"); r.Provider != want {
			t.Errorf("Provider %q, want %q", r.Provider, want)
		}
		for _, aud := range []any{"other", []string{"other", "client-a"}} {
			r := rig.call(t, http.MethodPost, rig.form(confClientBRole, "alice", rig.token(t, map[string]any{"aud": aud, "azp": "client-b"}))).assumed(t).Result
			if r.Audience != "client-b" {
				t.Errorf("aud %v, azp client-b: Audience %q, want the azp", aud, r.Audience)
			}
		}
	})

	// STS: how the token is checked.

	t.Run("STS-18 a token that is not a JWT, or has a crit header, is InvalidIdentityToken", func(t *testing.T) {
		const notJWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", "not-a-jwt")).wantError(t, 400, "InvalidIdentityToken", notJWT)
		claims := fmt.Sprintf(`{"iss":%q,"sub":"external-user","aud":%q,"iat":%d,"exp":%d}`, rig.oneKey, DefaultAudience, now.Unix(), now.Add(10*time.Minute).Unix())
		rig.call(t, http.MethodPost, rig.form(confOneKeyRole, "alice", rig.signedByOneKey(t, claims, nil))).assumed(t)
		crit := rig.signedByOneKey(t, claims, map[jose.HeaderKey]any{"crit": []string{"custom"}, "custom": "yes"})
		rig.call(t, http.MethodPost, rig.form(confOneKeyRole, "alice", crit)).wantError(t, 400, "InvalidIdentityToken", notJWT)
	})

	t.Run("STS-19 RS256 to RS512 and ES256 to ES512 are accepted, other algorithms refused", func(t *testing.T) {
		es := startSandbox(t, Options{Issuer: IssuerOptions{Algorithm: jose.ES512}})
		if _, err := assumeRole(t.Context(), es, mintToken(t, es, nil), 0); err != nil {
			t.Errorf("ES512: %v", err)
		}
		hs := signToken(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), sb.Issuer.KeySet().Keys[0].KeyID, defaultClaims(sb.Issuer))
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", hs)).wantError(t, 400, "InvalidIdentityToken", "")
	})

	t.Run("STS-20 a token whose issuer has no OIDC provider is InvalidIdentityToken naming iss", func(t *testing.T) {
		const iss = "https://token.actions.githubusercontent.com"
		tok := rig.externalToken(t, iss, rig.keyA, "a")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", tok)).wantError(t, 400, "InvalidIdentityToken",
			"No OpenIDConnect provider found in your account for "+iss)
	})

	t.Run("STS-21 a kid the IdP does not publish is Couldn't retrieve verification key", func(t *testing.T) {
		tok := signToken(t, jose.ES256, rig.keyA, "rotated-away", defaultClaims(sb.Issuer))
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", tok)).wantError(t, 400, "InvalidIdentityToken", verificationKeyMessage)
	})

	t.Run("STS-22 a token without kid is verified only when the JWKS has a single key", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(confOneKeyRole, "alice", rig.externalToken(t, rig.oneKey, rig.keyA, ""))).assumed(t)
		rig.call(t, http.MethodPost, rig.form(confTwoKeysRole, "alice", rig.externalToken(t, rig.twoKeys, rig.keyA, "a"))).assumed(t)
		rig.call(t, http.MethodPost, rig.form(confTwoKeysRole, "alice", rig.externalToken(t, rig.twoKeys, rig.keyA, ""))).
			wantError(t, 400, "InvalidIdentityToken", verificationKeyMessage)
	})

	t.Run("STS-23 a signature the kid's key does not verify is InvalidIdentityToken", func(t *testing.T) {
		for role, tok := range map[string]string{
			DefaultRoleARN: good[:len(good)-4] + "AAAA",
			confOneKeyRole: rig.externalToken(t, rig.oneKey, rig.keyB, "a"),
		} {
			a := rig.call(t, http.MethodPost, rig.form(role, "alice", tok))
			a.wantError(t, 400, "InvalidIdentityToken", "")
			if bytes.Contains(a.body, []byte("verification key")) {
				t.Errorf("a bad signature answered as a missing key: %s", a.body)
			}
		}
	})

	t.Run("STS-24 an IdP whose keys cannot be fetched is InvalidIdentityToken, not IDPCommunicationError", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(confDeadIdPRole, "alice", rig.externalToken(t, rig.deadIdP, rig.keyA, "a"))).
			wantError(t, 400, "InvalidIdentityToken", verificationKeyMessage)
	})

	t.Run("STS-25 an aud that is no client ID of the provider is Incorrect token audience", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"aud": "nobody"}))).
			wantError(t, 400, "InvalidIdentityToken", "Incorrect token audience")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"aud": []string{DefaultAudience}}))).assumed(t)
	})

	t.Run("STS-26 a token without iss, sub, aud, iat or exp is Missing a required claim", func(t *testing.T) {
		for _, claim := range []string{"iss", "sub", "aud", "iat", "exp"} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{claim: nil}))).
				wantError(t, 400, "InvalidIdentityToken", "Missing a required claim: "+claim)
		}
	})

	t.Run("STS-27 an expired token is ExpiredTokenException with the time less the skew and exp", func(t *testing.T) {
		for _, exp := range []time.Time{now.Add(-5 * time.Minute), now.Add(-301 * time.Second), now.Add(-time.Hour)} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"exp": exp}))).
				wantError(t, 400, "ExpiredTokenException", fmt.Sprintf(
					"Token expired: current date/time %d must be before the expiration date/time %d", now.Unix()-300, exp.Unix()))
		}
	})

	t.Run("STS-28 the session may outlive the token", func(t *testing.T) {
		tok := rig.token(t, map[string]any{"exp": now.Add(time.Minute)})
		c := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", tok, "DurationSeconds", "7200")).assumed(t).Result.Credentials
		if want := now.Add(2 * time.Hour).UTC().Format(daemon.ExpirationLayout); c.Expiration != want {
			t.Errorf("Expiration %q, want %q", c.Expiration, want)
		}
	})

	t.Run("STS-29 a fractional or null date claim is Invalid timestamp in token claims", func(t *testing.T) {
		for _, o := range []map[string]any{
			{"exp": float64(now.Add(time.Hour).Unix()) + 0.5},
			{"iat": json.RawMessage("null")},
		} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, o))).
				wantError(t, 400, "InvalidIdentityToken", "Invalid timestamp in token claims.")
		}
	})

	t.Run("STS-30 a token whose nbf is more than five minutes ahead is Token not yet valid", func(t *testing.T) {
		for _, nbf := range []time.Time{now.Add(301 * time.Second), now.Add(time.Hour)} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"nbf": nbf}))).
				wantError(t, 400, "InvalidIdentityToken", fmt.Sprintf(
					"Token not yet valid: current date/time %d must be after or equal to the not-before date/time %d", now.Unix()+300, nbf.Unix()))
		}
	})

	t.Run("STS-31 an empty or numeric sub is a subject; a null sub is InternalFailure", func(t *testing.T) {
		if err := sb.STS.SetTrustPolicy(confPolicyRole, rig.trust(rig.federated(), policy.ActionAssumeRoleWithWebIdentity, "")); err != nil {
			t.Fatal(err)
		}
		for sub, want := range map[any]string{"": "", 123: "123"} {
			r := rig.call(t, http.MethodPost, rig.form(confPolicyRole, "alice", rig.token(t, map[string]any{"sub": sub}))).assumed(t).Result
			if r.SubjectFromWebIdentityToken != want {
				t.Errorf("sub %#v: SubjectFromWebIdentityToken %q, want %q", sub, r.SubjectFromWebIdentityToken, want)
			}
		}
		rig.call(t, http.MethodPost, rig.form(confPolicyRole, "alice", rig.token(t, map[string]any{"sub": json.RawMessage("null")}))).
			wantError(t, 500, "InternalFailure", "Unknown error validating third-party token")
	})

	t.Run("STS-46 exp, iat and nbf may miss the clock by five minutes", func(t *testing.T) {
		for _, o := range []map[string]any{
			{"exp": now.Add(-299 * time.Second)},
			{"iat": now.Add(5 * time.Minute)},
			{"nbf": now.Add(5 * time.Minute)},
		} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, o))).assumed(t)
		}
	})

	t.Run("STS-47 a token issued more than five minutes ahead is Token issued in the future", func(t *testing.T) {
		for _, iat := range []time.Time{now.Add(301 * time.Second), now.Add(time.Hour)} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"iat": iat}))).
				wantError(t, 400, "InvalidIdentityToken", fmt.Sprintf("Token issued in the future: %d", iat.Unix()))
		}
	})

	t.Run("STS-48 exp, iat and nbf written as strings of digits are accepted", func(t *testing.T) {
		digits := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
		for _, o := range []map[string]any{
			{"exp": digits(now.Add(10 * time.Minute))},
			{"iat": digits(now)},
			{"nbf": digits(now)},
			{"exp": digits(now.Add(10 * time.Minute)), "iat": digits(now), "nbf": digits(now)},
		} {
			rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, o))).assumed(t)
		}
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"exp": digits(now.Add(-time.Hour))}))).
			wantError(t, 400, "ExpiredTokenException", "")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"nbf": "invalid"}))).
			wantError(t, 400, "InvalidIdentityToken", "Invalid timestamp in token claims.")
	})

	t.Run("STS-49 several audiences without azp are refused, even client IDs", func(t *testing.T) {
		for _, aud := range [][]string{{"client-a", "other"}, {"other", "client-a"}, {"client-b", "client-a"}} {
			rig.call(t, http.MethodPost, rig.form(confClientARole, "alice", rig.token(t, map[string]any{"aud": aud}))).
				wantError(t, 400, "InvalidIdentityToken", "Token audience contains more than one audience while authorized party is not present")
		}
	})

	t.Run("STS-50 with azp, azp and not aud must be a client ID", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(confClientBRole, "alice", rig.token(t, map[string]any{"aud": "other", "azp": "client-b"}))).assumed(t)
		for _, azp := range []string{"other", ""} {
			rig.call(t, http.MethodPost, rig.form(confClientARole, "alice", rig.token(t, map[string]any{"aud": "client-a", "azp": azp}))).
				wantError(t, 400, "InvalidIdentityToken", "The web identity token provided could not be validated. See the AssumeRoleWithWebIdentity documentation for requirements.")
		}
	})

	t.Run("STS-51 an empty aud string or array has its own answer", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"aud": ""}))).
			wantError(t, 400, "InvalidIdentityToken", "The web identity token provided could not be validated. See the AssumeRoleWithWebIdentity documentation for requirements.")
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"aud": []string{}}))).
			wantError(t, 400, "InvalidIdentityToken", "Claim is not allowed to be empty: aud")
	})

	t.Run("STS-52 a claim written twice is refused unless both values are the same", func(t *testing.T) {
		claims := fmt.Sprintf(`{"iss": %q, "aud": %q, "sub": "external-user", "iat": %d, "exp": %d, `, rig.oneKey, DefaultAudience, now.Unix(), now.Add(10*time.Minute).Unix())
		rig.call(t, http.MethodPost, rig.form(confOneKeyRole, "alice", rig.signedByOneKey(t, claims+`"aud":"other"}`, nil))).
			wantError(t, 400, "InvalidIdentityToken", "The web identity token provided could not be validated. See the AssumeRoleWithWebIdentity documentation for requirements.")
		rig.call(t, http.MethodPost, rig.form(confOneKeyRole, "alice", rig.signedByOneKey(t, claims+`"aud":"`+DefaultAudience+`"}`, nil))).assumed(t)
	})

	// STS: service faults, as the SDK's retryers see them.

	standard := retry.NewStandard()
	stsRetryer := retry.AddWithErrorCodes(retry.NewStandard(), "IDPCommunicationError") // as service/sts's client adds it
	fault := func(t *testing.T, kind FaultKind) (rigAnswer, error) {
		t.Helper()
		sb.STS.InjectFault(Fault{Kind: kind, Count: 2})
		a := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good))
		_, err := assumeRole(t.Context(), sb, good, 0)
		return a, err
	}

	t.Run("STS-32 throttling is 400 Throttling Rate exceeded, which SDKs retry", func(t *testing.T) {
		a, err := fault(t, FaultThrottling)
		a.wantError(t, 400, "Throttling", "Rate exceeded")
		if !standard.IsErrorRetryable(err) {
			t.Errorf("the standard retryer does not retry %v", err)
		}
	})

	t.Run("STS-33 an internal error is 500 InternalFailure of Type Receiver, which SDKs retry", func(t *testing.T) {
		a, err := fault(t, FaultInternalError)
		a.wantError(t, 500, "InternalFailure", "")
		if !standard.IsErrorRetryable(err) {
			t.Errorf("the standard retryer does not retry %v", err)
		}
	})

	t.Run("STS-34 an outage is 503 ServiceUnavailable of Type Receiver, which SDKs retry", func(t *testing.T) {
		a, err := fault(t, FaultServiceUnavailable)
		a.wantError(t, 503, "ServiceUnavailable", "")
		if !standard.IsErrorRetryable(err) {
			t.Errorf("the standard retryer does not retry %v", err)
		}
	})

	t.Run("STS-35 an unreachable IdP is 400 IDPCommunicationError, which the STS client retries", func(t *testing.T) {
		a, err := fault(t, FaultIDPCommunication)
		a.wantError(t, 400, "IDPCommunicationError", idpCommunicationMessage)
		if standard.IsErrorRetryable(err) || !stsRetryer.IsErrorRetryable(err) {
			t.Errorf("retryable: standard %v, sts client %v; want false, true", standard.IsErrorRetryable(err), stsRetryer.IsErrorRetryable(err))
		}
	})

	t.Run("STS-36 injected token faults carry the real refusals' codes and statuses", func(t *testing.T) {
		for _, tt := range []struct {
			kind    FaultKind
			status  int
			code    string
			message string
		}{
			{FaultInvalidIdentityToken, 400, "InvalidIdentityToken", ""},
			{FaultIDPKeysUnreachable, 400, "InvalidIdentityToken", verificationKeyMessage},
			{FaultExpiredToken, 400, "ExpiredTokenException", ""},
			{FaultAccessDenied, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		} {
			a, err := fault(t, tt.kind)
			a.wantError(t, tt.status, tt.code, tt.message)
			if stsRetryer.IsErrorRetryable(err) {
				t.Errorf("%s: the STS client would retry %v", tt.kind, err)
			}
		}
	})

	// STS: GetCallerIdentity and SigV4.

	creds := mustAssume(t, sb)

	t.Run("STS-37 GetCallerIdentity names the assumed role's session", func(t *testing.T) {
		id, err := rig.getCallerIdentity(t, sb, creds)
		if err != nil {
			t.Fatalf("GetCallerIdentity: %v", err)
		}
		if *id.Arn != "arn:aws:sts::123456789012:assumed-role/credd-sandbox/alice@example.com" || *id.Account != DefaultAccountID ||
			!regexp.MustCompile(`^AROA[A-Z0-9]{17}:alice@example\.com$`).MatchString(*id.UserId) {
			t.Errorf("Arn %q, Account %q, UserId %q", *id.Arn, *id.Account, *id.UserId)
		}
	})

	t.Run("STS-38 an unsigned GetCallerIdentity is MissingAuthenticationToken", func(t *testing.T) {
		rig.call(t, http.MethodPost, url.Values{"Action": {"GetCallerIdentity"}, "Version": {stsVersion}}).
			wantError(t, 403, "MissingAuthenticationToken", "Request is missing Authentication Token")
	})

	t.Run("STS-39 a signature made with the wrong secret is SignatureDoesNotMatch", func(t *testing.T) {
		c := creds
		first := "X" // another first character: a random secret starts with X one time in 64
		if c.SecretAccessKey[0] == 'X' {
			first = "Y"
		}
		c.SecretAccessKey = first + c.SecretAccessKey[1:]
		_, err := rig.getCallerIdentity(t, sb, c)
		status, code, msg := rig.sdkError(t, err)
		if want := "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."; status != 403 || code != "SignatureDoesNotMatch" || msg != want {
			t.Errorf("answer %d %s: %q", status, code, msg)
		}
	})

	t.Run("STS-40 an unknown access key or session token is InvalidClientTokenId", func(t *testing.T) {
		for _, mod := range []func(*aws.Credentials){
			func(c *aws.Credentials) { c.AccessKeyID = "ASIAAAAAAAAAAAAAAAAA" },
			func(c *aws.Credentials) { c.SessionToken += "x" },
			func(c *aws.Credentials) { c.SessionToken = "" },
		} {
			c := creds
			mod(&c)
			_, err := rig.getCallerIdentity(t, sb, c)
			if status, code, msg := rig.sdkError(t, err); status != 403 || code != "InvalidClientTokenId" || msg != "The security token included in the request is invalid." {
				t.Errorf("answer %d %s: %q", status, code, msg)
			}
		}
	})

	t.Run("STS-41 credentials past their Expiration are ExpiredToken", func(t *testing.T) {
		fake := clock.NewFake(time.Now())
		esb := startSandbox(t, Options{Issuer: IssuerOptions{Clock: fake, Algorithm: jose.ES256}})
		c := mustAssume(t, esb)
		fake.Advance(time.Hour)
		_, err := rig.getCallerIdentity(t, esb, c)
		if status, code, msg := rig.sdkError(t, err); status != 403 || code != "ExpiredToken" || msg != "The security token included in the request is expired" {
			t.Errorf("answer %d %s: %q", status, code, msg)
		}
	})

	t.Run("STS-42 SigV4 is checked as AWS signs it, presigned URLs included", func(t *testing.T) {
		presigner := sts.NewPresignClient(stsClient(sb, credentials.StaticCredentialsProvider{Value: creds}))
		req, err := presigner.PresignGetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		hreq, _ := http.NewRequestWithContext(t.Context(), req.Method, req.URL, nil)
		hreq.Header = req.SignedHeader.Clone()
		if a := rig.do(t, hreq); a.status != 200 || !bytes.Contains(a.body, []byte("<GetCallerIdentityResponse")) {
			t.Errorf("presigned URL: status %d: %s", a.status, a.body)
		}
	})

	t.Run("STS-43 a signature scoped to another service is SignatureDoesNotMatch", func(t *testing.T) {
		const body = "Action=GetCallerIdentity&Version=2011-06-15"
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, sb.STSURL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Amz-Security-Token", creds.SessionToken)
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		rig.do(t, req).wantError(t, 403, "SignatureDoesNotMatch", "")
	})

	// IAM: the role's trust policy.

	prov := rig.provider()

	t.Run("IAM-01 a trust policy that does not allow the token is AccessDenied without detail", func(t *testing.T) {
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", rig.token(t, map[string]any{"sub": "repo:evil/x:ref:refs/heads/main"}))).
			wantError(t, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	})

	t.Run("IAM-02 the Federated principal is the provider ARN named by iss without its scheme", func(t *testing.T) {
		js, err := sb.STS.TrustPolicy(DefaultRoleARN)
		if err != nil {
			t.Fatal(err)
		}
		if want := "arn:aws:iam::123456789012:oidc-provider/" + strings.TrimPrefix(sb.IssuerURL, "http://"); rig.federated() != want || !bytes.Contains(js, []byte(`"`+want+`"`)) {
			t.Errorf("the default trust policy does not name %s:\n%s", want, js)
		}
		rig.assumePolicyRole(t, rig.trust(rig.federated(), policy.ActionAssumeRoleWithWebIdentity, ""), good).assumed(t)
		for _, other := range []string{
			"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
			"arn:aws:iam::123456789012:oidc-provider/" + sb.IssuerURL,
			"arn:aws:iam::210987654321:oidc-provider/" + prov,
		} {
			rig.assumePolicyRole(t, rig.trust(other, policy.ActionAssumeRoleWithWebIdentity, ""), good).wantError(t, 403, "AccessDenied", "")
		}
	})

	t.Run("IAM-03 only sts:AssumeRoleWithWebIdentity, or a wildcard matching it, allows the call", func(t *testing.T) {
		rig.assumePolicyRole(t, rig.trust(rig.federated(), "sts:*", ""), good).assumed(t)
		rig.assumePolicyRole(t, rig.trust(rig.federated(), "sts:AssumeRole", ""), good).wantError(t, 403, "AccessDenied", "")
	})

	t.Run("IAM-04 StringEquals is exact and case-sensitive; StringLike has * and ?", func(t *testing.T) {
		for _, tt := range []struct {
			condition string
			allowed   bool
		}{
			{`{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"}}`, true},
			{`{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.*"}}`, false},
			{`{"StringLike":{"` + prov + `:sub":"repo:credd-dev/???o:*"}}`, true},
			{`{"StringLike":{"` + prov + `:sub":"repo:Credd-Dev/*"}}`, false},
		} {
			a := rig.assumePolicyRole(t, rig.trust(rig.federated(), policy.ActionAssumeRoleWithWebIdentity, tt.condition), good)
			if tt.allowed {
				a.assumed(t)
			} else {
				a.wantError(t, 403, "AccessDenied", "")
			}
		}
	})

	t.Run("IAM-05 an explicit Deny overrides an Allow", func(t *testing.T) {
		doc := `{"Version":"2012-10-17","Statement":[
		 {"Effect":"Allow","Principal":{"Federated":"` + rig.federated() + `"},"Action":"sts:AssumeRoleWithWebIdentity"},
		 {"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + prov + `:sub":"repo:credd-dev/mallory:*"}}}]}`
		rig.assumePolicyRole(t, doc, good).assumed(t)
		rig.assumePolicyRole(t, doc, rig.token(t, map[string]any{"sub": "repo:credd-dev/mallory:ref:refs/heads/main"})).wantError(t, 403, "AccessDenied", "")
	})

	t.Run("IAM-06 only amr, aud, email, oaud and sub are condition keys of a provider other than GitHub's", func(t *testing.T) {
		for _, tt := range []struct {
			condition string
			allowed   bool
		}{
			{`{"StringEquals":{"` + prov + `:sub":"` + DefaultSubject + `"}}`, true},
			{`{"StringEquals":{"` + prov + `:repository_owner":"credd-dev"}}`, false},
			{`{"StringEquals":{"` + prov + `:repository":"credd-dev/demo"}}`, false},
			{`{"StringNotEquals":{"` + prov + `:repository_owner":"credd-dev"}}`, true},
		} {
			a := rig.assumePolicyRole(t, rig.trust(rig.federated(), policy.ActionAssumeRoleWithWebIdentity, tt.condition), good)
			if tt.allowed {
				a.assumed(t)
			} else {
				a.wantError(t, 403, "AccessDenied", "")
			}
		}
	})

	t.Run("IAM-07 with azp, the aud key holds azp and the oaud key holds aud", func(t *testing.T) {
		tok := rig.token(t, map[string]any{"aud": "client-a", "azp": "client-b"})
		rig.assumePolicyRole(t, rig.trust(rig.federated(), policy.ActionAssumeRoleWithWebIdentity,
			`{"StringEquals":{"`+prov+`:aud":"client-b","`+prov+`:oaud":"client-a"}}`), tok).assumed(t)
		rig.assumePolicyRole(t, rig.trust(rig.federated(), policy.ActionAssumeRoleWithWebIdentity,
			`{"StringEquals":{"`+prov+`:aud":"client-a"}}`), tok).wantError(t, 403, "AccessDenied", "")
	})

	// OIDC: the issuer as a relying party (STS, go-oidc) finds it.

	t.Run("OIDC-01 the discovery document names the issuer exactly and has the required fields", func(t *testing.T) {
		a := rig.get(t, sb.IssuerURL+"/.well-known/openid-configuration", "")
		var doc struct {
			Issuer        string   `json:"issuer"`
			JWKSURI       string   `json:"jwks_uri"`
			ResponseTypes []string `json:"response_types_supported"`
			SubjectTypes  []string `json:"subject_types_supported"`
			Algs          []string `json:"id_token_signing_alg_values_supported"`
			Claims        []string `json:"claims_supported"`
		}
		if err := json.Unmarshal(a.body, &doc); err != nil || a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Fatalf("status %d, %v: %s", a.status, err, a.body)
		}
		if doc.Issuer != sb.IssuerURL || doc.JWKSURI != sb.IssuerURL+"/.well-known/jwks" || !slices.Contains(doc.ResponseTypes, "id_token") ||
			!slices.Contains(doc.SubjectTypes, "public") || !slices.Equal(doc.Algs, []string{"RS256"}) ||
			!slices.Contains(doc.Claims, "sub") || !slices.Contains(doc.Claims, "repository") {
			t.Errorf("discovery document: %s", a.body)
		}
	})

	t.Run("OIDC-02 the JWKS has one RSA 2048 signing key whose kid is its thumbprint", func(t *testing.T) {
		a := rig.get(t, sb.IssuerURL+"/.well-known/jwks", "")
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(a.body, &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("JWKS (%v): %s", err, a.body)
		}
		k := set.Keys[0]
		pub, ok := k.Key.(*rsa.PublicKey)
		thumb, err := k.Thumbprint(crypto.SHA256)
		if !ok || pub.N.BitLen() != 2048 || k.Algorithm != "RS256" || k.Use != "sig" || err != nil || k.KeyID != base64.RawURLEncoding.EncodeToString(thumb) {
			t.Errorf("key %T alg %q use %q kid %q: %s", k.Key, k.Algorithm, k.Use, k.KeyID, a.body)
		}
	})

	t.Run("OIDC-03 tokens carry alg, kid and typ JWT, and integer exp, iat and nbf", func(t *testing.T) {
		tok := rig.get(t, sb.ActionsTokenURL()+"&audience=sts.amazonaws.com", "Bearer "+sb.Issuer.RequestToken()).value(t)
		head := rig.jwtPart(t, tok, 0)
		if head["alg"] != "RS256" || head["typ"] != "JWT" || len(sb.Issuer.KeySet().Key(fmt.Sprint(head["kid"]))) != 1 {
			t.Errorf("header %v", head)
		}
		claims := rig.jwtPart(t, tok, 1)
		for _, name := range []string{"exp", "iat", "nbf"} {
			n, ok := claims[name].(json.Number)
			if _, err := strconv.ParseInt(string(n), 10, 64); !ok || err != nil {
				t.Errorf("%s = %v, want an integer", name, claims[name])
			}
		}
		for _, name := range []string{"iss", "sub", "aud", "jti"} {
			if s, ok := claims[name].(string); !ok || s == "" {
				t.Errorf("%s = %v, want a string", name, claims[name])
			}
		}
	})

	t.Run("OIDC-04 a standard relying party verifies the tokens through discovery", func(t *testing.T) {
		p, err := oidc.NewProvider(t.Context(), sb.IssuerURL)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		if _, err := p.Verifier(&oidc.Config{ClientID: DefaultAudience, Now: rig.clock.Now}).Verify(t.Context(), good); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})

	// GH: the GitHub Actions ID-token endpoint.

	bearer := "Bearer " + sb.Issuer.RequestToken()

	t.Run("GH-01 the token endpoint needs the request token as a bearer", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer nope", sb.Issuer.RequestToken()} {
			a := rig.get(t, sb.ActionsTokenURL(), auth)
			var body struct {
				Message string `json:"message"`
			}
			if a.status != http.StatusUnauthorized || json.Unmarshal(a.body, &body) != nil || body.Message == "" {
				t.Errorf("Authorization %q: status %d: %s", auth, a.status, a.body)
			}
		}
	})

	t.Run("GH-02 an audience appended as &audience= is the token's aud", func(t *testing.T) {
		const aud = "api://AzureADTokenExchange"
		tok := rig.get(t, sb.ActionsTokenURL()+"&audience="+url.QueryEscape(aud), bearer).value(t)
		if got := rig.jwtPart(t, tok, 1)["aud"]; got != aud {
			t.Errorf("aud %v, want %q", got, aud)
		}
	})

	t.Run("GH-03 without an audience aud is the repository owner's URL", func(t *testing.T) {
		tok := rig.get(t, sb.ActionsTokenURL(), bearer).value(t)
		if got := rig.jwtPart(t, tok, 1)["aud"]; got != "https://github.com/credd-dev" {
			t.Errorf("aud %v", got)
		}
	})

	t.Run("GH-04 the answer is JSON whose value is the token", func(t *testing.T) {
		a := rig.get(t, sb.ActionsTokenURL(), bearer)
		if tok := a.value(t); strings.Count(tok, ".") != 2 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Errorf("Content-Type %q, value %.20q…", a.header.Get("Content-Type"), tok)
		}
	})

	t.Run("GH-05 the claims are shaped like GitHub's for a push to main", func(t *testing.T) {
		claims := rig.jwtPart(t, rig.get(t, sb.ActionsTokenURL(), bearer).value(t), 1)
		for name, want := range map[string]string{
			"sub": "repo:credd-dev/demo:ref:refs/heads/main", "repository": "credd-dev/demo", "repository_owner": "credd-dev",
			"ref": "refs/heads/main", "ref_type": "branch", "event_name": "push",
			"job_workflow_ref": "credd-dev/demo/.github/workflows/demo.yml@refs/heads/main", "runner_environment": "github-hosted",
		} {
			if claims[name] != want {
				t.Errorf("%s = %v, want %q", name, claims[name], want)
			}
		}
		if _, ok := claims["environment"]; ok {
			t.Error("environment is present for a job without one")
		}
	})

	// NET: network conditions between credd and STS.

	t.Run("NET-01 a hung request ends with the connection dropped and no answer", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultHang, Count: 1, Delay: 50 * time.Millisecond})
		_, err := assumeRole(t.Context(), sb, good, 0)
		if err == nil || errorCode(err) != "" || !standard.IsErrorRetryable(err) {
			t.Errorf("err = %v, want a retryable network error", err)
		}
	})

	t.Run("NET-02 latency delays a normal answer", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultLatency, Count: 1, Delay: 100 * time.Millisecond})
		start := time.Now()
		rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good)).assumed(t)
		if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
			t.Errorf("answered after %s", elapsed)
		}
	})

	t.Run("NET-03 a truncated answer is a 200 whose XML does not parse", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultMalformedXML, Count: 1})
		a := rig.call(t, http.MethodPost, rig.form(DefaultRoleARN, "alice", good))
		var out rigAssumed
		var syntaxErr *xml.SyntaxError
		if err := xml.Unmarshal(a.body, &out); a.status != 200 || !errors.As(err, &syntaxErr) {
			t.Errorf("status %d, parse error %v", a.status, err)
		}
	})
}

// conformanceRow is a row of the table: its ID and the tests it names,
// such as TestConformance/STS-01 or TestQueryProtocolWireFormat.
type conformanceRow struct {
	id    string
	tests []string
}

// TestConformanceTableNamesRealTests keeps docs/sandbox-conformance.md and
// the tests from drifting apart: every row names its TestConformance
// subtest, every test a row names exists, and every TestConformance
// subtest has its row.
func TestConformanceTableNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile(conformanceDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := readConformanceRows(string(doc))
	if len(rows) == 0 {
		t.Fatalf("%s has no rows", conformanceDoc)
	}
	subtests := packageSubtests(t)

	ids := map[string]bool{}
	for _, r := range rows {
		if ids[r.id] {
			t.Errorf("row %s appears twice", r.id)
		}
		ids[r.id] = true
		if !slices.Contains(r.tests, "TestConformance/"+r.id) {
			t.Errorf("row %s does not name TestConformance/%s (it names %v)", r.id, r.id, r.tests)
		}
		for _, name := range r.tests {
			fn, sub, _ := strings.Cut(name, "/")
			names, ok := subtests[fn]
			switch {
			case !ok:
				t.Errorf("row %s names %s, which is no test in this package", r.id, fn)
			case sub != "" && !slices.ContainsFunc(names, func(n string) bool { return n == sub || strings.HasPrefix(n, sub+" ") }):
				t.Errorf("row %s names %s, but %s has no subtest %q", r.id, name, fn, sub)
			}
		}
	}
	seen := map[string]bool{}
	for _, name := range subtests["TestConformance"] {
		id, _, _ := strings.Cut(name, " ")
		if !ids[id] {
			t.Errorf("TestConformance has subtest %q, but %s has no row %s", name, conformanceDoc, id)
		}
		if seen[id] {
			t.Errorf("TestConformance has two subtests for %s", id)
		}
		seen[id] = true
	}
	for id := range ids {
		if !seen[id] {
			t.Errorf("row %s has no subtest in TestConformance", id)
		}
	}
}

var (
	conformanceIDPattern   = regexp.MustCompile(`^[A-Z]+-[0-9]{2}$`)
	conformanceTestPattern = regexp.MustCompile("`(Test[A-Za-z0-9_]+(?:/[^`]+)?)`")
)

// readConformanceRows reads the rows of every table in doc whose first
// cell is an ID; the tests are the backquoted names in the last cell.
func readConformanceRows(doc string) []conformanceRow {
	var rows []conformanceRow
	for line := range strings.SplitSeq(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		id := strings.TrimSpace(cells[0])
		if !conformanceIDPattern.MatchString(id) {
			continue
		}
		r := conformanceRow{id: id}
		for _, m := range conformanceTestPattern.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			r.tests = append(r.tests, m[1])
		}
		rows = append(rows, r)
	}
	return rows
}

// packageSubtests maps each Test function of this package's test files to
// the literal names of the subtests it runs.
func packageSubtests(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string][]string{}
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Body == nil {
				continue
			}
			names := []string{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Run" {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							names = append(names, s)
						}
					}
				}
				return true
			})
			out[fn.Name.Name] = names
		}
	}
	return out
}
