package sigv4_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"

	"github.com/credd-dev/credd/daemon/sandbox/sigv4"
)

// TestAWSPublishedExample is the GET Object example of "Signature Version 4
// for Amazon S3" (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
func TestAWSPublishedExample(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	req.Header.Set("Range", "bytes=0-9")
	req.Header.Set("X-Amz-Content-Sha256", sigv4.HashPayload(nil))
	req.Header.Set("X-Amz-Date", "20130524T000000Z")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	a, err := sigv4.ParseAuthorization(req, sigv4.Expect{Service: "s3", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !sigv4.Verify(req, a, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", sigv4.HashPayload(nil), sigv4.Options{EncodePathOnce: true}) {
		t.Fatalf("AWS's example signature does not verify; canonical request:\n%s", sigv4.CanonicalRequest(req, a, sigv4.HashPayload(nil), sigv4.Options{EncodePathOnce: true}))
	}
}

// signed is what aws-sdk-go-v2's signer logged for one request.
type signed struct{ canonical, stringToSign string }

// sdkSigner signs as aws-sdk-go-v2 does and keeps the canonical request and
// string to sign it logs (aws/signer/v4/v4.go, logSigningInfo).
func sdkSigner(encodePathOnce bool, got *signed) *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = encodePathOnce
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, _ string, v ...any) {
			got.canonical, got.stringToSign = v[0].(string), v[1].(string)
		})
	})
}

// verified is what the test server made of one request.
type verified struct {
	signed
	ok, wrongSecretOK bool
	err               error
}

// TestMatchesTheSDKSigner sends requests signed by aws-sdk-go-v2 to a
// loopback server and checks that, from what arrives there, the package
// rebuilds the SDK's canonical request and string to sign exactly, accepts
// the signature, and refuses it under another secret.
func TestMatchesTheSDKSigner(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "ASIATESTKEY", SecretAccessKey: "test/secret+key", SessionToken: "session-token"}
	var mu sync.Mutex
	var last verified
	var opts sigv4.Options
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		last = verified{}
		a, err := sigv4.ParseAuthorization(r, sigv4.Expect{})
		if err != nil {
			last.err = err
			return
		}
		hash := r.Header.Get("X-Amz-Content-Sha256")
		if hash == "" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				last.err = err
				return
			}
			hash = sigv4.HashPayload(body)
		}
		canonical := sigv4.CanonicalRequest(r, a, hash, opts)
		last.canonical, last.stringToSign = canonical, sigv4.StringToSign(a, canonical)
		last.ok = sigv4.Verify(r, a, creds.SecretAccessKey, hash, opts)
		last.wrongSecretOK = sigv4.Verify(r, a, "another-secret", hash, opts)
		if a.SecurityToken != creds.SessionToken {
			last.err = errors.New("security token " + a.SecurityToken + " did not arrive")
		}
	}))
	t.Cleanup(srv.Close)

	const stsForm = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
	tests := []struct {
		name          string
		method, path  string // path as the client escapes it
		header        http.Header
		body          string
		service       string
		presign       bool
		s3PayloadHash string // S3 sends x-amz-content-sha256; "" for STS
	}{
		{name: "an STS POST with a form body", method: "POST", path: "/", service: "sts", body: stsForm,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}},
		{name: "an STS POST with spaced and repeated headers below the root", method: "POST", path: "/some/path%20x", service: "sts", body: stsForm,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Custom": {"  a   b  "}, "X-Multi": {"one", "two"}}},
		{name: "an STS GET with a query to sort and encode", method: "GET", path: "/?Version=2011-06-15&Action=GetCallerIdentity&z=%2F&a-b=1&a=2&a=1&sp=x%20y&t=~!*", service: "sts"},
		{name: "a presigned STS GET", method: "GET", path: "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=300", service: "sts", presign: true},
		{name: "an S3 GET of a key with spaces and slashes", method: "GET", path: "/bucket/dir%20one/sub/a%20b%2Bc.txt?x-id=GetObject&response-content-type=a%2Fb", service: "s3",
			s3PayloadHash: sigv4.HashPayload(nil)},
		{name: "an S3 PUT of a key with spaces and slashes", method: "PUT", path: "/bucket/my%20folder/sub%20dir/file%20name%21.txt", service: "s3", body: "hello, S3",
			header: http.Header{"Content-Type": {"text/plain"}}, s3PayloadHash: sigv4.HashPayload([]byte("hello, S3"))},
		{name: "an S3 PUT with an unsigned payload", method: "PUT", path: "/bucket/a%20b/c", service: "s3", body: "unsigned body",
			s3PayloadHash: sigv4.UnsignedPayload},
		{name: "an S3 PUT of a streaming upload's headers", method: "PUT", path: "/bucket/a%20b/c", service: "s3", body: "0;chunk-signature=00\r\n\r\n",
			header: http.Header{"X-Amz-Decoded-Content-Length": {"0"}}, s3PayloadHash: sigv4.StreamingPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isS3 := tt.service == "s3"
			mu.Lock()
			opts = sigv4.Options{EncodePathOnce: isS3}
			mu.Unlock()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			hash := tt.s3PayloadHash
			if isS3 {
				req.Header.Set("X-Amz-Content-Sha256", hash)
			} else {
				hash = sigv4.HashPayload([]byte(tt.body))
			}
			var sdk signed
			signer := sdkSigner(isS3, &sdk)
			now := time.Now()
			if tt.presign {
				url, header, err := signer.PresignHTTP(context.Background(), creds, req, hash, tt.service, "eu-west-3", now)
				if err != nil {
					t.Fatal(err)
				}
				if req, err = http.NewRequest(tt.method, url, nil); err != nil {
					t.Fatal(err)
				}
				req.Header = header
			} else if err := signer.SignHTTP(context.Background(), creds, req, hash, tt.service, "eu-west-3", now); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			mu.Lock()
			got := last
			mu.Unlock()
			if got.err != nil {
				t.Fatal(got.err)
			}
			if got.canonical != sdk.canonical {
				t.Errorf("canonical request:\n%s\nthe SDK signed:\n%s", got.canonical, sdk.canonical)
			}
			if got.stringToSign != sdk.stringToSign {
				t.Errorf("string to sign:\n%s\nthe SDK signed:\n%s", got.stringToSign, sdk.stringToSign)
			}
			if !got.ok || got.wrongSecretOK {
				t.Errorf("Verify = %v with the secret, %v with another, want true and false", got.ok, got.wrongSecretOK)
			}
		})
	}
}

func TestParseAuthorizationSaysWhatIsWrong(t *testing.T) {
	const (
		amzDate = "20240506T070809Z"
		good    = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240506/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123"
	)
	tests := []struct {
		name          string
		url           string
		authorization string
		amzDate       string
		date          string // the Date header
		want          sigv4.Kind
		wantGot       string
	}{
		{name: "an unsigned request is Missing", url: "/", want: sigv4.Missing},
		{name: "another algorithm in the header is named", url: "/", authorization: "AWS4-HMAC-SHA512 Credential=x", want: sigv4.UnsupportedAlgorithm, wantGot: "AWS4-HMAC-SHA512"},
		{name: "another algorithm in the query is named", url: "/?X-Amz-Algorithm=HMAC", want: sigv4.UnsupportedAlgorithm, wantGot: "HMAC"},
		{name: "a presigned URL lasting zero seconds is refused", url: "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=0", want: sigv4.InvalidExpires},
		{name: "a presigned URL lasting over a week is refused", url: "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604801", want: sigv4.InvalidExpires},
		{name: "a header without Signature is Incomplete", url: "/", authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240506/us-east-1/sts/aws4_request, SignedHeaders=host", amzDate: amzDate, want: sigv4.Incomplete},
		{name: "a credential without the key is Incomplete", url: "/", authorization: "AWS4-HMAC-SHA256 Credential=/20240506/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=abc", amzDate: amzDate, want: sigv4.Incomplete},
		{name: "a short credential is Incomplete", url: "/", authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240506/sts, SignedHeaders=host, Signature=abc", amzDate: amzDate, want: sigv4.Incomplete},
		{name: "no signing time is InvalidDate", url: "/", authorization: good, want: sigv4.InvalidDate},
		{name: "a signing time in another format is InvalidDate", url: "/", authorization: good, amzDate: "2024-05-06T07:08:09Z", want: sigv4.InvalidDate},
		{name: "a scope with another terminator is named", url: "/", authorization: strings.Replace(good, "aws4_request", "aws5_request", 1), amzDate: amzDate, want: sigv4.WrongTerminator, wantGot: "aws5_request"},
		{name: "a scope for another service is named", url: "/", authorization: strings.Replace(good, "/sts/", "/iam/", 1), amzDate: amzDate, want: sigv4.WrongService, wantGot: "iam"},
		{name: "a scope for another region is named", url: "/", authorization: strings.Replace(good, "us-east-1", "eu-west-1", 1), amzDate: amzDate, want: sigv4.WrongRegion, wantGot: "eu-west-1"},
		{name: "a scope of another day is DateMismatch", url: "/", authorization: good, amzDate: "20240507T000000Z", want: sigv4.DateMismatch},
		{name: "an unsigned host is HostNotSigned", url: "/", authorization: strings.Replace(good, "host;", "", 1), amzDate: amzDate, want: sigv4.HostNotSigned},
		{name: "the Date header stands in for X-Amz-Date", url: "/", authorization: good, date: "Mon, 06 May 2024 07:08:09 GMT"},
		{name: "a well-formed header parses", url: "/", authorization: good, amzDate: amzDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://sts.example"+tt.url, nil)
			for k, v := range map[string]string{"Authorization": tt.authorization, "X-Amz-Date": tt.amzDate, "Date": tt.date} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			a, err := sigv4.ParseAuthorization(req, sigv4.Expect{Service: "sts", Region: "us-east-1"})
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("ParseAuthorization: %v", err)
				}
				if a.AccessKeyID != "AKIDEXAMPLE" || a.Scope() != "20240506/us-east-1/sts/aws4_request" || a.AmzDate != amzDate || a.Signature != "abc123" {
					t.Fatalf("parsed %+v", a)
				}
				return
			}
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Kind != tt.want || e.Got != tt.wantGot {
				t.Fatalf("ParseAuthorization: %#v, want kind %d with %q", err, tt.want, tt.wantGot)
			}
			if e.Error() == "" || e.Error() == "invalid SigV4 signature fields" {
				t.Errorf("kind %d has no message of its own", e.Kind)
			}
		})
	}
}

func TestPresignedFieldsComeFromTheQuery(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "http://sts.example/?Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256"+
		"&X-Amz-Credential=AKIDEXAMPLE%2F20240506%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20240506T070809Z"+
		"&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok&X-Amz-Signature=abc", nil)
	a, err := sigv4.ParseAuthorization(req, sigv4.Expect{Service: "sts"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Presigned || a.Expires != time.Minute || a.SecurityToken != "tok" || a.Signature != "abc" ||
		!a.Time.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Fatalf("parsed %+v", a)
	}
	// A presigned URL's signature is not part of what it signs.
	if canonical := sigv4.CanonicalRequest(req, a, "hash", sigv4.Options{}); strings.Contains(canonical, "X-Amz-Signature") {
		t.Fatalf("canonical request signs the signature:\n%s", canonical)
	}
}

func TestURIEncode(t *testing.T) {
	tests := []struct {
		in          string
		encodeSlash bool
		want        string
	}{
		{"AZaz09-_.~", true, "AZaz09-_.~"},
		{"dir/a b+c", false, "dir/a%20b%2Bc"},
		{"dir/a b+c", true, "dir%2Fa%20b%2Bc"},
		{"é!*'()", true, "%C3%A9%21%2A%27%28%29"},
		{"%2F", false, "%252F"},
	}
	for _, tt := range tests {
		if got := sigv4.URIEncode(tt.in, tt.encodeSlash); got != tt.want {
			t.Errorf("URIEncode(%q, %v) = %q, want %q", tt.in, tt.encodeSlash, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	if !sigv4.Equal("abc", "abc") || sigv4.Equal("abc", "abd") || sigv4.Equal("abc", "ab") {
		t.Fatal("Equal does not compare exactly")
	}
}
