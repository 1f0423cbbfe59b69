package sandbox

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
)

// stsClient is the real aws-sdk-go-v2 client pointed at the emulator, with
// retries off.
func stsClient(sb *Sandbox, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(sb.STSURL),
		Credentials:  creds,
		Retryer:      aws.NopRetryer{},
	})
}

func mintToken(t *testing.T, sb *Sandbox, overrides map[string]any) string {
	t.Helper()
	token, err := sb.Issuer.Mint(DefaultAudience, overrides)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return token
}

func assumeRole(ctx context.Context, sb *Sandbox, token string, duration int32) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(DefaultRoleARN),
		RoleSessionName:  aws.String("alice@example.com"),
		WebIdentityToken: aws.String(token),
	}
	if duration != 0 {
		in.DurationSeconds = aws.Int32(duration)
	}
	return stsClient(sb, aws.AnonymousCredentials{}).AssumeRoleWithWebIdentity(ctx, in)
}

// mustAssume returns credentials for the default role.
func mustAssume(t *testing.T, sb *Sandbox) aws.Credentials {
	t.Helper()
	out, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	c := out.Credentials
	return aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestSDKAssumesTheRoleAndSignsGetCallerIdentityWithTheCredentials(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	sb := startSandbox(t, Options{Issuer: IssuerOptions{Clock: clock.NewFake(start)}})
	out, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 7200)
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	c := out.Credentials
	if want := start.Add(2 * time.Hour).Truncate(time.Second); !c.Expiration.Equal(want) {
		t.Errorf("Expiration = %v, want %v", c.Expiration, want)
	}
	if !regexp.MustCompile(`^ASIA[A-Z0-9]{16}$`).MatchString(*c.AccessKeyId) || len(*c.SecretAccessKey) != 40 || len(*c.SessionToken) < 100 {
		t.Errorf("credentials look wrong: AccessKeyId=%q, secret %d chars, token %d chars", *c.AccessKeyId, len(*c.SecretAccessKey), len(*c.SessionToken))
	}
	const wantARN = "arn:aws:sts::123456789012:assumed-role/credd-sandbox/alice@example.com"
	if got := *out.AssumedRoleUser.Arn; got != wantARN {
		t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, wantARN)
	}
	if got := *out.AssumedRoleUser.AssumedRoleId; !regexp.MustCompile(`^AROA[A-Z0-9]{17}:alice@example.com$`).MatchString(got) {
		t.Errorf("AssumedRoleId = %q", got)
	}
	if *out.SubjectFromWebIdentityToken != DefaultSubject || *out.Audience != DefaultAudience || *out.Provider != "arn:aws:iam::"+DefaultAccountID+":oidc-provider/"+strings.TrimPrefix(sb.IssuerURL, "http://") {
		t.Errorf("subject %q, audience %q, provider %q", *out.SubjectFromWebIdentityToken, *out.Audience, *out.Provider)
	}

	creds := credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	id, err := stsClient(sb, creds).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if *id.Arn != wantARN || *id.Account != "123456789012" || *id.UserId != *out.AssumedRoleUser.AssumedRoleId {
		t.Errorf("GetCallerIdentity = %s / %s / %s", *id.Arn, *id.Account, *id.UserId)
	}
	if got := sb.STS.VerifiedCalls(); got != 1 {
		t.Errorf("VerifiedCalls = %d, want 1", got)
	}
	if a, g := sb.STS.Calls("AssumeRoleWithWebIdentity"), sb.STS.Calls("GetCallerIdentity"); a != 1 || g != 1 {
		t.Errorf("Calls = %d AssumeRoleWithWebIdentity, %d GetCallerIdentity, want 1 and 1", a, g)
	}
}

func TestAssumeRoleWithWebIdentityRefusesWhatAWSRefuses(t *testing.T) {
	sb := startSandbox(t, Options{STS: STSOptions{Roles: []Role{
		{ARN: DefaultRoleARN, SubjectPattern: "repo:credd-dev/*"},
		{ARN: "arn:aws:iam::123456789012:role/other-aud", Audience: "other-client", SubjectPattern: "repo:credd-dev/???o:*"},
		{ARN: "arn:aws:iam::123456789012:role/short", MaxSessionDuration: time.Hour},
	}}})
	other := startSandbox(t, Options{})
	foreign, err := other.Issuer.Mint(DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := mintToken(t, sb, nil)
	tests := []struct {
		name     string
		role     string
		session  string
		token    string
		duration int32
		wantCode string
	}{
		{name: "a subject outside the trust policy is denied", token: mintToken(t, sb, map[string]any{"sub": "repo:evil/demo:ref:refs/heads/main"}), wantCode: "AccessDenied"},
		{name: "a token expired beyond the clock skew is ExpiredTokenException", token: mintToken(t, sb, map[string]any{"exp": time.Now().Add(-clockSkew - time.Second)}), wantCode: "ExpiredTokenException"},
		{name: "a token expired within the clock skew is accepted", token: mintToken(t, sb, map[string]any{"exp": time.Now().Add(-time.Second)})},
		{name: "an audience that is no client ID of the provider is InvalidIdentityToken", token: mintToken(t, sb, map[string]any{"aud": "nobody"}), wantCode: "InvalidIdentityToken"},
		{name: "a client ID that this role does not trust is denied", role: "arn:aws:iam::123456789012:role/other-aud", wantCode: "AccessDenied"},
		{name: "a role trusting another audience accepts its own", role: "arn:aws:iam::123456789012:role/other-aud", token: mintToken(t, sb, map[string]any{"aud": "other-client"})},
		{name: "an unknown role is denied", role: "arn:aws:iam::123456789012:role/nope", wantCode: "AccessDenied"},
		{name: "a malformed role ARN is a ValidationError", role: "arn:aws:iam::123:role/x-and-some-more", wantCode: "ValidationError"},
		{name: "a token from another issuer is InvalidIdentityToken", token: foreign, wantCode: "InvalidIdentityToken"},
		{name: "a tampered signature is InvalidIdentityToken", token: good[:len(good)-4] + "AAAA", wantCode: "InvalidIdentityToken"},
		{name: "a token that is not a JWT is InvalidIdentityToken", token: "not-a-jwt", wantCode: "InvalidIdentityToken"},
		{name: "a session name with a space is a ValidationError", session: "alice smith", wantCode: "ValidationError"},
		{name: "a one-letter session name is a ValidationError", session: "a", wantCode: "ValidationError"},
		{name: "DurationSeconds under 900 is a ValidationError", duration: 899, wantCode: "ValidationError"},
		{name: "DurationSeconds over 43200 is a ValidationError", duration: 43201, wantCode: "ValidationError"},
		{name: "DurationSeconds over the role's maximum is a ValidationError", role: "arn:aws:iam::123456789012:role/short", duration: 3601, wantCode: "ValidationError"},
		{name: "the role's maximum itself is granted", role: "arn:aws:iam::123456789012:role/short", duration: 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &sts.AssumeRoleWithWebIdentityInput{
				RoleArn:          aws.String(cmp.Or(tt.role, DefaultRoleARN)),
				RoleSessionName:  aws.String(cmp.Or(tt.session, "alice")),
				WebIdentityToken: aws.String(cmp.Or(tt.token, good)),
			}
			if tt.duration != 0 {
				in.DurationSeconds = aws.Int32(tt.duration)
			}
			_, err := stsClient(sb, aws.AnonymousCredentials{}).AssumeRoleWithWebIdentity(t.Context(), in)
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "") != (err == nil) {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.wantCode)
			}
		})
	}
}

func TestAWSErrorMessagesAreVerbatim(t *testing.T) {
	sb := startSandbox(t, Options{})
	tests := []struct {
		name, token, want string
	}{
		{"access denied carries no detail", mintToken(t, sb, map[string]any{"sub": "repo:evil/x"}), "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"a wrong audience says so", mintToken(t, sb, map[string]any{"aud": "x"}), "Incorrect token audience"},
		{"expiry gives both times", mintToken(t, sb, map[string]any{"exp": int64(1000)}), "must be before the expiration date/time 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := assumeRole(t.Context(), sb, tt.token, 0)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || !strings.Contains(apiErr.ErrorMessage(), tt.want) {
				t.Fatalf("error %v, want a message containing %q", err, tt.want)
			}
		})
	}
}

func TestGetCallerIdentityRefusesBadSignatures(t *testing.T) {
	fake := clock.NewFake(time.Now())
	sb := startSandbox(t, Options{Issuer: IssuerOptions{Clock: fake}})
	good := mustAssume(t, sb)
	expiring := mustAssume(t, sb)
	tampered := func(mod func(c *aws.Credentials)) aws.Credentials {
		c := good
		mod(&c)
		return c
	}
	tests := []struct {
		name     string
		creds    aws.CredentialsProvider
		advance  time.Duration
		wantCode string
	}{
		{name: "a tampered secret is SignatureDoesNotMatch", creds: credentials.StaticCredentialsProvider{Value: tampered(func(c *aws.Credentials) {
			first := "X" // another first character: a random secret starts with X one time in 64
			if c.SecretAccessKey[0] == 'X' {
				first = "Y"
			}
			c.SecretAccessKey = first + c.SecretAccessKey[1:]
		})}, wantCode: "SignatureDoesNotMatch"},
		{name: "a wrong session token is InvalidClientTokenId", creds: credentials.StaticCredentialsProvider{Value: tampered(func(c *aws.Credentials) {
			c.SessionToken += "x"
		})}, wantCode: "InvalidClientTokenId"},
		{name: "a missing session token is InvalidClientTokenId", creds: credentials.StaticCredentialsProvider{Value: tampered(func(c *aws.Credentials) {
			c.SessionToken = ""
		})}, wantCode: "InvalidClientTokenId"},
		{name: "an access key it never issued is InvalidClientTokenId", creds: credentials.StaticCredentialsProvider{Value: tampered(func(c *aws.Credentials) {
			c.AccessKeyID = "ASIAAAAAAAAAAAAAAAAA"
		})}, wantCode: "InvalidClientTokenId"},
		{name: "an unsigned request is MissingAuthenticationToken", creds: aws.AnonymousCredentials{}, wantCode: "MissingAuthenticationToken"},
		{name: "credentials past their expiry are ExpiredToken", creds: credentials.StaticCredentialsProvider{Value: expiring}, advance: time.Hour, wantCode: "ExpiredToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.Advance(tt.advance)
			_, err := stsClient(sb, tt.creds).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.wantCode)
			}
		})
	}
	if got := sb.STS.VerifiedCalls(); got != 0 {
		t.Errorf("VerifiedCalls = %d after only refused calls", got)
	}
}

func TestPresignedGetCallerIdentityVerifies(t *testing.T) {
	sb := startSandbox(t, Options{})
	c := mustAssume(t, sb)
	presigner := sts.NewPresignClient(stsClient(sb, credentials.StaticCredentialsProvider{Value: c}))
	req, err := presigner.PresignGetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		url        string
		wantStatus int
	}{
		{"the presigned URL is accepted", req.URL, 200},
		{"a presigned URL with a changed signature is refused", regexp.MustCompile(`X-Amz-Signature=[0-9a-f]`).ReplaceAllString(req.URL, "X-Amz-Signature=g"), 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hreq, _ := http.NewRequestWithContext(t.Context(), req.Method, tt.url, nil)
			hreq.Header = req.SignedHeader.Clone()
			resp, err := http.DefaultClient.Do(hreq)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
		})
	}
	if got := sb.STS.VerifiedCalls(); got != 1 {
		t.Errorf("VerifiedCalls = %d, want 1", got)
	}
}

func TestMaxLifetimeAllowsAndCapsShortCredentials(t *testing.T) {
	fake := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	sb := startSandbox(t, Options{Issuer: IssuerOptions{Clock: fake}, STS: STSOptions{MaxLifetime: time.Minute}})
	for _, tt := range []struct {
		name     string
		duration int32
		want     time.Duration
	}{
		{"a duration under AWS's minimum is allowed", 30, 30 * time.Second},
		{"a longer duration is capped", 3600, time.Minute},
		{"no duration asks for the 1h default, capped", 0, time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), tt.duration)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Credentials.Expiration.Sub(fake.Now()); got != tt.want {
				t.Errorf("lifetime %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFaultsAreAnsweredAsTheSDKExpects(t *testing.T) {
	sb := startSandbox(t, Options{})
	// The sts client's retryer: the standard one plus IDPCommunicationError.
	retryer := retry.AddWithErrorCodes(retry.NewStandard(), "IDPCommunicationError")
	tests := []struct {
		kind          FaultKind
		wantCode      string
		wantStatus    int
		wantRetryable bool
	}{
		{FaultInternalError, "InternalFailure", 500, true},
		{FaultServiceUnavailable, "ServiceUnavailable", 503, true},
		{FaultThrottling, "Throttling", 400, true},
		{FaultIDPCommunication, "IDPCommunicationError", 400, true},
		{FaultIDPKeysUnreachable, "InvalidIdentityToken", 400, false},
		{FaultInvalidIdentityToken, "InvalidIdentityToken", 400, false},
		{FaultExpiredToken, "ExpiredTokenException", 400, false},
		{FaultAccessDenied, "AccessDenied", 403, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+" is "+tt.wantCode, func(t *testing.T) {
			sb.STS.InjectFault(Fault{Kind: tt.kind, Count: 1})
			_, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.wantCode)
			}
			var respErr interface{ HTTPStatusCode() int }
			if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != tt.wantStatus {
				t.Errorf("HTTP status: %v, want %d", err, tt.wantStatus)
			}
			if got := retryer.IsErrorRetryable(err); got != tt.wantRetryable {
				t.Errorf("retryable = %v, want %v", got, tt.wantRetryable)
			}
		})
	}

	t.Run("MalformedXML is an XML syntax error, not an API error", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultMalformedXML, Count: 1})
		_, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
		var syntaxErr *xml.SyntaxError
		if err == nil || errorCode(err) != "" || !errors.As(err, &syntaxErr) {
			t.Fatalf("err = %v, want an XML syntax error", err)
		}
	})
	t.Run("Latency delays a normal answer", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultLatency, Count: 1, Delay: 100 * time.Millisecond})
		start := time.Now()
		if _, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
			t.Errorf("answered after %s, want at least the delay", elapsed)
		}
	})
	t.Run("Hang holds the request until the client gives up", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultHang, Count: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err := assumeRole(ctx, sb, mintToken(t, sb, nil), 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the client's deadline", err)
		}
	})
	t.Run("Hang with a Delay drops the connection after it", func(t *testing.T) {
		sb.STS.InjectFault(Fault{Kind: FaultHang, Count: 1, Delay: 50 * time.Millisecond})
		_, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
		if err == nil || errorCode(err) != "" || !retryer.IsErrorRetryable(err) {
			t.Fatalf("err = %v, want a retryable network error", err)
		}
	})
}

func TestFaultsApplyToTheNextCountCallsInOrder(t *testing.T) {
	sb := startSandbox(t, Options{})
	sb.STS.InjectFault(Fault{Kind: FaultThrottling, Count: 2})
	sb.STS.InjectFault(Fault{Kind: FaultServiceUnavailable, Count: 1})
	want := []string{"Throttling", "Throttling", "ServiceUnavailable", ""}
	for i, code := range want {
		_, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
		if got := errorCode(err); got != code {
			t.Errorf("call %d: code %q (%v), want %q", i+1, got, err, code)
		}
	}

	sb.STS.InjectFault(Fault{Kind: FaultAccessDenied}) // Count 0: until cleared
	for i := range 3 {
		if _, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0); errorCode(err) != "AccessDenied" {
			t.Errorf("unlimited fault, call %d: %v", i+1, err)
		}
	}
	sb.STS.ClearFaults()
	if _, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
	if got := sb.STS.Calls("AssumeRoleWithWebIdentity"); got != 8 {
		t.Errorf("Calls = %d, want 8 (faulted calls count)", got)
	}
}

func TestQueryProtocolWireFormat(t *testing.T) {
	sb := startSandbox(t, Options{})
	tests := []struct {
		name       string
		method     string
		query      string
		body       string
		wantStatus int
		wantBody   string
	}{
		{
			name: "an unknown action is InvalidAction in AWS's error shape", method: "POST",
			body: "Action=AssumeRole&Version=2011-06-15", wantStatus: 400,
			wantBody: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation AssumeRole for version 2011-06-15</Message></Error><RequestId>ID</RequestId></ErrorResponse>`,
		},
		{
			name: "a GET with the query works too", method: "GET", query: "?Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + DefaultRoleARN + "&RoleSessionName=alice",
			wantStatus: 400,
			wantBody:   `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>1 validation error detected: Value null at &#39;webIdentityToken&#39; failed to satisfy constraint: Member must not be null</Message></Error><RequestId>ID</RequestId></ErrorResponse>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, sb.STSURL+"/"+tt.query, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			reqID := resp.Header.Get("X-Amzn-Requestid")
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != "text/xml" || reqID == "" || resp.Header.Get("Date") == "" {
				t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
			}
			if got := strings.ReplaceAll(string(body), reqID, "ID"); got != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", got, tt.wantBody)
			}
		})
	}
}

func TestTwoSandboxesDoNotShareCredentials(t *testing.T) {
	a, b := startSandbox(t, Options{}), startSandbox(t, Options{})
	c := mustAssume(t, a)
	_, err := stsClient(b, credentials.StaticCredentialsProvider{Value: c}).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if got := errorCode(err); got != "InvalidClientTokenId" {
		t.Fatalf("b accepted a's credentials: %v", err)
	}
}

func TestExpirationUsesTheOneLayoutEverySDKAccepts(t *testing.T) {
	sb := startSandbox(t, Options{})
	token := mintToken(t, sb, nil)
	form := "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + DefaultRoleARN + "&RoleSessionName=alice&WebIdentityToken=" + token
	resp, err := http.Post(sb.STSURL, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<Expiration>([^<]+)</Expiration>`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no Expiration in %s", body)
	}
	if _, err := time.Parse(daemon.ExpirationLayout, m[1]); err != nil || !strings.HasSuffix(m[1], "Z") || len(m[1]) != 20 {
		t.Errorf("Expiration %q is not %s", m[1], daemon.ExpirationLayout)
	}
}

func TestCloseEndsAHangingRequest(t *testing.T) {
	sb, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb.STS.InjectFault(Fault{Kind: FaultHang})
	token := mintToken(t, sb, nil)
	done := make(chan error, 1)
	go func() {
		_, err := assumeRole(context.Background(), sb, token, 0)
		done <- err
	}()
	for sb.STS.Calls("AssumeRoleWithWebIdentity") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- sb.Close() }()
	for name, ch := range map[string]chan error{"Close": closed, "the request": done} {
		select {
		case err := <-ch:
			if name == "the request" && err == nil {
				t.Error("the hanging request succeeded")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not return within 5s", name)
		}
	}
}

func TestSigV4CanonicalisesQueriesAndHeadersLikeTheSDKSigner(t *testing.T) {
	sb := startSandbox(t, Options{})
	c := mustAssume(t, sb)
	signer := v4.NewSigner()
	tests := []struct {
		name   string
		method string
		url    string
		header http.Header
		body   string
	}{
		{name: "a GET with unsorted, escaped and repeated parameters", method: "GET",
			url: sb.STSURL + "/?Version=2011-06-15&Action=GetCallerIdentity&z=%2F&a-b=1&a=2&a=1&sp=x%20y&t=~!*"},
		{name: "headers with runs of spaces and several values", method: "POST", url: sb.STSURL + "/",
			header: http.Header{"X-Custom": {"  a   b  "}, "X-Multi": {"one", "two"}, "Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
			body:   "Action=GetCallerIdentity&Version=2011-06-15"},
		{name: "a path below the root", method: "POST", url: sb.STSURL + "/some/path%20x",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body:   "Action=GetCallerIdentity&Version=2011-06-15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, tt.url, strings.NewReader(tt.body))
			maps.Copy(req.Header, tt.header)
			req.Header.Set("X-Amz-Security-Token", c.SessionToken)
			sum := sha256.Sum256([]byte(tt.body))
			if err := signer.SignHTTP(t.Context(), c, req, hex.EncodeToString(sum[:]), "sts", "eu-west-3", time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
}

func TestStringLikeMatchesIAMWildcards(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"repo:credd-dev/*", "repo:credd-dev/demo:ref:refs/heads/main", true},
		{"repo:credd-dev/*", "repo:credd-devx/demo", false},
		{"repo:credd-dev/demo:ref:refs/heads/???n", "repo:credd-dev/demo:ref:refs/heads/main", true},
		{"repo:a.b/*", "repo:axb/c", false},
		{"*", "", true},
		{"exact", "exact-not", false},
	}
	for _, tt := range tests {
		if got := stringLike(tt.pattern).MatchString(tt.value); got != tt.want {
			t.Errorf("StringLike %q on %q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

// A role the STS does not know is refused with AccessDenied, as IAM refuses
// a role that does not exist; once created with AddRole it can be assumed,
// and adding it again leaves it as it is.
func TestAddRoleCreatesARoleThatCanBeAssumed(t *testing.T) {
	sb := startSandbox(t, Options{})
	const arn = "arn:aws:iam::210987654321:role/from-a-secret"
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(arn),
		RoleSessionName:  aws.String("octocat@fuzzy-space"),
		WebIdentityToken: aws.String(mintToken(t, sb, nil)),
	}
	client := stsClient(sb, aws.AnonymousCredentials{})
	if _, err := client.AssumeRoleWithWebIdentity(t.Context(), in); errorCode(err) != "AccessDenied" {
		t.Fatalf("an unknown role: err = %v, want AccessDenied", err)
	}
	for range 2 {
		if err := sb.STS.AddRole(Role{ARN: arn}); err != nil {
			t.Fatalf("AddRole: %v", err)
		}
	}
	out, err := client.AssumeRoleWithWebIdentity(t.Context(), in)
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity after AddRole: %v", err)
	}
	if got, want := *out.AssumedRoleUser.Arn, "arn:aws:sts::210987654321:assumed-role/from-a-secret/octocat@fuzzy-space"; got != want {
		t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, want)
	}
	if err := sb.STS.AddRole(Role{ARN: "arn:aws:iam::1:role/x"}); err == nil {
		t.Error("AddRole accepted a malformed role ARN")
	}
}
