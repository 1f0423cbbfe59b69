package githubapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// tokenKind is a kind name of the contract; its prefix is GitHub's
// (https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/).
type tokenKind string

const (
	kindAppUser         tokenKind = "app-user"
	kindOAuthApp        tokenKind = "oauth-app"
	kindClassicPAT      tokenKind = "classic-pat"
	kindFineGrainedPAT  tokenKind = "fine-grained-pat"
	kindAppInstallation tokenKind = "app-installation"
)

var tokenPrefixes = map[tokenKind]string{
	kindAppUser:         "ghu_",
	kindOAuthApp:        "gho_",
	kindClassicPAT:      "ghp_",
	kindFineGrainedPAT:  "github_pat_",
	kindAppInstallation: "ghs_",
}

// refreshPrefix marks a GitHub App's refresh token (ghr_, same blog post).
const refreshPrefix = "ghr_"

type tokenRecord struct {
	id        int64
	kind      tokenKind
	user      *account // nil for an installation token
	clientID  string   // the app that issued it; "" for PATs
	scopes    []string
	created   time.Time
	expires   time.Time // zero = never
	revoked   bool
	lastEight string // what check-token returns besides the hash
	hashHex   string // check-token's hashed_token
}

func (t *tokenRecord) valid(now time.Time) bool {
	return !t.revoked && (t.expires.IsZero() || now.Before(t.expires))
}

// IssueToken mints a token for a user: kind is one of "app-user" (ghu_),
// "oauth-app" (gho_), "classic-pat" (ghp_), "fine-grained-pat"
// (github_pat_), "app-installation" (ghs_); appClientID is the app it
// belongs to ("" for PATs); lifetime 0 = no expiry. Tokens look like
// GitHub's (prefix + 36 base62 chars, fine-grained: github_pat_ + 82
// chars). The user is added if unknown; an installation token has no user
// and ignores login. It panics on an unknown kind.
func (s *Server) IssueToken(login, kind, appClientID string, lifetime time.Duration) string {
	k := tokenKind(kind)
	if _, ok := tokenPrefixes[k]; !ok {
		panic(fmt.Sprintf("githubapi: IssueToken: kind %q is not one of app-user, oauth-app, classic-pat, fine-grained-pat, app-installation", kind))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *account
	if k != kindAppInstallation {
		u = s.ensureAccount(login, typeUser)
	}
	token, _ := s.mintLocked(k, u, appClientID, nil, lifetime)
	return token
}

// mintLocked makes and records a token. Callers hold s.mu.
func (s *Server) mintLocked(k tokenKind, u *account, clientID string, scopes []string, lifetime time.Duration) (string, *tokenRecord) {
	token := newTokenString(k)
	sum := sha256.Sum256([]byte(token))
	now := s.clock.Now().UTC().Truncate(time.Second)
	rec := &tokenRecord{
		id:        s.nextID(),
		kind:      k,
		user:      u,
		clientID:  clientID,
		scopes:    scopes,
		created:   now,
		lastEight: token[len(token)-8:],
		hashHex:   hex.EncodeToString(sum[:]),
	}
	if lifetime > 0 {
		rec.expires = now.Add(lifetime)
	}
	s.tokens[sum] = rec
	return token, rec
}

// Revoke makes token unusable at once, as revoking an authorization on
// GitHub does. Unknown tokens are ignored.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.tokens[sha256.Sum256([]byte(token))]; ok {
		rec.revoked = true
	}
}

// lookupLocked returns the record of a usable token. Callers hold s.mu.
func (s *Server) lookupLocked(token string) (*tokenRecord, bool) {
	rec, ok := s.tokens[sha256.Sum256([]byte(token))]
	if !ok || !rec.valid(s.clock.Now()) {
		return nil, false
	}
	return rec, true
}

// bearerToken reads "Authorization: Bearer T" or "token T", both of which
// GitHub accepts (https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api).
func bearerToken(r *http.Request) (token string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return strings.TrimSpace(rest), true
	}
	return "", true // present but not a token: GitHub says "Bad credentials"
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newTokenString makes a token in GitHub's format: the prefix, 30 random
// base62 characters and a 6-character CRC32 checksum (36 in all); a
// fine-grained PAT is github_pat_ + 22 + "_" + 59 characters. The
// checksum's exact encoding is ours; GitHub documents only that there is one.
func newTokenString(k tokenKind) string {
	if k == kindFineGrainedPAT {
		return tokenPrefixes[k] + randomString(22, base62) + "_" + randomString(59, base62)
	}
	return tokenPrefixes[k] + withChecksum(randomString(30, base62))
}

func newRefreshString() string { return refreshPrefix + randomString(76, base62) }

func withChecksum(random string) string {
	sum := big.NewInt(int64(crc32.ChecksumIEEE([]byte(random)))).Text(62)
	sum = strings.Repeat("0", 6-len(sum)) + sum
	return random + sum
}

// randomString draws n characters uniformly from alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}
