package githubapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// app is an OAuth app or GitHub App known by its client ID. Only the hash
// of its client secret is kept.
type app struct {
	clientID   string
	secretHash [32]byte
	expiring   bool // a GitHub App with expiring user tokens (ghu_ + ghr_); else an OAuth app (gho_)
	deviceFlow bool
}

func (a *app) slug() string { return "sandbox-" + strings.ToLower(a.clientID) }
func (a *app) name() string { return "Sandbox app " + a.clientID }

func (a *app) secretMatches(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], a.secretHash[:]) == 1
}

// AddApp registers an app. With expiringTokens it is a GitHub App whose
// user tokens expire (the device flow gives ghu_ tokens for 8 hours and
// ghr_ refresh tokens); without, an OAuth app (gho_ tokens that do not
// expire). Device flow is enabled. Adding it again replaces it.
func (s *Server) AddApp(clientID, clientSecret string, expiringTokens bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[clientID] = &app{
		clientID:   clientID,
		secretHash: sha256.Sum256([]byte(clientSecret)),
		expiring:   expiringTokens,
		deviceFlow: true,
	}
}

// DisableDeviceFlow turns off the device flow of an app added with AddApp,
// as unticking "Enable Device Flow" in its settings does.
func (s *Server) DisableDeviceFlow(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[clientID]; ok {
		a.deviceFlow = false
	}
}

// handleCheckToken answers POST /applications/{client_id}/token, "Check a
// token" (https://docs.github.com/en/rest/apps/oauth-applications#check-a-token):
// basic auth with the app's client ID and secret, body {"access_token": T};
// 200 with an authorization when the app issued T and T is still good, 404
// otherwise, 422 without a token, 401 for wrong client credentials.
func (s *Server) handleCheckToken(w http.ResponseWriter, r *http.Request, st site, clientID string) {
	id, secret, hasBasic := r.BasicAuth()
	s.mu.Lock()
	a, known := s.apps[clientID]
	s.mu.Unlock()
	if !hasBasic || !known || id != clientID || !a.secretMatches(secret) {
		s.anonymousHeaders(w, r)
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsRoot)
		return
	}
	if !s.spend(w, "app:"+clientID, userLimit, "app "+clientID) {
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || json.Unmarshal(raw, &body) != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docsCheckToken)
		return
	}
	if body.AccessToken == "" {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"access_token\" wasn't supplied.", docsCheckToken)
		return
	}
	s.mu.Lock()
	rec, ok := s.lookupLocked(body.AccessToken)
	var answer authorization
	if ok && rec.clientID == clientID {
		answer = newAuthorization(st, rec, a, body.AccessToken)
	}
	s.mu.Unlock()
	if !ok || rec.clientID != clientID {
		writeError(w, http.StatusNotFound, "Not Found", docsCheckToken)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}
