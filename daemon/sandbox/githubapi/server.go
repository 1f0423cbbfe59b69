// Package githubapi is an offline stand-in for the parts of GitHub that credd-bridge and credd's GitHub login use.
package githubapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/credd-dev/credd/daemon/clock"
)

// ghesPrefix is GitHub Enterprise Server's REST base path
// (https://docs.github.com/en/enterprise-server@latest/rest/quickstart: "http(s)://HOSTNAME/api/v3").
const ghesPrefix = "/api/v3"

// apiVersion is the only REST API version the stand-in speaks; GitHub echoes
// the selected one in x-github-api-version-selected
// (https://docs.github.com/en/rest/about-the-rest-api/api-versions).
const apiVersion = "2022-11-28"

// Options configure New. Zero values mean the documented defaults.
type Options struct {
	Clock  clock.Clock  // nil = clock.Real{}
	Logger *slog.Logger // nil = discard
}

// Server is the GitHub stand-in: the REST API (api.github.com, or GHES under
// /api/v3) and the web host's device flow (github.com), on one handler. It is
// safe for concurrent use. Tokens, refresh tokens, device codes and client
// secrets are kept only as SHA-256 hashes.
type Server struct {
	clock clock.Clock
	log   *slog.Logger

	mu             sync.Mutex
	lastID         int64
	accounts       map[string]*account // by lower-case login
	repos          map[string]*repo    // by lower-case OWNER/NAME
	apps           map[string]*app     // by client ID
	tokens         map[[32]byte]*tokenRecord
	refreshTokens  map[[32]byte]*refreshRecord
	devices        map[[32]byte]*deviceGrant // by device-code hash
	userCodes      map[string]*deviceGrant
	deviceInterval int // seconds
	buckets        map[string]*bucket
	faults         []*queuedFault
	seen           map[string]int // requests by path
}

// New makes an empty stand-in: add users, repositories, apps and tokens, then
// serve Handler (httptest.NewServer or any listener).
func New(opts Options) *Server {
	s := &Server{
		clock:          opts.Clock,
		log:            opts.Logger,
		accounts:       map[string]*account{},
		repos:          map[string]*repo{},
		apps:           map[string]*app{},
		tokens:         map[[32]byte]*tokenRecord{},
		refreshTokens:  map[[32]byte]*refreshRecord{},
		devices:        map[[32]byte]*deviceGrant{},
		userCodes:      map[string]*deviceGrant{},
		deviceInterval: defaultDeviceInterval,
		buckets:        map[string]*bucket{},
		seen:           map[string]int{},
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "sandbox-github")
	return s
}

// Handler serves every endpoint, both at the root (api.github.com and
// github.com) and under /api/v3 (GHES).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// site is where the answer's URLs point: the API base and the web base, both
// this server as the client reached it.
type site struct {
	api  string // e.g. http://127.0.0.1:4321 or http://127.0.0.1:4321/api/v3
	web  string // e.g. http://127.0.0.1:4321
	host string // e.g. 127.0.0.1:4321
}

func siteOf(r *http.Request, ghes bool) site {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	web := scheme + "://" + r.Host
	api := web
	if ghes {
		api += ghesPrefix
	}
	return site{api: api, web: web, host: r.Host}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	h := w.Header()
	h.Set("x-github-request-id", reqID)
	h.Set("x-github-api-version-selected", apiVersion)
	h.Set("Content-Type", jsonContentType)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

	path, ghes := r.URL.Path, false
	if rest, ok := strings.CutPrefix(path, ghesPrefix); ok && (rest == "" || rest[0] == '/') {
		path, ghes = rest, true
	}
	s.count(r.URL.Path)
	defer func() {
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "request_id", reqID)
	}()
	if f, ok := s.takeFault(r.URL.Path); ok && s.applyFault(rec, r, f) {
		return
	}
	s.route(rec, r, path, siteOf(r, ghes))
}

// route dispatches by method and path. A hand-written switch (not
// http.ServeMux) so that a wrong method gets GitHub's JSON 404, not a 405.
func (s *Server) route(w http.ResponseWriter, r *http.Request, path string, st site) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && path == "/user":
		s.handleUser(w, r, st)
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "repos":
		s.handleRepo(w, r, st, parts[1], parts[2])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "applications" && parts[2] == "token":
		s.handleCheckToken(w, r, st, parts[1])
	case r.Method == http.MethodPost && path == "/login/device/code":
		s.handleDeviceCode(w, r, st)
	case r.Method == http.MethodPost && path == "/login/oauth/access_token":
		s.handleAccessToken(w, r)
	default:
		s.anonymousHeaders(w, r)
		writeError(w, http.StatusNotFound, "Not Found", docsRoot)
	}
}

func (s *Server) count(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[path]++
}

// Requests is how many requests reached the server on paths starting with
// pathPrefix ("" = all), for tests that assert "no GitHub call". A prefix
// matches a GHES path both with and without /api/v3.
func (s *Server) Requests(pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for path, c := range s.seen {
		if pathMatches(path, pathPrefix) {
			n += c
		}
	}
	return n
}

// pathMatches reports whether a request path (as received) falls under
// prefix, looking through the GHES prefix.
func pathMatches(path, prefix string) bool {
	if strings.HasPrefix(path, prefix) {
		return true
	}
	rest, ok := strings.CutPrefix(path, ghesPrefix)
	return ok && strings.HasPrefix(rest, prefix)
}

// newRequestID makes an id shaped like GitHub's x-github-request-id
// (e.g. "C1A2:3B4C:5D6E7F:8A9B0C:65F0A1B2").
func newRequestID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	x := strings.ToUpper(hex.EncodeToString(b))
	return x[0:4] + ":" + x[4:8] + ":" + x[8:14] + ":" + x[14:20] + ":" + x[20:28]
}

// statusRecorder remembers the status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
