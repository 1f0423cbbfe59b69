package githubapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

const jsonContentType = "application/json; charset=utf-8"

// Documentation links GitHub puts in its error bodies.
const (
	docsRoot       = "https://docs.github.com/rest"
	docsGetUser    = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
	docsGetRepo    = "https://docs.github.com/rest/repos/repos#get-a-repository"
	docsCheckToken = "https://docs.github.com/rest/apps/oauth-applications#check-a-token"
	docsRateLimit  = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
)

// basicError is the description's "basic-error" schema (no required
// fields: message, documentation_url, url, status), as GitHub sends it:
// {"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}.
type basicError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

func writeError(w http.ResponseWriter, status int, message, docs string) {
	writeJSON(w, status, basicError{Message: message, DocumentationURL: docs, Status: strconv.Itoa(status)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
