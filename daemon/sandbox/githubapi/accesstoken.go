package githubapi

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"time"
)

// Lifetimes of a GitHub App's expiring user tokens: 8 hours for the access
// token, 6 months (15,811,200 s) for the refresh token
// (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens).
const (
	userTokenLifetime    = 8 * time.Hour
	refreshTokenLifetime = 15811200 * time.Second
)

type refreshRecord struct {
	clientID string
	user     *account
	expires  time.Time
	used     bool
	access   [32]byte // the access token issued with it, dead once this is used
}

// handleAccessToken answers POST /login/oauth/access_token for the device
// grant and for refresh_token; every OAuth error is HTTP 200, as GitHub's.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	s.anonymousHeaders(w, r)
	if err := parseForm(r); err != nil {
		writeOAuthError(w, r, http.StatusOK, errUnsupportedGrantType)
		return
	}
	clientID, secret := clientCredentials(r)
	var answer []oauthField
	s.mu.Lock()
	switch r.PostForm.Get("grant_type") {
	case deviceGrantType:
		answer = s.pollLocked(clientID, secret, r.PostForm.Get("device_code"))
	case "refresh_token":
		answer = s.refreshLocked(clientID, secret, r.PostForm.Get("refresh_token"))
	default:
		answer = errUnsupportedGrantType.fields()
	}
	s.mu.Unlock()
	writeOAuth(w, r, http.StatusOK, answer)
}

// pollLocked is one poll of the device flow. Callers hold s.mu.
func (s *Server) pollLocked(clientID, secret, deviceCode string) []oauthField {
	a, ok := s.apps[clientID]
	switch {
	case !ok || (secret != "" && !a.secretMatches(secret)): // the device flow needs no secret, but a wrong one is wrong
		return errClientCredentials.fields()
	case !a.deviceFlow:
		return errDeviceFlowDisabled.fields()
	}
	g, ok := s.devices[sha256.Sum256([]byte(deviceCode))]
	if !ok || g.app != a || g.state == deviceRedeemed {
		return errIncorrectDeviceCode.fields()
	}
	now := s.clock.Now()
	if !now.Before(g.expires) {
		return errExpiredToken.fields()
	}
	tooSoon := !g.lastPoll.IsZero() && now.Sub(g.lastPoll) < time.Duration(g.interval)*time.Second
	g.lastPoll = now
	if tooSoon {
		// "5 extra seconds are added to the minimum interval ... The error
		// response includes the new interval that you must use."
		g.interval += slowDownStep
		return errSlowDown.fields(oauthField{"interval", g.interval})
	}
	switch g.state {
	case deviceDenied:
		return errAccessDenied.fields()
	case deviceApproved:
		g.state = deviceRedeemed
		return s.grantLocked(g.app, g.user, g.scope)
	}
	return errAuthorizationPending.fields()
}

// refreshLocked trades a refresh token for a new pair; both old tokens stop
// working ("Once you use a refresh token, that refresh token and the old
// user access token will no longer work"). Callers hold s.mu.
func (s *Server) refreshLocked(clientID, secret, refreshToken string) []oauthField {
	a, ok := s.apps[clientID]
	if !ok || !a.secretMatches(secret) {
		return errClientCredentials.fields()
	}
	rt, ok := s.refreshTokens[sha256.Sum256([]byte(refreshToken))]
	if !ok || rt.used || rt.clientID != clientID || !s.clock.Now().Before(rt.expires) {
		return errBadRefreshToken.fields()
	}
	rt.used = true
	if old, ok := s.tokens[rt.access]; ok {
		old.revoked = true
	}
	return s.grantLocked(a, rt.user, "")
}

// grantLocked mints the tokens the app hands a user: for an app with
// expiring tokens a ghu_ token for 8 hours and a ghr_ refresh token, scope
// "" (GitHub Apps have permissions, not scopes); for an OAuth app a gho_
// token that does not expire, with the requested scope. Callers hold s.mu.
func (s *Server) grantLocked(a *app, u *account, scope string) []oauthField {
	if !a.expiring {
		scopes := strings.FieldsFunc(scope, func(r rune) bool { return r == ' ' || r == ',' })
		token, _ := s.mintLocked(kindOAuthApp, u, a.clientID, scopes, 0)
		return []oauthField{{"access_token", token}, {"token_type", "bearer"}, {"scope", strings.Join(scopes, ",")}}
	}
	token, _ := s.mintLocked(kindAppUser, u, a.clientID, nil, userTokenLifetime)
	refresh := newRefreshString()
	s.refreshTokens[sha256.Sum256([]byte(refresh))] = &refreshRecord{
		clientID: a.clientID,
		user:     u,
		expires:  s.clock.Now().Add(refreshTokenLifetime),
		access:   sha256.Sum256([]byte(token)),
	}
	return []oauthField{
		{"access_token", token},
		{"expires_in", int(userTokenLifetime.Seconds())},
		{"refresh_token", refresh},
		{"refresh_token_expires_in", int(refreshTokenLifetime.Seconds())},
		{"scope", ""},
		{"token_type", "bearer"},
	}
}
