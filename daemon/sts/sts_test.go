package sts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sts"
)

// testToken looks like a real JWT so the redaction of JWT-shaped text is
// exercised too.
const testToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJpc3MiOiJodHRwczovL3Rva2VuLmFjdGlvbnMuZ2l0aHVidXNlcmNvbnRlbnQuY29tIiwic3ViIjoicmVwbzpvcmcvcmVwbzpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2VjcmV0LXNpZ25hdHVyZS1kby1ub3QtbGVhaw"

const (
	testRoleARN = "arn:aws:iam::123456789012:role/dev"
	testSession = "alice@codespace"
)

var fixedNow = time.Date(2026, 11, 25, 19, 7, 31, 500_000_000, time.UTC)

func successBody(expiration string) string {
	return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:org/repo:ref:refs/heads/main</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::210987654321:assumed-role/dev/alice@codespace</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:alice@codespace</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>FwoGZXIvYXdzEXAMPLEsessiontoken//////////wEaDEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>` + expiration + `</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>alice</SourceIdentity>
    <Provider>token.actions.githubusercontent.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`
}

func errorBody(typ, code, message string) string {
	return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>` + typ +
		`</Type><Code>` + code + `</Code><Message>` + message +
		`</Message></Error><RequestId>x</RequestId></ErrorResponse>`
}

// reply is what the scripted server answers.
type reply struct {
	status int
	body   string
	hang   bool // block until the client gives up
	reset  bool // drop the connection without answering
}

type recorded struct {
	method string
	path   string
	header http.Header
	form   url.Values
}

// stsServer is a scripted STS on 127.0.0.1 that records every request.
type stsServer struct {
	*httptest.Server
	reply reply

	mu   sync.Mutex
	reqs []recorded
}

func newSTSServer(t *testing.T, r reply) *stsServer {
	t.Helper()
	s := &stsServer{reply: r}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *stsServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.reqs = append(s.reqs, recorded{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), form: form})
	s.mu.Unlock()

	switch {
	case s.reply.hang:
		<-r.Context().Done()
		return
	case s.reply.reset:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST rather than FIN
			}
			conn.Close()
		}
		return
	}
	if s.reply.body != "" {
		w.Header().Set("Content-Type", "text/xml")
	}
	w.Header().Set("X-Amzn-Requestid", "ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE")
	w.WriteHeader(s.reply.status)
	io.WriteString(w, s.reply.body)
}

func (s *stsServer) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func newClient(t *testing.T, endpoint string, mod func(*sts.Config)) *sts.Client {
	t.Helper()
	cfg := sts.Config{
		RoleARN:        testRoleARN,
		SessionName:    testSession,
		Duration:       2 * time.Hour,
		Region:         "eu-west-1",
		Endpoint:       endpoint,
		AttemptTimeout: 2 * time.Second,
		Now:            func() time.Time { return fixedNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := sts.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// assertNoToken fails if the token, or its signature, shows in any error of
// err's chain.
func assertNoToken(t *testing.T, err error) {
	t.Helper()
	sig := testToken[strings.LastIndexByte(testToken, '.')+1:]
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if s := e.Error(); strings.Contains(s, testToken) || strings.Contains(s, sig) {
			t.Errorf("error %T leaks the token: %s", e, s)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	var de *daemon.Error
	if errors.As(err, &de) {
		for _, s := range []string{de.Message, de.Hint, string(de.Code)} {
			if strings.Contains(s, testToken) || strings.Contains(s, sig) {
				t.Errorf("daemon.Error field leaks the token: %s", s)
			}
		}
	}
}

func TestExchangeReturnsCredentials(t *testing.T) {
	want := time.Date(2026, 11, 25, 20, 7, 31, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		expiration string
	}{
		{"STS's own second-precision UTC expiration", "2026-11-25T20:07:31Z"},
		{"a moto-style fractional expiration with an offset is truncated, not rounded", "2026-11-25T20:07:31.923456+00:00"},
		{"a non-UTC offset is converted to UTC", "2026-11-25T21:07:31.5+01:00"},
		{"millisecond precision is truncated", "2026-11-25T20:07:31.999Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSTSServer(t, reply{status: 200, body: successBody(tc.expiration)})
			c := newClient(t, srv.URL, nil)

			got, err := c.Exchange(context.Background(), testToken)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			wantCreds := daemon.Credentials{
				AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
				SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
				SessionToken:    "FwoGZXIvYXdzEXAMPLEsessiontoken//////////wEaDEXAMPLE",
				Expiration:      want,
				RoleARN:         testRoleARN,
				AssumedRoleARN:  "arn:aws:sts::210987654321:assumed-role/dev/alice@codespace",
				AccountID:       "210987654321",
				Obtained:        fixedNow,
			}
			if got != wantCreds {
				t.Errorf("credentials:\n got %+v\nwant %+v", got, wantCreds)
			}
			if got.Expiration.Location() != time.UTC {
				t.Errorf("Expiration location = %v, want UTC", got.Expiration.Location())
			}
			if s := got.Expiration.Format(daemon.ExpirationLayout); s != "2026-11-25T20:07:31Z" {
				t.Errorf("Expiration formats as %s", s)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func TestExchangeFallsBackToTheRoleAccountWithoutAnAssumedRoleUser(t *testing.T) {
	body := strings.Replace(successBody("2026-11-25T20:07:31Z"),
		`<Arn>arn:aws:sts::210987654321:assumed-role/dev/alice@codespace</Arn>`, "", 1)
	srv := newSTSServer(t, reply{status: 200, body: body})
	got, err := newClient(t, srv.URL, nil).Exchange(context.Background(), testToken)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if got.AccountID != "123456789012" || got.AssumedRoleARN != "" {
		t.Errorf("AccountID = %q, AssumedRoleARN = %q; want the role's account and none", got.AccountID, got.AssumedRoleARN)
	}
}

func TestExchangeSendsOneAnonymousFormPost(t *testing.T) {
	srv := newSTSServer(t, reply{status: 200, body: successBody("2026-11-25T20:07:31Z")})
	c := newClient(t, srv.URL, nil)
	if _, err := c.Exchange(context.Background(), testToken); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/" {
		t.Errorf("request = %s %s, want POST /", r.method, r.path)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		t.Errorf("Content-Type = %q, want a form", ct)
	}
	for _, h := range []string{"Authorization", "X-Amz-Security-Token", "X-Amz-Date"} {
		if v, ok := r.header[h]; ok {
			t.Errorf("request carries %s: %q; the call must be anonymous", h, v)
		}
	}
	if ua := r.header.Get("User-Agent"); !strings.Contains(ua, "app/credd") {
		t.Errorf("User-Agent = %q, want it to contain app/credd", ua)
	}
	want := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {testRoleARN},
		"RoleSessionName":  {testSession},
		"WebIdentityToken": {testToken},
		"DurationSeconds":  {"7200"},
	}
	if fmt.Sprint(r.form) != fmt.Sprint(want) {
		t.Errorf("form:\n got %v\nwant %v", r.form, want)
	}
}

func TestExchangeSendsTheSessionPolicyWhenSet(t *testing.T) {
	srv := newSTSServer(t, reply{status: 200, body: successBody("2026-11-25T20:07:31Z")})
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	c := newClient(t, srv.URL, func(cfg *sts.Config) {
		cfg.Duration = 0
		cfg.Policy = policy
		cfg.PolicyARNs = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/team/extra"}
	})
	if _, err := c.Exchange(context.Background(), testToken); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	form := srv.requests()[0].form
	for k, v := range map[string]string{
		"Policy":                  policy,
		"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
		"PolicyArns.member.2.arn": "arn:aws:iam::123456789012:policy/team/extra",
		"DurationSeconds":         "3600",
	} {
		if got := form.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestExchangeClassifiesFailures(t *testing.T) {
	const accessDenied = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
	sender := func(status int, code, msg string) reply {
		return reply{status: status, body: errorBody("Sender", code, msg)}
	}
	receiver := func(status int, code, msg string) reply {
		return reply{status: status, body: errorBody("Receiver", code, msg)}
	}
	for _, tc := range []struct {
		name     string
		reply    reply
		refused  bool // point the client at a closed listener instead
		wantKind daemon.Kind
		wantCode daemon.Code
	}{
		// Retryable: STS codes.
		{"Throttling is retryable", sender(400, "Throttling", "Rate exceeded"), false, daemon.KindRetryable, "Throttling"},
		{"ThrottlingException is retryable", sender(400, "ThrottlingException", "Rate exceeded"), false, daemon.KindRetryable, "ThrottlingException"},
		{"RequestLimitExceeded is retryable", sender(400, "RequestLimitExceeded", "Request limit exceeded."), false, daemon.KindRetryable, "RequestLimitExceeded"},
		{"IDPCommunicationError is retryable", sender(400, "IDPCommunicationError", idpCommunicationMessage), false, daemon.KindRetryable, "IDPCommunicationError"},
		{"InvalidIdentityToken for a verification key STS could not retrieve is retryable", sender(400, "InvalidIdentityToken", verificationKeyMessage), false, daemon.KindRetryable, "InvalidIdentityToken"},
		{"InternalFailure is retryable", receiver(500, "InternalFailure", "An internal error occurred"), false, daemon.KindRetryable, "InternalFailure"},
		{"InternalError is retryable", receiver(500, "InternalError", "We encountered an internal error. Please try again."), false, daemon.KindRetryable, "InternalError"},
		{"ServiceUnavailable is retryable", receiver(503, "ServiceUnavailable", "Service is unavailable"), false, daemon.KindRetryable, "ServiceUnavailable"},
		{"a 429 with a Throttling body is retryable", sender(429, "Throttling", "Rate exceeded"), false, daemon.KindRetryable, "Throttling"},
		{"an unknown code on a 5xx is retryable", receiver(502, "SomethingNew", "upstream failed"), false, daemon.KindRetryable, "SomethingNew"},

		// Retryable: bare HTTP statuses.
		{"a 500 without a body is retryable", reply{status: 500}, false, daemon.KindRetryable, "HTTP500"},
		{"a 503 without a body is retryable", reply{status: 503}, false, daemon.KindRetryable, "HTTP503"},
		{"a 429 without a body is retryable", reply{status: 429}, false, daemon.KindRetryable, "HTTP429"},
		{"a 502 with an HTML body is retryable", reply{status: 502, body: "<html><body>Bad Gateway</body></html>"}, false, daemon.KindRetryable, "HTTP502"},
		{"a 503 with truncated XML is retryable", reply{status: 503, body: `<ErrorResponse><Error><Code>Service`}, false, daemon.KindRetryable, "HTTP503"},

		// Retryable: malformed success responses.
		{"truncated XML in a 200 is retryable", reply{status: 200, body: successBody("2026-11-25T20:07:31Z")[:400]}, false, daemon.KindRetryable, "MalformedResponse"},
		{"an empty 200 is retryable", reply{status: 200}, false, daemon.KindRetryable, "MalformedResponse"},
		{"an HTML 200 is retryable", reply{status: 200, body: "<html><body>captive portal</body></html>"}, false, daemon.KindRetryable, "MalformedResponse"},
		{"a 200 without an expiration is retryable", reply{status: 200, body: strings.Replace(successBody("x"), "<Expiration>x</Expiration>", "", 1)}, false, daemon.KindRetryable, "MalformedResponse"},
		{"a 200 without a session token is retryable", reply{status: 200, body: strings.Replace(successBody("2026-11-25T20:07:31Z"), "<SessionToken>FwoGZXIvYXdzEXAMPLEsessiontoken//////////wEaDEXAMPLE</SessionToken>", "", 1)}, false, daemon.KindRetryable, "MalformedResponse"},
		{"a 200 with an unparsable expiration is retryable", reply{status: 200, body: successBody("next tuesday")}, false, daemon.KindRetryable, "MalformedResponse"},

		// Retryable: network.
		{"a dropped connection is retryable", reply{reset: true}, false, daemon.KindRetryable, "NetworkError"},
		{"a refused connection is retryable", reply{}, true, daemon.KindRetryable, "NetworkError"},

		// New token.
		{"InvalidIdentityToken needs a new token", sender(400, "InvalidIdentityToken", "Incorrect token audience"), false, daemon.KindNewToken, "InvalidIdentityToken"},
		{"ExpiredTokenException needs a new token", sender(400, "ExpiredTokenException", "Token expired: current date/time 1764097651 must be before the expiration date/time 1764097000"), false, daemon.KindNewToken, "ExpiredTokenException"},

		// Permanent.
		{"AccessDenied is permanent", sender(403, "AccessDenied", accessDenied), false, daemon.KindPermanent, "AccessDenied"},
		{"IDPRejectedClaim is permanent", sender(403, "IDPRejectedClaim", "Identity provider rejected the claim"), false, daemon.KindPermanent, "IDPRejectedClaim"},
		{"MalformedPolicyDocument is permanent", sender(400, "MalformedPolicyDocument", "Syntax errors in policy."), false, daemon.KindPermanent, "MalformedPolicyDocument"},
		{"PackedPolicyTooLarge is permanent", sender(400, "PackedPolicyTooLarge", "Packed policy consumes 112% of allotted space"), false, daemon.KindPermanent, "PackedPolicyTooLarge"},
		{"RegionDisabledException is permanent", sender(403, "RegionDisabledException", "STS is not activated in this region for account:123456789012."), false, daemon.KindPermanent, "RegionDisabledException"},
		{"ValidationError is permanent", sender(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."), false, daemon.KindPermanent, "ValidationError"},
		{"InvalidParameterValue is permanent", sender(400, "InvalidParameterValue", "Value for parameter RoleSessionName is invalid"), false, daemon.KindPermanent, "InvalidParameterValue"},
		{"an unknown code on a 4xx is permanent", sender(400, "SomethingElse", "no"), false, daemon.KindPermanent, "SomethingElse"},
		{"a 404 without a body is permanent", reply{status: 404}, false, daemon.KindPermanent, "HTTP404"},
		{"a 403 from a proxy with an HTML body is permanent", reply{status: 403, body: "<html><body>Forbidden by proxy</body></html>"}, false, daemon.KindPermanent, "HTTP403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSTSServer(t, tc.reply)
			endpoint := srv.URL
			if tc.refused {
				endpoint = closedListenerURL(t)
			}
			c := newClient(t, endpoint, nil)

			creds, err := c.Exchange(context.Background(), testToken)
			if err == nil {
				t.Fatalf("Exchange succeeded with %+v, want a %s error", creds, tc.wantKind)
			}
			var de *daemon.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *daemon.Error", err, err)
			}
			if de.Kind != tc.wantKind || de.Code != tc.wantCode {
				t.Errorf("got %s/%s, want %s/%s: %v", de.Kind, de.Code, tc.wantKind, tc.wantCode, err)
			}
			if de.Hint == "" || de.Message == "" {
				t.Errorf("error lacks a message or a hint: %#v", de)
			}
			if tc.wantCode != "MalformedResponse" && de.Err == nil {
				t.Errorf("error does not keep the original error")
			}
			if creds != (daemon.Credentials{}) {
				t.Errorf("failed Exchange returned credentials %+v", creds)
			}
			assertNoToken(t, err)
			if want := 1; !tc.refused && len(srv.requests()) != want {
				t.Errorf("server saw %d requests, want exactly %d (no SDK retries)", len(srv.requests()), want)
			}
		})
	}
}

func TestExchangeGivesAccessDeniedItsTrustPolicyHint(t *testing.T) {
	srv := newSTSServer(t, reply{status: 403, body: errorBody("Sender", "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")})
	_, err := newClient(t, srv.URL, nil).Exchange(context.Background(), testToken)
	want := "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity (the role's trust policy does not accept this token: " +
		"check Principal.Federated matches the token issuer, the aud condition and the sub condition; run `credd doctor`)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

// How real STS words the two ways it fails to check a token with the IdP.
const (
	// verificationKeyMessage comes with code InvalidIdentityToken and HTTP
	// 400, two spaces after the comma included: aws/aws-cli#7194 and
	// aws-actions/configure-aws-credentials#299 (GitHub's issuer),
	// awslabs/aws-sdk-rust#827 (the raw 400 response). STS sends it when it
	// cannot fetch the issuer's discovery document or JWKS, and also for a
	// kid the JWKS lacks: radkawar/stackd
	// internal/services/sts/testdata/oidc/aws.json, scenarios
	// unknown-key-id, missing-key-id and empty-key-id, recorded against
	// sts.us-east-1.amazonaws.com.
	verificationKeyMessage = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
	// idpCommunicationMessage is the STS API reference's description of
	// IDPCommunicationError (aws/aws-sdk-go-v2 service/sts/types/errors.go,
	// generated from the STS API model).
	idpCommunicationMessage = "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached. This is often a transient error caused by network conditions. Retry the request a limited number of times so that you don't exceed the request rate. If the error persists, the identity provider might be down or not responding."
)

func TestExchangeTellsAnUnreachableIdPFromARefusedToken(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      string
		message   string
		wantKind  daemon.Kind
		wantHints []string
		notHints  []string
	}{
		{
			name: "keys STS could not retrieve are retried and the hint names discovery and the JWKS",
			code: "InvalidIdentityToken", message: verificationKeyMessage, wantKind: daemon.KindRetryable,
			wantHints: []string{"/.well-known/openid-configuration", "jwks_uri", "reachable from the internet", "kid", "retries with backoff"},
			notHints:  []string{"fetch a new one"},
		},
		{
			name: "the verification-key message is recognised in any case and spacing",
			code: "InvalidIdentityToken", message: "couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements", wantKind: daemon.KindRetryable,
			wantHints: []string{"jwks_uri"},
		},
		{
			name: "an IdP STS could not reach is retried as a passing network problem",
			code: "IDPCommunicationError", message: idpCommunicationMessage, wantKind: daemon.KindRetryable,
			wantHints: []string{"could not reach the identity provider", "retries with backoff"},
			notHints:  []string{"jwks_uri", "fetch a new one"},
		},
		{
			name: "any other InvalidIdentityToken still asks for a new token",
			code: "InvalidIdentityToken", message: "Couldn't verify the signature of the ID token", wantKind: daemon.KindNewToken,
			wantHints: []string{"fetch a new one"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSTSServer(t, reply{status: 400, body: errorBody("Sender", tc.code, tc.message)})
			_, err := newClient(t, srv.URL, nil).Exchange(context.Background(), testToken)
			var de *daemon.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *daemon.Error", err)
			}
			if de.Kind != tc.wantKind || string(de.Code) != tc.code {
				t.Errorf("got %s/%s, want %s/%s (STS's code kept as it came)", de.Kind, de.Code, tc.wantKind, tc.code)
			}
			for _, h := range tc.wantHints {
				if !strings.Contains(de.Hint, h) {
					t.Errorf("hint %q lacks %q", de.Hint, h)
				}
			}
			for _, h := range tc.notHints {
				if strings.Contains(de.Hint, h) {
					t.Errorf("hint %q says %q", de.Hint, h)
				}
			}
		})
	}
}

func TestExchangeNamesTheCommonInvalidIdentityTokenCauses(t *testing.T) {
	for _, tc := range []struct{ message, wantHint string }{
		{"No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com", "create one for the token's iss URL"},
		{"Incorrect token audience", "set --audience"},
		{"Couldn't parse the token", "fetch a new one"},
	} {
		t.Run(tc.message, func(t *testing.T) {
			srv := newSTSServer(t, reply{status: 400, body: errorBody("Sender", "InvalidIdentityToken", tc.message)})
			_, err := newClient(t, srv.URL, nil).Exchange(context.Background(), testToken)
			var de *daemon.Error
			if !errors.As(err, &de) || de.Kind != daemon.KindNewToken || !strings.Contains(de.Hint, tc.wantHint) {
				t.Errorf("got %v, want a new-token error whose hint contains %q", err, tc.wantHint)
			}
		})
	}
}

func TestExchangeRedactsATokenEchoedByTheEndpoint(t *testing.T) {
	srv := newSTSServer(t, reply{status: 400, body: errorBody("Sender", "InvalidIdentityToken", "bad token "+testToken+" rejected")})
	_, err := newClient(t, srv.URL, nil).Exchange(context.Background(), testToken)
	var de *daemon.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *daemon.Error", err)
	}
	if strings.Contains(de.Error(), testToken) || !strings.Contains(de.Message, "[token]") {
		t.Errorf("message not redacted: %q", de.Error())
	}
}

// An endpoint that is not STS, or STS behind a proxy, may echo other
// secrets; the message keeps its meaning without them.
func TestExchangeRedactsOtherSecretsInTheMessage(t *testing.T) {
	msg := "upstream said: password=hunter2 X-Amz-Security-Token=FQoGZXIvYXdzEJr AKIAIOSFODNN7EXAMPLE for arn:aws:iam::123456789012:role/dev"
	srv := newSTSServer(t, reply{status: 403, body: errorBody("Sender", "AccessDenied", msg)})
	_, err := newClient(t, srv.URL, nil).Exchange(context.Background(), testToken)
	var de *daemon.Error
	if !errors.As(err, &de) || de.Code != sts.CodeAccessDenied {
		t.Fatalf("got %v, want AccessDenied", err)
	}
	for _, s := range []string{"hunter2", "FQoGZXIvYXdzEJr", "IOSFODNN7EXAMPLE"} {
		if strings.Contains(de.Error(), s) {
			t.Errorf("message holds %q: %q", s, de.Message)
		}
	}
	if !strings.Contains(de.Message, "upstream said: password=[redacted]") || !strings.Contains(de.Message, "arn:aws:iam::123456789012:role/dev") {
		t.Errorf("message lost its meaning: %q", de.Message)
	}
}

func TestExchangeTimesOutAHangingEndpoint(t *testing.T) {
	srv := newSTSServer(t, reply{hang: true})
	c := newClient(t, srv.URL, func(cfg *sts.Config) { cfg.AttemptTimeout = 200 * time.Millisecond })

	start := time.Now()
	_, err := c.Exchange(context.Background(), testToken)
	elapsed := time.Since(start)

	var de *daemon.Error
	if !errors.As(err, &de) || de.Kind != daemon.KindRetryable || de.Code != "Timeout" {
		t.Fatalf("got %v, want a retryable Timeout", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("Exchange took %s; the attempt timeout is 200ms", elapsed)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
	assertNoToken(t, err)
}

func TestExchangeReportsTheCallersCancellationAsCanceled(t *testing.T) {
	srv := newSTSServer(t, reply{hang: true})
	c := newClient(t, srv.URL, func(cfg *sts.Config) { cfg.AttemptTimeout = time.Minute })

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := c.Exchange(ctx, testToken)

	var de *daemon.Error
	if !errors.As(err, &de) || de.Code != "Canceled" {
		t.Fatalf("got %v, want Canceled", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	assertNoToken(t, err)
}

func TestExchangeReportsTheCallersDeadlineAsATimeout(t *testing.T) {
	srv := newSTSServer(t, reply{hang: true})
	c := newClient(t, srv.URL, func(cfg *sts.Config) { cfg.AttemptTimeout = time.Minute })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Exchange(ctx, testToken)

	var de *daemon.Error
	if !errors.As(err, &de) || de.Kind != daemon.KindRetryable || de.Code != "Timeout" {
		t.Fatalf("got %v, want a retryable Timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestExchangeRefusesAnEmptyTokenWithoutCallingSTS(t *testing.T) {
	srv := newSTSServer(t, reply{status: 200, body: successBody("2026-11-25T20:07:31Z")})
	_, err := newClient(t, srv.URL, nil).Exchange(context.Background(), "")
	if daemon.KindOf(err) != daemon.KindNewToken {
		t.Errorf("got %v, want a new-token error", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestExchangeMakesOneRequestPerCall(t *testing.T) {
	srv := newSTSServer(t, reply{status: 503})
	c := newClient(t, srv.URL, nil)
	for i := range 3 {
		c.Exchange(context.Background(), testToken)
		if n := len(srv.requests()); n != i+1 {
			t.Fatalf("after %d calls the server saw %d requests", i+1, n)
		}
	}
}

func TestExchangeIsSafeForConcurrentUse(t *testing.T) {
	srv := newSTSServer(t, reply{status: 200, body: successBody("2026-11-25T20:07:31Z")})
	c := newClient(t, srv.URL, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Exchange(context.Background(), testToken); err != nil {
				t.Errorf("Exchange: %v", err)
			}
		})
	}
	wg.Wait()
	if n := len(srv.requests()); n != 8 {
		t.Errorf("server saw %d requests, want 8", n)
	}
}

// closedListenerURL returns the URL of a loopback port that refuses connections.
func closedListenerURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestExchangeRefusesAnUntrustedCertificatePermanently(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, successBody("2026-11-25T20:07:31Z"))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the expected handshake failure
	srv.StartTLS()
	defer srv.Close()
	// nil HTTPClient: the default client, which trusts only the system roots.
	c := newClient(t, srv.URL, func(cfg *sts.Config) { cfg.HTTPClient = nil })

	_, err := c.Exchange(context.Background(), testToken)
	var de *daemon.Error
	if !errors.As(err, &de) || de.Kind != daemon.KindPermanent || de.Code != "TLSError" {
		t.Fatalf("got %v, want a permanent TLSError", err)
	}
	assertNoToken(t, err)
}

func TestExchangeWorksThroughTheDefaultHTTPClient(t *testing.T) {
	srv := newSTSServer(t, reply{status: 200, body: successBody("2026-11-25T20:07:31Z")})
	c := newClient(t, srv.URL, func(cfg *sts.Config) { cfg.HTTPClient = nil })
	if _, err := c.Exchange(context.Background(), testToken); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
}
