package bridge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxRequestBody bounds POST /token's body; the real one is tens of bytes.
const maxRequestBody = 64 << 10

// maxBearerLen bounds the bearer token; GitHub's are well under 300
// characters.
const maxBearerLen = 2048

// attempt is what is known of a token request so far, for the audit log.
type attempt struct {
	remote     string
	repository string // once its syntax is checked
	kind       string
	user       githubUser
}

// serveToken is POST {issuer}/token: the cheap refusals come first, so a
// request that cannot succeed costs no GitHub call.
func (b *Bridge) serveToken(w http.ResponseWriter, r *http.Request) {
	at := &attempt{remote: r.RemoteAddr}
	resp, claims, ref := b.mint(w, r, at)
	if ref != nil {
		b.logRefusal(r.Context(), at, ref)
		writeError(w, ref)
		return
	}
	b.log.Info("token minted",
		"user", claims.Actor, "user_id", claims.ActorID, "repository", claims.Repository,
		"permission", claims.RepositoryPermission, "audience", claims.Audience, "jti", claims.ID,
		"expires_at", resp.ExpiresAt.Format(time.RFC3339), "token_kind", claims.TokenKind,
		"remote", at.remote)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (b *Bridge) mint(w http.ResponseWriter, r *http.Request, at *attempt) (TokenResponse, claims, *refusal) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return TokenResponse{}, claims{}, refuse(CodeMethodNotAllowed, "use POST with a JSON body {\"repository\": \"OWNER/REPO\"} and Authorization: Bearer GITHUB-TOKEN")
	}
	req, ref := readTokenRequest(w, r)
	if ref != nil {
		return TokenResponse{}, claims{}, ref
	}
	token, ref := bearerToken(r)
	if ref != nil {
		return TokenResponse{}, claims{}, ref
	}
	at.kind = TokenKind(token)
	if ref := b.checkKind(at.kind); ref != nil {
		return TokenResponse{}, claims{}, ref
	}
	audience := req.Audience
	if audience == "" {
		audience = b.cfg.Audiences[0]
	}
	if !slices.Contains(b.cfg.Audiences, audience) {
		return TokenResponse{}, claims{}, refuse(CodeAudienceNotAllowed,
			"the bridge does not issue tokens for audience %q; allowed: %s", shorten(audience), strings.Join(b.cfg.Audiences, ", "))
	}
	owner, name, err := splitRepository(req.Repository)
	if err != nil {
		return TokenResponse{}, claims{}, refuse(CodeBadRequest, "%v", err)
	}
	at.repository = owner + "/" + name
	if ref := b.checkAllowed(owner, name); ref != nil {
		return TokenResponse{}, claims{}, ref
	}

	ctx := r.Context()
	key := tokenHash(token)
	user, ref := cached(b, cacheKey{token: key, what: "user"}, func() (githubUser, *refusal) {
		return b.github.user(ctx, token)
	})
	if ref != nil {
		return TokenResponse{}, claims{}, ref
	}
	at.user = user
	if ok, wait := b.limiter.allow(user.ID, b.cfg.Clock.Now()); !ok {
		return TokenResponse{}, claims{}, &refusal{code: CodeRateLimited,
			message:    "too many token requests for " + user.Login + "; try again later",
			retryAfter: wait}
	}
	if b.cfg.AppClientID != "" {
		ours, ref := cached(b, cacheKey{token: key, what: "check-token"}, func() (bool, *refusal) {
			return b.github.checkToken(ctx, token)
		})
		if ref != nil {
			return TokenResponse{}, claims{}, ref
		}
		if !ours {
			return TokenResponse{}, claims{}, refuse(CodeAppMismatch,
				"the token was not issued by this bridge's GitHub App; sign in with credd login using the app's client ID")
		}
	}
	repo, ref := cached(b, cacheKey{token: key, what: "repo:" + strings.ToLower(at.repository)}, func() (githubRepo, *refusal) {
		return b.github.repo(ctx, token, owner, name)
	})
	if ref != nil {
		return TokenResponse{}, claims{}, ref
	}
	at.repository = repo.FullName
	perm := highestPermission(repo.Permissions)
	if !PermissionAtLeast(perm, b.cfg.MinPermission) {
		return TokenResponse{}, claims{}, refuse(CodePermissionTooLow,
			"%s has %s on %s; the bridge requires %s", user.Login, perm, repo.FullName, b.cfg.MinPermission)
	}
	// GitHub's canonical name may differ from the request (a renamed or
	// transferred repository): the rules must hold for what goes in the token.
	canonOwner, canonName, _ := splitRepository(repo.FullName)
	if ref := b.checkAllowed(canonOwner, canonName); ref != nil {
		return TokenResponse{}, claims{}, ref.because("GitHub calls %s %s", req.Repository, repo.FullName)
	}

	now := b.cfg.Clock.Now()
	c, err := newClaims(b.cfg.Issuer, audience, identity{user: user, repo: repo, permission: perm, tokenKind: at.kind}, now, b.cfg.TokenLifetime)
	if err != nil {
		return TokenResponse{}, claims{}, refuse(CodeSigningFailed, "the bridge could not sign a token; try again").because("%v", err)
	}
	jwt, err := signJWT(ctx, b.cfg.Signer, c)
	if err != nil {
		return TokenResponse{}, claims{}, refuse(CodeSigningFailed, "the bridge could not sign a token; try again, or tell its operator").because("%v", err)
	}
	return TokenResponse{Token: jwt, ExpiresAt: time.Unix(c.Expiry, 0).UTC()}, c, nil
}

// cached returns the live cached answer for key, or asks GitHub and keeps
// the answer. Refusals (a 401, an outage) are not kept.
func cached[T any](b *Bridge, key cacheKey, ask func() (T, *refusal)) (T, *refusal) {
	if v, ok := b.cache.get(key, b.cfg.Clock.Now()); ok {
		return v.(T), nil
	}
	v, ref := ask()
	if ref == nil {
		b.cache.put(key, v, b.cfg.Clock.Now())
	}
	return v, ref
}

func readTokenRequest(w http.ResponseWriter, r *http.Request) (TokenRequest, *refusal) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return TokenRequest{}, refuse(CodeBadRequest, "the body is larger than %d KiB", maxRequestBody>>10)
	case err != nil:
		return TokenRequest{}, refuse(CodeBadRequest, "could not read the body").because("read body: %v", err)
	case len(bytes.TrimSpace(body)) == 0:
		return TokenRequest{}, refuse(CodeBadRequest, `send a JSON body {"repository": "OWNER/REPO", "audience": "sts.amazonaws.com"}`)
	}
	var req TokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return TokenRequest{}, refuse(CodeBadRequest, `the body is not JSON of the form {"repository": "OWNER/REPO", "audience": "sts.amazonaws.com"}`)
	}
	if dec.More() {
		return TokenRequest{}, refuse(CodeBadRequest, "the body has data after its JSON object")
	}
	if req.Repository == "" {
		return TokenRequest{}, refuse(CodeBadRequest, `the body names no "repository" (OWNER/REPO)`)
	}
	return req, nil
}

// bearerToken reads "Authorization: Bearer TOKEN". Its refusals never
// quote the header.
func bearerToken(r *http.Request) (string, *refusal) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", refuse(CodeBadRequest, "send the GitHub token as Authorization: Bearer TOKEN")
	}
	if len(token) > maxBearerLen || strings.IndexFunc(token, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
		return "", refuse(CodeBadRequest, "the bearer token is not a GitHub token (too long or has spaces or control characters)")
	}
	return token, nil
}

func (b *Bridge) checkKind(kind string) *refusal {
	switch {
	case kind == KindAppInstallation:
		return refuse(CodeTokenKindRefused,
			"the token is a GitHub App installation token (ghs_, such as GitHub Actions' GITHUB_TOKEN): it acts for no user, so the bridge cannot accept it; in Actions use GitHub's own OIDC tokens, elsewhere sign in with credd login")
	case slices.Contains(b.cfg.AcceptTokenKinds, kind):
		return nil
	case isPAT(kind):
		return refuse(CodeTokenKindRefused,
			"the token is a %s: personal access tokens are refused; sign in with credd login (a GitHub App user token), or ask the bridge's operator to add %s to --accept-token-kinds", kind, kind)
	default:
		return refuse(CodeTokenKindRefused,
			"the token is of kind %s, which this bridge does not accept (it accepts %s); sign in with credd login, or ask the bridge's operator to add %s to --accept-token-kinds",
			kind, strings.Join(b.cfg.AcceptTokenKinds, ", "), kind)
	}
}

func (b *Bridge) checkAllowed(owner, name string) *refusal {
	if allowed(b.allow, owner, name) {
		return nil
	}
	rules := make([]string, len(b.allow))
	for i, a := range b.allow {
		rules[i] = a.String()
	}
	return refuse(CodeOwnerNotAllowed, "%s/%s is not served by this bridge; its --allow rules are: %s", owner, name, strings.Join(rules, ", "))
}

func (b *Bridge) logRefusal(ctx context.Context, at *attempt, ref *refusal) {
	level := slog.LevelInfo
	if Status(ref.code) >= 500 {
		level = slog.LevelWarn
	}
	attrs := []any{"code", ref.code, "reason", cmp.Or(ref.reason, ref.message), "remote", at.remote}
	if at.repository != "" {
		attrs = append(attrs, "repository", at.repository)
	}
	if at.kind != "" {
		attrs = append(attrs, "token_kind", at.kind)
	}
	if at.user.Login != "" {
		attrs = append(attrs, "user", at.user.Login, "user_id", at.user.ID)
	}
	b.log.Log(ctx, level, "token refused", attrs...)
}

// shorten keeps caller input short in messages and logs.
func shorten(s string) string {
	const n = 100
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
