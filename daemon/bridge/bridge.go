// Package bridge is credd-bridge's core: a small stateless OIDC issuer that
// turns proof of a GitHub identity (a GitHub user token) into a short-lived
// RS256 JWT that AWS STS AssumeRoleWithWebIdentity accepts.
package bridge

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Bridge serves discovery, the JWKS and the token endpoint. It keeps no state
// but a short cache of GitHub's answers and the per-user rate limits, so
// several instances may run side by side. It is safe for concurrent use.
type Bridge struct {
	cfg     Config
	base    string // the issuer URL's path, "" for the root
	allow   []allowRule
	github  *githubClient
	cache   *answerCache
	limiter *userLimiter
	log     *slog.Logger

	// Static documents, encoded once.
	discovery, jwks, service []byte
}

// New validates c, fills its defaults and makes a Bridge.
func New(c Config) (*Bridge, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	u, err := url.Parse(c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("--issuer: %w", err)
	}
	b := &Bridge{
		cfg:  c,
		base: strings.TrimSuffix(u.Path, "/"),
		github: &githubClient{
			base:         c.GitHubAPI,
			userAgent:    "credd-bridge/" + c.Version,
			http:         c.HTTPClient,
			clock:        c.Clock,
			clientID:     c.AppClientID,
			clientSecret: c.AppClientSecret,
		},
		cache:   newAnswerCache(c.CacheTTL, maxCacheEntries),
		limiter: newUserLimiter(c.UserRequestsPerMinute, maxBuckets),
		log:     c.Logger.With("component", "bridge"),
	}
	for _, a := range c.Allow {
		rule, _ := parseAllowRule(a) // Validate checked it
		b.allow = append(b.allow, rule)
	}
	if b.discovery, err = json.Marshal(b.discoveryDocument()); err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	if b.jwks, err = json.Marshal(b.keySet()); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if b.service, err = json.Marshal(map[string]string{"service": "credd-bridge", "issuer": c.Issuer}); err != nil {
		return nil, err
	}
	return b, nil
}

// Issuer is the issuer URL, the tokens' "iss".
func (b *Bridge) Issuer() string { return b.cfg.Issuer }

// discoveryDocument follows OpenID Connect Discovery 1.0 section 3, with
// what AWS IAM reads of it: issuer and jwks_uri
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html).
func (b *Bridge) discoveryDocument() map[string]any {
	return map[string]any{
		"issuer":                                b.cfg.Issuer,
		"jwks_uri":                              b.cfg.Issuer + jwksPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claims_supported":                      claimNames,
	}
}

// keySet publishes the signing key first, then the previous keys, once each.
func (b *Bridge) keySet() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	seen := map[string]bool{}
	for _, pub := range append([]*rsa.PublicKey{b.cfg.Signer.Public()}, b.cfg.PreviousKeys...) {
		kid := KeyID(pub)
		if seen[kid] {
			continue
		}
		seen[kid] = true
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	return set
}
