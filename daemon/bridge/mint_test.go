package bridge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// The token verifies with go-oidc against the bridge's own discovery and
// JWKS, as AWS STS would against an IAM OIDC provider, and carries every
// claim of the contract.
func TestMintedTokenVerifiesWithTheBridgesDiscoveryAndHasEveryClaim(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.post(octoToken, TokenRequest{Repository: "Credd-Dev/Demo", Audience: "sts.amazonaws.com"}).tokenResponse(t)

	ctx := oidc.ClientContext(context.Background(), e.srv.Client())
	provider, err := oidc.NewProvider(ctx, e.issuer())
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	verifier := provider.VerifierContext(ctx, &oidc.Config{
		ClientID:             "sts.amazonaws.com",
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  e.clock.Now,
	})
	idToken, err := verifier.Verify(ctx, resp.Token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var got map[string]any
	if err := idToken.Claims(&got); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().Unix()
	want := map[string]any{
		"iss":                   e.issuer(),
		"aud":                   "sts.amazonaws.com",
		"sub":                   "repo:credd-dev/demo:user:octocat",
		"iat":                   float64(now),
		"nbf":                   float64(now),
		"exp":                   float64(now + 300),
		"jti":                   got["jti"],
		"actor":                 "octocat",
		"actor_id":              "583231",
		"repository":            "credd-dev/demo",
		"repository_id":         "100000001",
		"repository_owner":      "credd-dev",
		"repository_owner_id":   "100000000",
		"repository_permission": "admin",
		"token_kind":            "app-user",
		"https://aws.amazon.com/tags": map[string]any{
			"principal_tags": map[string]any{
				"github-user":       []any{"octocat"},
				"github-repository": []any{"credd-dev/demo"},
				"github-owner":      []any{"credd-dev"},
				"github-permission": []any{"admin"},
			},
			"transitive_tag_keys": []any{"github-user", "github-repository", "github-owner"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		gotJSON, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("claims:\n%s", gotJSON)
	}
	jti, err := base64.RawURLEncoding.DecodeString(got["jti"].(string))
	if err != nil || len(jti) != 16 {
		t.Errorf("jti %q is not 128 bits of base64url", got["jti"])
	}
	if !resp.ExpiresAt.Equal(time.Unix(now+300, 0)) || resp.ExpiresAt.Location() != time.UTC {
		t.Errorf("expires_at = %v", resp.ExpiresAt)
	}
	header := jwtHeader(t, resp.Token)
	if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != KeyID(&testKey().PublicKey) {
		t.Errorf("JOSE header = %v", header)
	}

	minted := e.lastLog("token minted")
	for k, v := range map[string]any{"component": "bridge", "user": "octocat", "user_id": "583231",
		"repository": "credd-dev/demo", "permission": "admin", "audience": "sts.amazonaws.com",
		"jti": got["jti"], "token_kind": "app-user"} {
		if minted[k] != v {
			t.Errorf("log %s = %v, want %v", k, minted[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, minted["expires_at"].(string)); err != nil {
		t.Errorf("log expires_at: %v", err)
	}
	if !strings.Contains(string(e.post(octoToken, repoReq(defaultRepo)).body), `"expires_at":"`+time.Unix(now+300, 0).UTC().Format(time.RFC3339)+`"`) {
		t.Error("expires_at is not RFC 3339 UTC on the wire")
	}
	if strings.Contains(e.logs.String(), resp.Token) || strings.Contains(e.logs.String(), strings.Split(resp.Token, ".")[2]) {
		t.Error("the JWT is in the log")
	}
}

func jwtHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAudienceDefaultsToTheFirstAllowedAndLifetimeFollowsConfig(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Audiences = []string{"sts.amazonaws.com", "other"}
		c.TokenLifetime = 15 * time.Minute
	})
	claims := payload(t, e.post(octoToken, repoReq(defaultRepo)).tokenResponse(t).Token)
	if claims["aud"] != "sts.amazonaws.com" {
		t.Errorf("aud = %v", claims["aud"])
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 {
		t.Errorf("exp - iat = %v", exp-iat)
	}
	if got := payload(t, e.post(octoToken, TokenRequest{Repository: defaultRepo, Audience: "other"}).tokenResponse(t).Token)["aud"]; got != "other" {
		t.Errorf("aud = %v", got)
	}
}

func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDiscoveryAndJWKSAreServedUnderTheIssuerPathAndCacheable(t *testing.T) {
	e := newEnv(t, nil)
	r := e.get(testIssuerDir + "/.well-known/openid-configuration")
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("discovery: %d %v", r.status, r.header)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != e.issuer() || doc["jwks_uri"] != e.issuer()+"/.well-known/jwks.json" {
		t.Errorf("discovery = %v", doc)
	}
	for k, v := range map[string]string{"response_types_supported": "id_token", "subject_types_supported": "public", "id_token_signing_alg_values_supported": "RS256"} {
		if list, _ := doc[k].([]any); len(list) != 1 || list[0] != v {
			t.Errorf("%s = %v", k, doc[k])
		}
	}
	if claims, _ := doc["claims_supported"].([]any); len(claims) != len(claimNames) {
		t.Errorf("claims_supported = %v", doc["claims_supported"])
	}
	j := e.get(testIssuerDir + "/.well-known/jwks.json")
	if j.status != http.StatusOK || j.header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("jwks: %d %v", j.status, j.header)
	}
	if got := e.get("/.well-known/openid-configuration"); got.status != http.StatusNotFound || got.errorResponse(t).Code != CodeNotFound {
		t.Errorf("discovery outside the issuer path: %d %s", got.status, got.body)
	}
	for _, p := range []string{"/", testIssuerDir} {
		s := e.get(p)
		var svc map[string]string
		if err := json.Unmarshal(s.body, &svc); err != nil || s.status != http.StatusOK || svc["service"] != "credd-bridge" || svc["issuer"] != e.issuer() {
			t.Errorf("GET %s = %d %s", p, s.status, s.body)
		}
	}
}

func TestWrongMethodsAre405WithAllow(t *testing.T) {
	e := newEnv(t, nil)
	get, _ := http.NewRequest(http.MethodGet, e.issuer()+"/token", nil)
	r := e.do(get)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" || r.errorResponse(t).Code != CodeMethodNotAllowed {
		t.Errorf("GET /token = %d %v %s", r.status, r.header, r.body)
	}
	post, _ := http.NewRequest(http.MethodPost, e.issuer()+"/.well-known/jwks.json", nil)
	r = e.do(post)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST jwks = %d %v", r.status, r.header)
	}
	if len(e.gh.Calls()) != 0 {
		t.Errorf("GitHub calls: %v", e.gh.Calls())
	}
}

// After a rotation the previous key stays in the JWKS under its own kid,
// and tokens are signed with the current key.
func TestRotationPublishesPreviousKeysAndSignsWithTheCurrent(t *testing.T) {
	old := &testOtherKey().PublicKey
	e := newEnv(t, func(c *Config) { c.PreviousKeys = append(c.PreviousKeys, old, &testKey().PublicKey) })
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(e.get(testIssuerDir+"/.well-known/jwks.json").body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k["kid"].(string))
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["n"] == nil || k["e"] == nil || k["d"] != nil {
			t.Errorf("key %v", k)
		}
	}
	current := KeyID(&testKey().PublicKey)
	if want := []string{current, KeyID(old)}; !reflect.DeepEqual(kids, want) {
		t.Errorf("kids = %v, want %v (current first, duplicates once)", kids, want)
	}
	if kid := jwtHeader(t, e.post(octoToken, repoReq(defaultRepo)).tokenResponse(t).Token)["kid"]; kid != current {
		t.Errorf("signed with kid %v, want %v", kid, current)
	}
}

// failingSigner fails, or signs with a key other than the one it publishes.
type failingSigner struct {
	Signer
	wrongKey *FileSigner
}

func (f failingSigner) Sign(ctx context.Context, in []byte) ([]byte, error) {
	if f.wrongKey != nil {
		return f.wrongKey.Sign(ctx, in)
	}
	return nil, errFailingSigner
}

var errFailingSigner = &signError{"KMS: AccessDenied for key arn:aws:kms:secret-key-detail"}

type signError struct{ s string }

func (e *signError) Error() string { return e.s }

func TestSignerFailuresAre502WithoutDetails(t *testing.T) {
	other, err := NewFileSigner(testOtherKey())
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]failingSigner{
		"signer error":    {Signer: mustSigner(t)},
		"wrong key signs": {Signer: mustSigner(t), wrongKey: other},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Signer = s })
			r := e.post(octoToken, repoReq(defaultRepo))
			if r.status != http.StatusBadGateway || r.errorResponse(t).Code != CodeSigningFailed {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if strings.Contains(string(r.body), "secret-key-detail") || strings.Contains(string(r.body), s.KeyID()) {
				t.Errorf("the answer tells about the key: %s", r.body)
			}
		})
	}
}

func mustSigner(t *testing.T) *FileSigner {
	t.Helper()
	s, err := NewFileSigner(testKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
