package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// startSandbox starts a sandbox that is closed when the test ends.
func startSandbox(t *testing.T, opts Options) *Sandbox {
	t.Helper()
	sb, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// unverifiedClaims reads a token's claims without checking it.
func unverifiedClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	var claims map[string]any
	if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatalf("read claims: %v", err)
	}
	return claims
}

func TestGoOIDCVerifiesMintedTokensThroughDiscovery(t *testing.T) {
	sb := startSandbox(t, Options{})
	other := startSandbox(t, Options{})
	provider, err := oidc.NewProvider(t.Context(), sb.IssuerURL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: DefaultAudience})
	mint := func(is *Issuer, overrides map[string]any) string {
		t.Helper()
		token, err := is.Mint(DefaultAudience, overrides)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		return token
	}

	tests := []struct {
		name    string
		token   string
		wantErr string
		wantSub string
	}{
		{name: "a default token verifies with GitHub's claims", token: mint(sb.Issuer, nil), wantSub: DefaultSubject},
		{name: "an overridden subject is what the verifier sees", token: mint(sb.Issuer, map[string]any{"sub": "repo:x/y:environment:prod"}), wantSub: "repo:x/y:environment:prod"},
		{name: "an expired token is refused", token: mint(sb.Issuer, map[string]any{"exp": time.Now().Add(-time.Minute)}), wantErr: "expired"},
		{name: "a token for another audience is refused", token: mint(sb.Issuer, map[string]any{"aud": "someone-else"}), wantErr: "audience"},
		{name: "a token from another sandbox's issuer is refused", token: mint(other.Issuer, nil), wantErr: "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idt, err := verifier.Verify(t.Context(), tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Verify error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var claims struct {
				Repository, RepositoryOwner, Actor, Ref, RunnerEnvironment string
				Environment                                                *string
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idt.Subject != tt.wantSub || claims.Actor != "octocat" || claims.Environment != nil {
				t.Errorf("sub=%q actor=%q environment=%v", idt.Subject, claims.Actor, claims.Environment)
			}
		})
	}
}

func TestMintShapesClaimsLikeGitHubActions(t *testing.T) {
	sb := startSandbox(t, Options{Issuer: IssuerOptions{Subject: "repo:credd-dev/demo:environment:dev", TokenLifetime: 5 * time.Minute}})
	exp := time.Unix(2000000000, 0)
	token, err := sb.Issuer.Mint("aud-1", map[string]any{"environment": "dev", "nbf": nil, "exp": exp})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := parsed.Headers[0].KeyID; kid == "" || len(sb.Issuer.KeySet().Key(kid)) != 1 {
		t.Errorf("kid %q does not name a key of the JWKS", kid)
	}
	claims := unverifiedClaims(t, token)
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "repository", "repository_owner",
		"repository_id", "actor", "actor_id", "ref", "ref_type", "workflow", "event_name", "run_id", "sha",
		"job_workflow_ref", "runner_environment", "environment"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %q missing", name)
		}
	}
	checks := map[string]any{
		"iss": sb.IssuerURL, "sub": "repo:credd-dev/demo:environment:dev", "aud": "aud-1",
		"repository": "credd-dev/demo", "actor": "octocat", "environment": "dev", "exp": float64(exp.Unix()),
	}
	for name, want := range checks {
		if claims[name] != want {
			t.Errorf("claim %s = %v, want %v", name, claims[name], want)
		}
	}
	if _, ok := claims["nbf"]; ok {
		t.Error("nbf was overridden with nil but is still present")
	}
}

func TestTokenEndpointRequiresTheBearerAndHonoursAudience(t *testing.T) {
	sb := startSandbox(t, Options{})
	tests := []struct {
		name       string
		url        string
		auth       string
		wantStatus int
		wantAud    string
	}{
		{name: "no Authorization header is refused", url: sb.ActionsTokenURL() + "&audience=sts.amazonaws.com", wantStatus: 401},
		{name: "a wrong bearer is refused", url: sb.ActionsTokenURL(), auth: "Bearer nope", wantStatus: 401},
		{name: "the token without its scheme is refused", url: sb.ActionsTokenURL(), auth: sb.Issuer.RequestToken(), wantStatus: 401},
		{name: "the right bearer and an appended audience mint for that audience", url: sb.ActionsTokenURL() + "&audience=sts.amazonaws.com", auth: "Bearer " + sb.Issuer.RequestToken(), wantStatus: 200, wantAud: "sts.amazonaws.com"},
		{name: "no audience gives GitHub's default", url: sb.ActionsTokenURL(), auth: "bearer " + sb.Issuer.RequestToken(), wantStatus: 200, wantAud: GitHubDefaultAudience},
		{name: "the last audience wins", url: sb.IssuerURL + "/token?audience=a&audience=b", auth: "Bearer " + sb.Issuer.RequestToken(), wantStatus: 200, wantAud: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.url, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			var body struct {
				Count int    `json:"count"`
				Value string `json:"value"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if got := unverifiedClaims(t, body.Value)["aud"]; got != tt.wantAud {
				t.Errorf("aud = %v, want %q", got, tt.wantAud)
			}
		})
	}
}

func TestMintNeedsTheIssuerURL(t *testing.T) {
	is, err := NewIssuer(IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Mint("", nil); err == nil {
		t.Fatal("Mint without a URL succeeded")
	}
	is.SetURL("http://127.0.0.1:1/")
	if got := is.URL(); got != "http://127.0.0.1:1/" {
		t.Errorf("URL() = %q, want it kept as given, trailing slash included", got)
	}
}

// An issuer whose URL ends in a slash, as Auth0's does
// (https://tenant.auth0.com/), keeps it in iss and discovery, and its IAM
// provider keeps it too: the provider is found by iss exactly, and its ARN
// and condition keys name tenant.auth0.com/ (issue 14, item 3; OpenID
// Connect Discovery 1.0 section 4 for the jwks_uri).
func TestAnIssuerWithATrailingSlashKeepsItEverywhere(t *testing.T) {
	sb := startSandbox(t, Options{})
	slashed := sb.IssuerURL + "/"
	sb.Issuer.SetURL(slashed)

	resp, err := http.Get(sb.IssuerURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != slashed || doc.JWKSURI != sb.IssuerURL+"/.well-known/jwks" {
		t.Errorf("discovery: issuer %q, jwks_uri %q", doc.Issuer, doc.JWKSURI)
	}
	token := mintToken(t, sb, nil)
	if got := unverifiedClaims(t, token)["iss"]; got != slashed {
		t.Errorf("iss = %v, want %q", got, slashed)
	}
	out, err := assumeRole(t.Context(), sb, token, 0)
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	if want := "arn:aws:iam::" + DefaultAccountID + ":oidc-provider/" + strings.TrimPrefix(slashed, "http://"); aws.ToString(out.Provider) != want {
		t.Errorf("Provider = %q, want %q", aws.ToString(out.Provider), want)
	}
}

func TestStartFailsAtOnceWhenTheAddressIsTaken(t *testing.T) {
	sb := startSandbox(t, Options{})
	_, err := Start(context.Background(), Options{STSAddr: strings.TrimPrefix(sb.STSURL, "http://")})
	if err == nil || !strings.Contains(err.Error(), "sts") {
		t.Fatalf("Start on a used address: err = %v", err)
	}
}

func TestSandboxStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sb, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(sb.IssuerURL + "/.well-known/jwks")
		if err != nil {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("issuer still serving after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sb.Close(); err != nil {
		t.Errorf("Close after the context ended: %v", err)
	}
}

func TestIssuerSignsWithTheChosenAlgorithmAndAdvertisesIt(t *testing.T) {
	sb := startSandbox(t, Options{Issuer: IssuerOptions{Algorithm: jose.ES384}})
	provider, err := oidc.NewProvider(t.Context(), sb.IssuerURL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var doc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&doc); err != nil || len(doc.Algs) != 1 || doc.Algs[0] != "ES384" {
		t.Errorf("discovery advertises %v (%v), want [ES384]", doc.Algs, err)
	}
	if k := sb.Issuer.KeySet().Keys[0]; k.Algorithm != "ES384" || k.KeyID == "" {
		t.Errorf("JWKS key alg %q kid %q", k.Algorithm, k.KeyID)
	}
	token, err := sb.Issuer.Mint(DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: DefaultAudience}).Verify(t.Context(), token); err != nil {
		t.Errorf("go-oidc does not verify the ES384 token: %v", err)
	}
	for _, alg := range []jose.SignatureAlgorithm{jose.HS256, jose.PS256, "none"} {
		if _, err := NewIssuer(IssuerOptions{Algorithm: alg}); err == nil {
			t.Errorf("NewIssuer accepted %s, which STS refuses", alg)
		}
	}
}
