package bridge

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Paths under the issuer URL's path.
const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/.well-known/jwks.json"
	tokenPath     = "/token"
)

// publicCache lets AWS and CDNs keep discovery and JWKS for a while; a
// rotation publishes the new key ahead of signing with it, so five
// minutes of staleness is harmless.
const publicCache = "public, max-age=300"

// Handler routes under the issuer URL's path: with --issuer https://h/p it
// serves /p/.well-known/openid-configuration, /p/.well-known/jwks.json and
// /p/token, and a short service document at / and /p.
func (b *Bridge) Handler() http.Handler {
	return http.HandlerFunc(b.route)
}

func (b *Bridge) route(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == b.base+discoveryPath:
		b.serveStatic(w, r, b.discovery, publicCache)
	case p == b.base+jwksPath:
		b.serveStatic(w, r, b.jwks, publicCache)
	case p == b.base+tokenPath:
		b.serveToken(w, r)
	case p == "/" || p == b.base || p == b.base+"/":
		b.serveStatic(w, r, b.service, "no-cache")
	default:
		writeError(w, &refusal{code: CodeNotFound, message: "no such endpoint; the bridge serves " + b.cfg.Issuer + discoveryPath + ", " + jwksPath + " and POST " + tokenPath})
	}
}

func (b *Bridge) serveStatic(w http.ResponseWriter, r *http.Request, doc []byte, cacheControl string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, refuse(CodeMethodNotAllowed, "use GET"))
		return
	}
	w.Header().Set("Cache-Control", cacheControl)
	writeBody(w, http.StatusOK, doc)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code":"internal","message":"could not encode the answer"}`)
	}
	writeBody(w, status, body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError answers a refusal with its status, never caching it.
func writeError(w http.ResponseWriter, ref *refusal) {
	w.Header().Set("Cache-Control", "no-store")
	if ref.code == CodeRateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(ref.retryAfter)))
	}
	writeJSON(w, Status(ref.code), ErrorResponse{Code: ref.code, Message: ref.message})
}

// retryAfterSeconds rounds up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
