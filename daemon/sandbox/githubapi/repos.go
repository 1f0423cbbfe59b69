package githubapi

import (
	"net/http"
	"strings"
)

// handleRepo answers GET /repos/{owner}/{repo}, "Get a repository"
// (https://docs.github.com/en/rest/repos/repos#get-a-repository): the
// lookup ignores case and the answer spells names as created. A private
// repository the caller cannot see is 404, as if it did not exist.
func (s *Server) handleRepo(w http.ResponseWriter, r *http.Request, st site, owner, name string) {
	rec, token, ok := s.authenticate(w, r, false)
	if !ok {
		return
	}
	var user *account
	if rec != nil {
		if !s.spend(w, tokenBucketKey(token), userLimit, rateSubject(rec)) {
			return
		}
		user = rec.user
	} else if !s.spend(w, anonymousBucketKey(r), anonymousLimit, clientIP(r)) {
		return
	}

	s.mu.Lock()
	rp, found := s.repos[strings.ToLower(owner+"/"+name)]
	var body fullRepository
	access := permNone
	if found {
		access = rp.access(user)
		body = newFullRepository(st, rp)
	}
	s.mu.Unlock()
	if access == permNone {
		writeError(w, http.StatusNotFound, "Not Found", docsGetRepo)
		return
	}
	if user != nil {
		body.Permissions = newPermissions(access)
	}
	writeJSON(w, http.StatusOK, body)
}
