package login

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/credd-dev/credd/daemon/clock"
)

// fakeIdP imitates an OIDC provider's device and refresh grants, as far as
// a Session uses them:
//   - discovery and JWKS: OpenID Connect Discovery 1.0 §3, §4;
//   - device authorization: RFC 8628 §3.2 (it approves every code at once,
//     so the first poll, RFC 8628 §3.4, gets the tokens);
//   - refresh: RFC 6749 §6, answering an unknown or revoked refresh token
//     with 400 invalid_grant (§5.2); with rotation on, the old token is
//     revoked as it is used (OAuth 2.0 Security BCP, RFC 9700 §4.14.2);
//     the answer carries a new ID token unless told to leave it out, which
//     OpenID Connect Core 1.0 §12.2 allows ("except that it might not
//     contain an id_token").
//
// ID tokens are signed RS256 and dated by the test's fake clock.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server
	clk *clock.Fake
	key *rsa.PrivateKey

	mu       sync.Mutex
	valid    map[string]bool // refresh tokens the IdP honours
	rotate   bool
	noIDTok  bool     // refresh answers carry no id_token
	down     bool     // answer 503 to token requests
	grants   []string // grant_type of every token request
	refreshN int
}

func newFakeIdP(t *testing.T, clk *clock.Fake) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeIdP{t: t, clk: clk, key: key, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("POST /device", p.device)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIdP) URL() string { return p.srv.URL }

// issue makes a refresh token the IdP honours, as a past login would have.
func (p *fakeIdP) issue() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshN++
	rt := fmt.Sprintf("rt-%d-%s", p.refreshN, rand.Text())
	p.valid[rt] = true
	return rt
}

func (p *fakeIdP) revokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.valid)
}

func (p *fakeIdP) setDown(down bool) { p.mu.Lock(); p.down = down; p.mu.Unlock() }
func (p *fakeIdP) setRotate(on bool) { p.mu.Lock(); p.rotate = on; p.mu.Unlock() }

// setNoIDTokenOnRefresh makes refresh answers leave out the id_token.
func (p *fakeIdP) setNoIDTokenOnRefresh(on bool) { p.mu.Lock(); p.noIDTok = on; p.mu.Unlock() }

func (p *fakeIdP) grantTypes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.grants...)
}

func (p *fakeIdP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer":                                p.URL(),
		"token_endpoint":                        p.URL() + "/token",
		"device_authorization_endpoint":         p.URL() + "/device",
		"jwks_uri":                              p.URL() + "/jwks",
		"authorization_endpoint":                p.URL() + "/authorize",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (p *fakeIdP) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (p *fakeIdP) device(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{
		"device_code": "dc-1", "user_code": "ABCD-EFGH",
		"verification_uri": p.URL() + "/activate", "expires_in": 600, "interval": 1,
	})
}

func (p *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p.mu.Lock()
	defer p.mu.Unlock()
	gt := r.PostForm.Get("grant_type")
	p.grants = append(p.grants, gt)
	if p.down {
		writeJSON(w, 503, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	if r.PostForm.Get("client_id") != "credd" {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	switch gt {
	case "urn:ietf:params:oauth:grant-type:device_code":
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !p.valid[rt] {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "grant request is invalid"})
			return
		}
		if !p.rotate {
			writeJSON(w, 200, p.refreshed(p.tokens(rt)))
			return
		}
		delete(p.valid, rt)
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	p.refreshN++
	rt := fmt.Sprintf("rt-%d-%s", p.refreshN, rand.Text())
	p.valid[rt] = true
	if gt == "refresh_token" {
		writeJSON(w, 200, p.refreshed(p.tokens(rt)))
		return
	}
	writeJSON(w, 200, p.tokens(rt))
}

// refreshed is a refresh grant's answer; called with p.mu held.
func (p *fakeIdP) refreshed(resp map[string]any) map[string]any {
	if p.noIDTok {
		delete(resp, "id_token")
	}
	return resp
}

// tokens is a token response; called with p.mu held.
func (p *fakeIdP) tokens(rt string) map[string]any {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		p.t.Error(err)
	}
	now := p.clk.Now()
	idt, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: p.URL(), Subject: "alice", Audience: jwt.Audience{"credd"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
	if err != nil {
		p.t.Error(err)
	}
	return map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": idt, "refresh_token": rt}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
