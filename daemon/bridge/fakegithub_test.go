package bridge

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub is a scripted stand-in for the three GitHub endpoints the
// bridge calls, shaped after GitHub's REST documentation:
// GET /user (https://docs.github.com/en/rest/users/users#get-the-authenticated-user),
// GET /repos/{owner}/{repo} (https://docs.github.com/en/rest/repos/repos#get-a-repository)
// and POST /applications/{client_id}/token
// (https://docs.github.com/en/rest/apps/oauth-applications#check-a-token).
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	users     map[string]githubUser // by token
	repos     map[string]fakeRepo   // by lower-case OWNER/REPO as requested
	appTokens map[string]bool       // tokens the app issued
	clientID  string
	secret    string
	calls     []string
	// intercept, when set, may answer a request itself (return true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

type fakeRepo struct {
	id        int64
	fullName  string
	ownerID   int64
	perms     map[string]string // login → highest permission
	ownerName string            // "" = from fullName
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{t: t, users: map[string]githubUser{}, repos: map[string]fakeRepo{}, appTokens: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) URL() string { return f.srv.URL }

func (f *fakeGitHub) addUser(token, login string, id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[token] = githubUser{Login: login, ID: id}
}

func (f *fakeGitHub) addRepo(requested string, r fakeRepo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.fullName == "" {
		r.fullName = requested
	}
	f.repos[strings.ToLower(requested)] = r
}

func (f *fakeGitHub) setIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

// Calls returns the requests seen so far, as "METHOD PATH".
func (f *fakeGitHub) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	intercept := f.intercept
	f.mu.Unlock()
	// Every call must carry GitHub's recommended headers.
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" ||
		!strings.HasPrefix(r.Header.Get("User-Agent"), "credd-bridge/") {
		f.t.Errorf("%s %s: headers Accept=%q X-GitHub-Api-Version=%q User-Agent=%q", r.Method, r.URL.Path,
			r.Header.Get("Accept"), r.Header.Get("X-GitHub-Api-Version"), r.Header.Get("User-Agent"))
	}
	if intercept != nil && intercept(w, r) {
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/user":
		f.serveUser(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/repos/"):
		f.serveRepo(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/applications/") && strings.HasSuffix(r.URL.Path, "/token"):
		f.serveCheckToken(w, r)
	default:
		ghError(w, http.StatusNotFound, "Not Found")
	}
}

func (f *fakeGitHub) bearerUser(r *http.Request) (githubUser, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return githubUser{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[token]
	return u, ok
}

func (f *fakeGitHub) serveUser(w http.ResponseWriter, r *http.Request) {
	u, ok := f.bearerUser(r)
	if !ok {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	writeGitHubJSON(w, http.StatusOK, map[string]any{"login": u.Login, "id": u.ID, "type": "User"})
}

func (f *fakeGitHub) serveRepo(w http.ResponseWriter, r *http.Request) {
	u, ok := f.bearerUser(r)
	if !ok {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	f.mu.Lock()
	repo, found := f.repos[strings.ToLower(strings.TrimPrefix(r.URL.Path, "/repos/"))]
	f.mu.Unlock()
	perm := repo.perms[u.Login]
	if !found || perm == "" {
		// GitHub hides private repositories a user cannot see behind 404.
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	owner := repo.ownerName
	if owner == "" {
		owner, _, _ = strings.Cut(repo.fullName, "/")
	}
	// GitHub sets every permission at or below the user's highest.
	perms := map[string]bool{}
	for _, p := range permissionOrder {
		perms[p] = PermissionAtLeast(perm, p)
	}
	writeGitHubJSON(w, http.StatusOK, map[string]any{
		"id": repo.id, "full_name": repo.fullName, "private": true,
		"owner":       map[string]any{"login": owner, "id": repo.ownerID},
		"permissions": perms,
	})
}

func (f *fakeGitHub) serveCheckToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	f.mu.Lock()
	wantID, wantSecret, known := f.clientID, f.secret, f.appTokens
	f.mu.Unlock()
	if !ok || id != wantID || secret != wantSecret || r.URL.Path != "/applications/"+wantID+"/token" {
		ghError(w, http.StatusUnauthorized, "Requires authentication")
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.AccessToken == "" {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	f.mu.Lock()
	ours := known[body.AccessToken]
	f.mu.Unlock()
	if !ours {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeGitHubJSON(w, http.StatusOK, map[string]any{"id": 1, "app": map[string]any{"client_id": wantID}})
}

func ghError(w http.ResponseWriter, status int, message string) {
	writeGitHubJSON(w, status, map[string]string{"message": message, "documentation_url": "https://docs.github.com/rest"})
}

func writeGitHubJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
