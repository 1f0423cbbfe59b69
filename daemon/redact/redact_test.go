package redact_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/redact"
)

const (
	jwt       = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2lnbmF0dXJlLWJ5dGVz"
	jwe       = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	session   = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDxkE9yJ8fT2xR4y0Xb5nYk1qA0gBz7RkK8yW4zN3h0bAIgXy6l3vQ0M2pJxU7cL8kR5tHs1oE9fA3bW2nQ7cZ4uYkqrwIIo///////////ARAAGgw="
)

// Each case names what must disappear (gone) and what must stay (kept).
func TestString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		gone []string
		kept []string
	}{
		{name: "JWS", in: "bad token " + jwt + " here", gone: []string{jwt[:20]}, kept: []string{"bad token ", redact.JWTMarker + " here"}},
		{name: "JWE, five parts", in: "got " + jwe, gone: []string{"OKOawDo13gRp", "48V1_ALb6US04U3b", "XFBoMYUZ"}, kept: []string{"got " + redact.JWTMarker}},
		{name: "JWT cut after the payload", in: "echo eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", gone: []string{"eyJzdWIi"}},
		{name: "access key IDs", in: "key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A", gone: []string{"IOSFODNN7EXAMPLE", "Y34FZKBOKMUTVV7A"}, kept: []string{"key AKIA[redacted] and ASIA[redacted]"}},
		{name: "a bare secret access key", in: "secret " + secretKey + ".", gone: []string{"wJalrXUtnFEMI", "EXAMPLEKEY"}, kept: []string{"secret [redacted]."}},
		{name: "a bare session token", in: "tok " + session, gone: []string{"IQoJb3JpZ2luX2Vj", "ARAAGgw"}},
		{name: "key=value", in: "token=hvs.CAESIabcdefgh password=hunter2 user=alice", gone: []string{"CAESIabc", "hunter2"}, kept: []string{"token=hvs.[redacted] password=[redacted] user=alice"}},
		{name: "key = value, upper case, compound names", in: "AWS_SECRET_ACCESS_KEY = abc GITHUB_TOKEN=xyz Client_Secret=s3 X-Amz-Security-Token=FQoG", gone: []string{"= abc", "=xyz", "=s3", "=FQoG"},
			kept: []string{"AWS_SECRET_ACCESS_KEY = [redacted]", "GITHUB_TOKEN=[redacted]", "Client_Secret=[redacted]", "X-Amz-Security-Token=[redacted]"}},
		{name: "camel case", in: "accessToken=at1 refreshToken: rt-0123456789 clientSecret=cs", gone: []string{"at1", "rt-0123456789", "=cs"}},
		{name: "key: value", in: "password: hunter2\nclient_secret: 9f8e7d6c5b4a\napi_key: k-123456", gone: []string{"hunter2", "9f8e7d6c5b4a", "k-123456"}, kept: []string{"password: [redacted]\n", "client_secret: [redacted]\n", "api_key: [redacted]"}},
		{name: "JSON", in: `{"error":"invalid_grant","error_description":"bad grant","refresh_token":"rt secret with spaces", "client_secret" : "cs-1"}`, gone: []string{"rt secret with spaces", "cs-1"},
			kept: []string{`"error":"invalid_grant"`, `"error_description":"bad grant"`, `"refresh_token":"[redacted]"`, `"client_secret" : "[redacted]"`}},
		{name: "form and query", in: "POST grant_type=refresh_token&refresh_token=rt-abc&client_id=app&client_secret=cs-def", gone: []string{"rt-abc", "cs-def"}, kept: []string{"grant_type=refresh_token&", "client_id=app&"}},
		{name: "single quotes", in: "id_token='abc def' pwd='x'", gone: []string{"abc def", "'x'"}, kept: []string{"id_token='[redacted]'", "pwd='[redacted]'"}},
		{name: "Authorization: Bearer", in: "Authorization: Bearer abc.def", gone: []string{"abc.def"}, kept: []string{"Authorization: Bearer [redacted]"}},
		{name: "Authorization: Basic", in: "-H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='", gone: []string{"dXNlcjpw"}, kept: []string{"Authorization: Basic [redacted]'"}},
		{name: "a bare bearer token", in: "sent bearer 0123abcd", gone: []string{"0123abcd"}},
		{name: "SigV4", in: "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
			gone: []string{"AKIDEXAMPLE", "5d672d79"}, kept: []string{"AWS4-HMAC-SHA256 Credential=[redacted], SignedHeaders=host, Signature=[redacted]"}},
		{name: "Vault tokens", in: "hvs.CAESIJlWh2i9Xh3kZbYx hvb.AAAAAQJ7aXh3kZbYx s.Xh3kZbYxAbCdEfGhIjKlMnOp", gone: []string{"CAESIJ", "AAAAAQ", "Xh3kZbYxAbCd"}, kept: []string{"hvs.[redacted] hvb.[redacted] s.[redacted]"}},
		{name: "GitHub tokens", in: "ghp_16C7e42F292c6912E7710c838347Ae178B4a gho_16C7e42F292c6912E7710c838347Ae178B4a github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEF",
			gone: []string{"16C7e42F", "11ABCDEFG0"}, kept: []string{"ghp_[redacted] gho_[redacted] github_pat_[redacted]"}},
		{name: "Slack, GitLab, npm, Google", in: "xoxb-123456789012-abcdefghij glpat-abcdefghij0123456789 npm_abcdefghij0123456789 ya29.a0AfH6SMBxyz", gone: []string{"123456789012", "abcdefghij0123456789", "a0AfH6SMBxyz"}},
		{name: "URL userinfo", in: `Get "https://alice:s3cr3t@idp.example.com/token": dial tcp`, gone: []string{"s3cr3t"}, kept: []string{`https://alice:[redacted]@idp.example.com/token": dial tcp`}},
		{name: "private key", in: "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done", gone: []string{"MIIEow"}, kept: []string{" done"}},
		{name: "idempotent", in: "token=[redacted] Bearer [redacted] " + redact.JWTMarker, kept: []string{"token=[redacted] Bearer [redacted] " + redact.JWTMarker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact.String(tt.in)
			for _, g := range tt.gone {
				if strings.Contains(got, g) {
					t.Errorf("String(%q) = %q, still holds %q", tt.in, got, g)
				}
			}
			for _, k := range tt.kept {
				if !strings.Contains(got, k) {
					t.Errorf("String(%q) = %q, lacks %q", tt.in, got, k)
				}
			}
			if again := redact.String(got); again != got {
				t.Errorf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

// Ordinary messages, including credd's own, come out unchanged.
func TestStringLeavesOrdinaryTextAlone(t *testing.T) {
	for _, s := range []string{
		"arn:aws:iam::123456789012:role/dev",
		"arn:aws:sts::123456789012:assumed-role/codespaces-staging/alice@fluffy-space-waffle-jj9x6vwq4c5wp9",
		"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		"https://token.actions.githubusercontent.com/.well-known/openid-configuration",
		"http://127.0.0.1:9911/v1/credentials/prod-readonly",
		`Post "https://sts.eu-west-1.amazonaws.com/": dial tcp 127.0.0.1:1: connect: connection refused`,
		`Get "https://login.example.com/oauth/token": context deadline exceeded`,
		"/workspaces/payments/.devcontainer/credd.toml",
		"/home/alice/MyProject2024/scripts/get-token",
		"/Users/Alice/Projects2024/credd/scripts/helper/x",
		// A test's temporary directory: long, camel-case, with digits.
		"token file /tmp/TestTokenFileFaultsAFIFOSwappedInWhileServing1234567/001/token is missing",
		"/tmp/TestAnotherUserSquattingThePortCannotReplayTheToken1234567/001",
		"token file /run/user/1000/credd/token: open: permission denied",
		"InvalidIdentityToken: Incorrect token audience",
		"InvalidIdentityToken: Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
		"ExpiredTokenException: Token expired: current date/time 1700000000 must be before the expiration date/time1699999999",
		"AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
		"HTTP 503 Service Unavailable",
		"token command failed: exit status 3; stderr: cannot reach the IdP",
		"MalformedToken: the token has 2 lines (the token command must print one JWT; got 2 lines)",
		"in GitHub Actions grant `permissions: id-token: write`",
		"the identity token: refreshing failed",
		"STS answered 200 without complete credentials: fix the endpoint",
		"set --token-command, or --token-source sandbox",
		"token_source=file token_file=/var/run/secrets/token role=default",
		"a Bearer token must not be sent; use the token as it is",
		"the IdP refused: invalid_grant (grant request is invalid)",
		"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"commit 3f786850e387550fdab836ed7e6dc881de23001b",
		"123e4567-e89b-12d3-a456-426614174000",
		"session alice@codespace-x, 1h credentials",
		"GitHubActionsDeployRole",
		"user_code=WDJB-MJHT verification_uri=https://login.example.com/device",
		"key",
		"",
	} {
		if got := redact.String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestHandlerRedactsMessagesAndAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redact.NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	u, _ := url.Parse("https://alice:pa55word@proxy.example.com:3128")
	log = log.With("component", "source", "early", "password=early-secret")
	log.WithGroup("g").Warn("command said token="+jwt, "stderr", "password=hunter2", "err", errors.New("Authorization: Bearer abc.def"),
		"proxy", u, "n", 3, slog.Group("inner", "secret", "client_secret=cs-1"))
	log.Debug("not logged", "x", "password=never")
	out := buf.String()
	for _, s := range []string{jwt[:20], "hunter2", "abc.def", "pa55word", "cs-1", "early-secret", "never"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"component=source", "g.n=3", "alice", "proxy.example.com", "level=WARN"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
	var nilErr *myErr
	log.Info("nil", "err", nilErr) // must not panic
}

type myErr struct{ s string }

func (e *myErr) Error() string { return e.s }

func BenchmarkString(b *testing.B) {
	for _, in := range []string{
		"token command failed: exit status 3; stderr: cannot reach the IdP",
		"token command failed: exit status 1; stderr: + curl -H 'Authorization: Bearer " + jwt + "' | token=hvs.CAESIabcdefgh password=hunter2",
	} {
		b.Run(strings.Fields(in)[3], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				redact.String(in)
			}
		})
	}
}
