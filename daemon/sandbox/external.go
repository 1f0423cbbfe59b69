package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// externalIssuers verifies tokens of OIDC providers outside the sandbox
// (a real IdP in tests of the device login) with their published keys,
// found through discovery, as AWS does for a registered IAM OIDC provider.
type externalIssuers struct {
	urls []string
	log  *slog.Logger

	mu   sync.Mutex
	keys map[string]*jose.JSONWebKeySet // by issuer, as last fetched
}

func newExternalIssuers(urls []string, log *slog.Logger) *externalIssuers {
	e := &externalIssuers{log: log, keys: map[string]*jose.JSONWebKeySet{}}
	e.urls = slices.Clone(urls)
	return e
}

// trusts reports whether an IAM OIDC provider exists for iss. IAM finds the
// provider by the token's iss exactly, trailing slash included: Auth0's
// https://tenant.auth0.com/ needs the provider tenant.auth0.com/.
func (e *externalIssuers) trusts(iss string) bool {
	return slices.Contains(e.urls, iss)
}

// verify checks the token's signature with the issuer's keys. Keys that
// cannot be fetched, or none for the token's kid even after fetching them
// again (the IdP may have rotated its keys), are answered as STS answers
// both: InvalidIdentityToken "Couldn't retrieve verification key…"
// (aws/aws-cli#7194; radkawar/stackd
// internal/services/sts/testdata/oidc/aws.json, unknown-key-id), not
// IDPCommunicationError.
func (e *externalIssuers) verify(iss string, jws *jose.JSONWebSignature) *apiError {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.mu.Lock()
	set := e.keys[iss]
	e.mu.Unlock()
	if set != nil {
		if c := checkSignature(jws, set); c != signatureNoKey {
			return signatureError(c)
		}
	}
	set, err := fetchKeys(ctx, iss)
	if err != nil {
		e.log.Info("external issuer's keys unreachable", "issuer", iss, "err", err)
		return errVerificationKey
	}
	e.mu.Lock()
	e.keys[iss] = set
	e.mu.Unlock()
	return signatureError(checkSignature(jws, set))
}

// maxJWKSBytes bounds a JWKS download.
const maxJWKSBytes = 1 << 20

// fetchKeys reads the issuer's discovery document, which must name the
// issuer exactly (OpenID Connect Discovery 1.0 §4.3, checked by go-oidc),
// and the JWKS its jwks_uri points at.
func fetchKeys(ctx context.Context, iss string) (*jose.JSONWebKeySet, error) {
	p, err := oidc.NewProvider(ctx, iss)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", iss, err)
	}
	var doc struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURL == "" {
		return nil, fmt.Errorf("discover %s: no jwks_uri", iss)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", doc.JWKSURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", doc.JWKSURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks %s: %s", doc.JWKSURL, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks %s: %w", doc.JWKSURL, err)
	}
	return &set, nil
}
