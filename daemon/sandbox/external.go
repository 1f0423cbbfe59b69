package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// externalIssuers verifies tokens of OIDC providers outside the sandbox
// (a real IdP in tests of the device login) with their published keys,
// found through discovery and fetched with go-oidc's RemoteKeySet, as AWS
// does for a registered IAM OIDC provider.
type externalIssuers struct {
	urls []string

	mu   sync.Mutex
	keys map[string]*oidc.RemoteKeySet
}

func newExternalIssuers(urls []string) *externalIssuers {
	e := &externalIssuers{keys: map[string]*oidc.RemoteKeySet{}}
	for _, u := range urls {
		e.urls = append(e.urls, strings.TrimSuffix(u, "/"))
	}
	return e
}

func (e *externalIssuers) trusts(iss string) bool {
	return slices.Contains(e.urls, strings.TrimSuffix(iss, "/"))
}

// verify checks the token's signature with the issuer's keys. An issuer
// that cannot be reached gives an error, which the caller reports as
// IDPCommunicationError.
func (e *externalIssuers) verify(iss, token string) (ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ks, err := e.keySet(ctx, iss)
	if err != nil {
		return false, err
	}
	if _, err := ks.VerifySignature(ctx, token); err != nil {
		return false, nil
	}
	return true, nil
}

func (e *externalIssuers) keySet(ctx context.Context, iss string) (*oidc.RemoteKeySet, error) {
	e.mu.Lock()
	ks := e.keys[iss]
	e.mu.Unlock()
	if ks != nil {
		return ks, nil
	}
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
	ks = oidc.NewRemoteKeySet(context.Background(), doc.JWKSURL)
	e.mu.Lock()
	e.keys[iss] = ks
	e.mu.Unlock()
	return ks, nil
}
