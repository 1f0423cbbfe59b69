package githubapi

import "net/http"

// handleUser answers GET /user, "Get the authenticated user"
// (https://docs.github.com/en/rest/users/users#get-the-authenticated-user).
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request, st site) {
	rec, token, ok := s.authenticate(w, r, true)
	if !ok {
		return
	}
	if !s.spend(w, tokenBucketKey(token), userLimit, rateSubject(rec)) {
		return
	}
	if rec.user == nil {
		// An installation token acts as the app, not as a user.
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsGetUser)
		return
	}
	s.mu.Lock()
	body := s.newPrivateUser(st, rec.user)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// authenticate reads the request's token. A token that is present but
// unknown, revoked or expired gets GitHub's 401 "Bad credentials"; no token
// gets 401 "Requires authentication" when required, and (nil, "", true)
// otherwise. On false the answer has been written.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, required bool) (*tokenRecord, string, bool) {
	token, present := bearerToken(r)
	if !present && !required {
		return nil, "", true
	}
	if !present {
		s.anonymousHeaders(w, r)
		writeError(w, http.StatusUnauthorized, "Requires authentication", docsGetUser)
		return nil, "", false
	}
	s.mu.Lock()
	rec, ok := s.lookupLocked(token)
	s.mu.Unlock()
	if !ok {
		s.anonymousHeaders(w, r)
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsRoot)
		return nil, "", false
	}
	return rec, token, true
}
