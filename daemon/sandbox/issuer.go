package sandbox

import (
	"cmp"
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
	jose "github.com/go-jose/go-jose/v4"
)

// Defaults of IssuerOptions and of the tokens an Issuer mints.
const (
	DefaultSubject       = "repo:credd-dev/demo:ref:refs/heads/main"
	DefaultTokenLifetime = 10 * time.Minute
	// DefaultAudience is the audience AWS expects and the default role trusts.
	DefaultAudience = "sts.amazonaws.com"
	// GitHubDefaultAudience is what GitHub puts in "aud" when the caller
	// asks for no audience: the URL of the repository owner.
	GitHubDefaultAudience = "https://github.com/credd-dev"
)

// IssuerOptions configure an Issuer. Zero values mean the documented defaults.
type IssuerOptions struct {
	Clock  clock.Clock  // nil = clock.Real{}
	Logger *slog.Logger // nil = discard
	// TokenLifetime is the span between "iat" and "exp"; 0 = 10m.
	TokenLifetime time.Duration
	// Subject is the "sub" claim; "" = DefaultSubject.
	Subject string
	// URL is the issuer URL when it is known up front; Start sets it once
	// the listener is bound. Mint fails while it is empty.
	URL string
	// Algorithm signs the tokens: one of the JWS algorithms STS accepts
	// (RS256, RS384, RS512, ES256, ES384, ES512); "" = RS256, as GitHub.
	Algorithm jose.SignatureAlgorithm
}

// Issuer is an OIDC issuer that mints GitHub-Actions-shaped ID tokens signed
// with a key made at construction (RS256 unless IssuerOptions.Algorithm
// says otherwise). It is safe for concurrent use.
type Issuer struct {
	clock        clock.Clock
	log          *slog.Logger
	lifetime     time.Duration
	subject      string
	alg          jose.SignatureAlgorithm
	public       jose.JSONWebKey
	signer       jose.Signer
	requestToken string

	mu  sync.RWMutex
	url string
}

// NewIssuer makes an issuer with a fresh key: 2048-bit RSA, or for ES*
// the algorithm's curve.
func NewIssuer(opts IssuerOptions) (*Issuer, error) {
	if opts.TokenLifetime < 0 {
		return nil, fmt.Errorf("sandbox: negative token lifetime %s", opts.TokenLifetime)
	}
	alg := cmp.Or(opts.Algorithm, jose.RS256)
	key, err := newSigningKey(alg)
	if err != nil {
		return nil, fmt.Errorf("sandbox: issuer key: %w", err)
	}
	public := jose.JSONWebKey{Key: key.Public(), Algorithm: string(alg), Use: "sig"}
	thumb, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sandbox: key thumbprint: %w", err)
	}
	public.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: public.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("sandbox: token signer: %w", err)
	}
	i := &Issuer{
		clock:        opts.Clock,
		log:          opts.Logger,
		lifetime:     opts.TokenLifetime,
		subject:      opts.Subject,
		alg:          alg,
		public:       public,
		signer:       signer,
		requestToken: randomString(40, alphaNum),
		url:          opts.URL,
	}
	if i.clock == nil {
		i.clock = clock.Real{}
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	i.log = i.log.With("component", "sandbox-issuer")
	if i.lifetime == 0 {
		i.lifetime = DefaultTokenLifetime
	}
	if i.subject == "" {
		i.subject = DefaultSubject
	}
	return i, nil
}

// SetURL sets the issuer URL, e.g. http://127.0.0.1:41234, used in "iss" and
// in the discovery document. It is kept as given: with a trailing slash the
// sandbox is an issuer like Auth0's (https://tenant.auth0.com/), whose IAM
// provider name keeps the slash.
func (i *Issuer) SetURL(u string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.url = u
}

// URL returns the issuer URL ("" until known).
func (i *Issuer) URL() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.url
}

// RequestToken is the bearer secret that GET /token requires, the sandbox's
// ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (i *Issuer) RequestToken() string { return i.requestToken }

// KeySet returns the issuer's public keys, as served at /.well-known/jwks.
func (i *Issuer) KeySet() *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{i.public}}
}

// Mint signs a token for audience ("" = GitHubDefaultAudience, as GitHub
// does). overrides replace or add claims; a nil value removes the claim, and a
// time.Time value becomes a unix time (for "exp", "iat", "nbf").
func (i *Issuer) Mint(audience string, overrides map[string]any) (string, error) {
	iss := i.URL()
	if iss == "" {
		return "", errors.New("sandbox: issuer URL not set: call SetURL or use Start")
	}
	if audience == "" {
		audience = GitHubDefaultAudience
	}
	claims := i.claims(iss, audience, i.clock.Now())
	for k, v := range overrides {
		switch v := v.(type) {
		case nil:
			delete(claims, k)
		case time.Time:
			claims[k] = v.Unix()
		default:
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sandbox: encode claims: %w", err)
	}
	obj, err := i.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sandbox: sign token: %w", err)
	}
	return obj.CompactSerialize()
}

// claims are those of a GitHub Actions token for a push to main of
// credd-dev/demo; "environment" is absent as it is for jobs without one.
func (i *Issuer) claims(iss, audience string, now time.Time) map[string]any {
	const repo = "credd-dev/demo"
	return map[string]any{
		"iss":                   iss,
		"sub":                   i.subject,
		"aud":                   audience,
		"exp":                   now.Add(i.lifetime).Unix(),
		"iat":                   now.Unix(),
		"nbf":                   now.Unix(),
		"jti":                   newUUID(),
		"repository":            repo,
		"repository_owner":      "credd-dev",
		"repository_id":         "100000001",
		"repository_owner_id":   "100000000",
		"repository_visibility": "private",
		"actor":                 "octocat",
		"actor_id":              "583231",
		"ref":                   "refs/heads/main",
		"ref_type":              "branch",
		"workflow":              "demo",
		"workflow_ref":          repo + "/.github/workflows/demo.yml@refs/heads/main",
		"event_name":            "push",
		"run_id":                "1000000001",
		"run_number":            "1",
		"run_attempt":           "1",
		"sha":                   "0123456789abcdef0123456789abcdef01234567",
		"job_workflow_ref":      repo + "/.github/workflows/demo.yml@refs/heads/main",
		"runner_environment":    "github-hosted",
	}
}

// Handler serves discovery, the JWKS and the Actions-style token endpoint.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /.well-known/jwks", i.serveJWKS)
	mux.HandleFunc("GET /token", i.serveToken)
	return mux
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	iss := i.URL()
	if iss == "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "issuer URL not set yet"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": iss,
		// OpenID Connect Discovery 1.0 section 4: a terminating "/" of the
		// issuer is removed before a path is appended.
		"jwks_uri":                              strings.TrimSuffix(iss, "/") + "/.well-known/jwks",
		"subject_types_supported":               []string{"public", "pairwise"},
		"response_types_supported":              []string{"id_token"},
		"id_token_signing_alg_values_supported": []string{string(i.alg)},
		"scopes_supported":                      []string{"openid"},
		"claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha",
			"repository", "repository_id", "repository_owner", "repository_owner_id", "run_id",
			"run_number", "run_attempt", "actor", "actor_id", "workflow", "workflow_ref",
			"event_name", "ref_type", "environment", "job_workflow_ref", "repository_visibility",
			"runner_environment"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, i.KeySet())
}

// serveToken is GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: clients append
// "&audience=X", so the last audience parameter wins.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	scheme, bearer, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(bearer)), []byte(i.requestToken)) != 1 {
		i.log.Info("token request refused", "reason", "missing or wrong bearer")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	var audience string
	if all := r.URL.Query()["audience"]; len(all) > 0 {
		audience = all[len(all)-1]
	}
	token, err := i.Mint(audience, nil)
	if err != nil {
		i.log.Error("mint token", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "cannot mint token"})
		return
	}
	i.log.Info("token issued", "aud", audience, "sub", i.subject)
	writeJSON(w, http.StatusOK, map[string]any{"count": len(token), "value": token})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

const (
	alphaNum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperAlphaNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// randomString returns n characters drawn uniformly from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	for j := range b {
		b[j] = alphabet[randomIndex(len(alphabet))]
	}
	return string(b)
}

// randomIndex draws from [0,n) without modulo bias, n ≤ 256.
func randomIndex(n int) int {
	limit := 256 - 256%n
	var one [1]byte
	for {
		_, _ = rand.Read(one[:]) // never fails (crypto/rand docs)
		if int(one[0]) < limit {
			return int(one[0]) % n
		}
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
