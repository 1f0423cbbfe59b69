// Package server serves credentials on the ECS container-credentials endpoint.
//
// It owns the endpoint's rules, which everyone else calls: what a listen
// address may be (CheckListenAddr), what a role may be called
// (CheckRoleName) and the path it is served on (RolePath).
package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/clock"
)

// Provider is what the endpoint needs from the refresher, per role.
type Provider interface {
	// Current returns valid credentials or nil. It is called on every
	// request, so it must be lock-free.
	Current() *daemon.Credentials
	// Await waits for a first fetch already in flight (cold start) and
	// returns its result, or nil when ctx ends first. It never starts an
	// STS call.
	Await(ctx context.Context) *daemon.Credentials
}

// Config configures a Handler. Zero values mean the documented defaults.
type Config struct {
	// Roles maps a role name to its provider. "" or DefaultRoleName is
	// served on /v1/credentials, any other name (see CheckRoleName) on
	// /v1/credentials/<name>: see RolePath.
	Roles map[string]Provider
	// Token is the authorization token; it must satisfy authtoken.Valid.
	Token string
	// TokenFile is the token file's path, named in 401 messages so the user
	// knows which file to read. "" = "the daemon's token file".
	TokenFile string
	// Clock tells the time for expiry checks. nil = the wall clock.
	Clock clock.Clock
	// Logger receives a debug line per request and a warning per refused
	// request, rate-limited (see refusals.go). nil = discard.
	Logger *slog.Logger
	// AwaitTimeout bounds how long a request waits for the cold-start fetch.
	// 0 = 800ms, under the 1 s timeout of JS, Java and C++ clients.
	AwaitTimeout time.Duration
}

// DefaultAwaitTimeout is Config.AwaitTimeout's default.
const DefaultAwaitTimeout = 800 * time.Millisecond

// Paths served.
const (
	CredentialsPath = "/v1/credentials"
	HealthPath      = "/healthz"
	otherPath       = "other"
	// MetadataPaths counts the task metadata paths (/v3/... and /v4/...),
	// served by SetMetadata's handler.
	MetadataPaths = "task metadata"
)

// Handler is the endpoint's http.Handler.
type Handler struct {
	// routes is the role set requests are served from; SetRoles swaps it
	// whole, so a request sees either the old set or the new, and the
	// lookup stays lock- and allocation-free.
	routes       atomic.Pointer[routes]
	mu           sync.Mutex // serialises SetRoles; guards counters and byPath
	byPath       map[string]*counter
	tokenSum     [sha256.Size]byte
	bufs         sync.Pool // of *[maxPooled]byte, for digest
	clock        clock.Clock
	logger       *slog.Logger
	awaitTimeout time.Duration

	health, other, credentials *counter
	metadataCount              *counter
	// metadata serves the ECS task metadata paths; nil = not mirrored.
	metadata atomic.Pointer[http.Handler]
	counters []*counter // all ever served, in Counts order
	clients  [numFamilies]clientCounter
	families familyCache
	refusals refusalBook

	// Header values, shared by every response: never appended to.
	hdrJSON, hdrNoStore, hdrNoSniff, hdrGET, hdrRetry []string

	// Bodies that never change, encoded once.
	healthBody, notFoundBody, methodBody, unavailableBody []byte
	missingBody, wrongBody, schemeBody                    []byte
}

// noMetadataBody answers the task metadata paths while no task definition
// is mirrored.
var noMetadataBody = errorBody("NotFound", "credd mirrors no ECS task: start the daemon with --ecs-task-definition FAMILY[:REVISION] (or CREDD_ECS_TASK_DEFINITION) to serve task metadata v4")

// SetMetadata serves the ECS task metadata paths (/v3/... and /v4/...) with
// m, after the Host, browser and proxy refusals and the GET check; nil
// stops serving them. No authorization token is asked for: the ECS
// endpoint has none, and the readers (OpenTelemetry's ECS detectors, log
// routers) send none. What m serves must hold no secret.
func (h *Handler) SetMetadata(m http.Handler) {
	if m == nil {
		h.metadata.Store(nil)
		return
	}
	h.metadata.Store(&m)
}

// routes is one role set and the 404 bodies that name its roles.
type routes struct {
	defaultRole                    *role
	named                          map[string]*role
	unknownRoleBody, noDefaultBody []byte
}

type role struct {
	provider Provider
	counter  *counter
	cache    atomic.Pointer[encoded]
}

// encoded is one credentials value and its response body.
type encoded struct {
	src    *daemon.Credentials
	body   []byte
	length []string // Content-Length header value
}

// New builds the endpoint handler.
func New(cfg Config) (*Handler, error) {
	if !authtoken.Valid(cfg.Token) {
		return nil, errors.New("server: the authorization token is missing or malformed (want the 43-character token from authtoken.LoadOrCreate)")
	}
	h := &Handler{
		byPath:       map[string]*counter{},
		tokenSum:     sha256.Sum256([]byte(cfg.Token)),
		clock:        cfg.Clock,
		logger:       cfg.Logger,
		awaitTimeout: cfg.AwaitTimeout,
		hdrJSON:      []string{"application/json"},
		hdrNoStore:   []string{"no-store"},
		hdrNoSniff:   []string{"nosniff"},
		hdrGET:       []string{http.MethodGet},
		hdrRetry:     []string{"1"},
	}
	h.bufs.New = func() any { return new([maxPooled]byte) }
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	h.logger = h.logger.With("component", "endpoint")
	if h.awaitTimeout < 0 {
		return nil, fmt.Errorf("server: negative AwaitTimeout %v", h.awaitTimeout)
	}
	if h.awaitTimeout == 0 {
		h.awaitTimeout = DefaultAwaitTimeout
	}

	h.credentials = &counter{path: CredentialsPath}
	h.health = &counter{path: HealthPath}
	h.other = &counter{path: otherPath}
	h.counters = []*counter{h.credentials, h.health, h.other}
	h.metadataCount = &counter{path: MetadataPaths}
	if err := h.SetRoles(cfg.Roles); err != nil {
		return nil, err
	}

	tokenFile := cfg.TokenFile
	if tokenFile == "" {
		tokenFile = "the daemon's token file"
	}
	h.healthBody = []byte(`{"status":"ok"}` + "\n")
	h.notFoundBody = errorBody("NotFound", "no such path: credd serves credentials on "+CredentialsPath+" and "+CredentialsPath+"/<role>")
	h.methodBody = errorBody("MethodNotAllowed", "only GET is supported")
	h.missingBody = errorBody("Unauthorized", "no Authorization header: send the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or AWS_CONTAINER_AUTHORIZATION_TOKEN) as the raw header value; to set both in this shell, run eval \"$(credd env)\"")
	h.wrongBody = errorBody("Unauthorized", "the Authorization header does not match the token in "+tokenFile+": credd writes a new token each time it starts, so a process that read the old one must read it again; use AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, which SDKs re-read per request, or run eval \"$(credd env)\" in this shell and restart the process")
	h.schemeBody = errorBody("Unauthorized", "send the raw token as the Authorization header, without a scheme such as Bearer; run eval \"$(credd env)\" to set it up")
	h.unavailableBody = errorBody("CredentialsUnavailable", "credd has no valid credentials yet/anymore: run `credd status` to see why")
	return h, nil
}

// SetRoles replaces the served role set at once: a request in flight
// finishes with the set it started with, the next one sees the new set. A
// role keeps its request counts across sets; a role left out answers 404.
//
// An empty set is a daemon still waiting for its settings (a devcontainer's
// lifecycle hook hands them over after start): every credentials path
// answers 503 NoRoleConfigured, which SDKs treat as "try again later".
func (h *Handler) SetRoles(providers map[string]Provider) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := &routes{named: map[string]*role{}}
	var names []string
	for name, p := range providers {
		if p == nil {
			return fmt.Errorf("server: role %q has no provider", name)
		}
		if name == "" || name == DefaultRoleName {
			if rs.defaultRole != nil {
				return errors.New(`server: both "" and "default" are configured; they are the same role`)
			}
			rs.defaultRole = &role{provider: p, counter: h.credentials}
			names = append(names, DefaultRoleName)
			continue
		}
		if err := CheckRoleName(name); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		rs.named[name] = &role{provider: p, counter: h.counterFor(RolePath(name))}
		names = append(names, name)
	}
	slices.Sort(names)
	list := strings.Join(names, ", ")
	rs.unknownRoleBody = errorBody("UnknownRole", "no role by that name; configured: "+list)
	rs.noDefaultBody = errorBody("UnknownRole", "no default role is configured; use "+CredentialsPath+"/<role> with one of: "+list)
	if len(names) == 0 {
		rs.unknownRoleBody = noRoleBody
		rs.noDefaultBody = noRoleBody
	}
	h.routes.Store(rs)
	return nil
}

// counterFor returns the counter of a named role's path, creating it the
// first time. Called with h.mu held.
func (h *Handler) counterFor(path string) *counter {
	if c, ok := h.byPath[path]; ok {
		return c
	}
	c := &counter{path: path}
	h.byPath[path] = c
	// Counts order: the default path, named paths sorted, /healthz, other.
	named := append(h.counters[1:len(h.counters)-2:len(h.counters)-2], c)
	slices.SortFunc(named, func(a, b *counter) int { return strings.Compare(a.path, b.path) })
	h.counters = append(append([]*counter{h.credentials}, named...), h.health, h.other)
	return c
}

// refusal is a request header that marks a request as not coming straight
// from a local process, and the 403 body that says why. Header and body
// share a row so that neither can be added without the other.
type refusal struct {
	header string // canonical (textproto) form: incoming keys are canonicalised
	why    why
	body   []byte
}

// refusals are checked in this order, after the Host header. The bodies are
// encoded once, so refusing allocates nothing.
var refusals = [...]refusal{
	{"Origin", whyBrowser, errorBody("Forbidden", "requests with an Origin header come from a web browser, and a web page must not read AWS credentials: use an AWS SDK or CLI")},
	{"Sec-Fetch-Site", whyBrowser, errorBody("Forbidden", "requests with a Sec-Fetch-Site header come from a web browser, and a web page must not read AWS credentials: use an AWS SDK or CLI")},
	{"Sec-Fetch-Mode", whyBrowser, errorBody("Forbidden", "requests with a Sec-Fetch-Mode header come from a web browser, and a web page must not read AWS credentials: use an AWS SDK or CLI")},
	{"X-Forwarded-For", whyProxy, errorBody("Forbidden", "requests with an X-Forwarded-For header were relayed by a proxy: credd serves local processes only, so call it directly on 127.0.0.1")},
	{"Forwarded", whyProxy, errorBody("Forbidden", "requests with a Forwarded header were relayed by a proxy: credd serves local processes only, so call it directly on 127.0.0.1")},
	{"X-Real-Ip", whyProxy, errorBody("Forbidden", "requests with an X-Real-IP header were relayed by a proxy: credd serves local processes only, so call it directly on 127.0.0.1")},
}

// foreignHostBody refuses a Host header that is not this machine's.
var foreignHostBody = errorBody("Forbidden", "the Host header must be 127.0.0.1, another loopback address or localhost: credd refuses other names so that a web page cannot reach it through DNS rebinding")

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.clock.Now()
	rs := h.routes.Load()
	rt, rl, c := rs.route(r.URL.Path, h)
	status, why := h.serve(w, r, rs, rt, rl, start)
	c.add(status)
	if rt != routeHealth && rt != routeNotFound && rt != routeMetadata {
		h.countClient(r, start)
	}
	if why != notRefused {
		h.noteRefusal(r, why, start)
	}
	if h.logger.Enabled(r.Context(), slog.LevelDebug) {
		ua := userAgent(r)
		// Never the Authorization header, never a body.
		h.logger.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method),
			slog.String("path", loggedPath(rt, r.URL.Path)),
			slog.Int("status", status),
			slog.String("user_agent", ua),
			slog.String("remote", r.RemoteAddr),
			slog.Duration("duration", h.clock.Now().Sub(start)))
	}
}

// route is what a request path leads to.
type route uint8

const (
	routeNotFound  route = iota // no path credd serves
	routeHealth                 // /healthz
	routeRole                   // a configured role's path: serve its credentials
	routeUnknown                // /v1/credentials/<name> with an unknown name
	routeNoDefault              // /v1/credentials with no default role
	routeMetadata               // /v3/... or /v4/...: ECS task metadata
)

// noRoleBody answers every credentials path while no role is configured.
var noRoleBody = errorBody("NoRoleConfigured", "credd has no role to serve yet: run `credd status` to see which setting is missing (such as CREDD_ROLE_ARN), set it, then run `credd reload --from-env`")

// missingStatus is the status of a path with no role: 404 for a name that
// is not configured, 503 while no role is configured at all.
func (rs *routes) missingStatus() int {
	if rs.defaultRole == nil && len(rs.named) == 0 {
		return http.StatusServiceUnavailable
	}
	return http.StatusNotFound
}

// route maps a path to where it leads, its role (for routeRole only, else
// nil) and its counter.
func (rs *routes) route(path string, h *Handler) (route, *role, *counter) {
	switch {
	case path == HealthPath:
		return routeHealth, nil, h.health
	case path == CredentialsPath:
		if rs.defaultRole == nil {
			return routeNoDefault, nil, h.credentials
		}
		return routeRole, rs.defaultRole, h.credentials
	case strings.HasPrefix(path, CredentialsPath+"/"):
		name := path[len(CredentialsPath)+1:]
		if r, ok := rs.named[name]; ok {
			return routeRole, r, r.counter
		}
		if name == DefaultRoleName && rs.defaultRole != nil {
			return routeRole, rs.defaultRole, h.credentials
		}
		return routeUnknown, nil, h.other
	case strings.HasPrefix(path, "/v4/") || strings.HasPrefix(path, "/v3/"):
		return routeMetadata, nil, h.metadataCount
	}
	return routeNotFound, nil, h.other
}

// serve answers r, which arrived at now, and returns the status it wrote
// and, for a refusal, why (else notRefused).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rs *routes, rt route, rl *role, now time.Time) (int, why) {
	if body, why := h.refused(r); body != nil {
		return h.writeJSON(w, http.StatusForbidden, body), why
	}
	if r.Method != http.MethodGet {
		w.Header()["Allow"] = h.hdrGET
		return h.writeJSON(w, http.StatusMethodNotAllowed, h.methodBody), whyMethod
	}
	switch rt {
	case routeHealth:
		return h.writeJSON(w, http.StatusOK, h.healthBody), notRefused
	case routeNotFound:
		return h.writeJSON(w, http.StatusNotFound, h.notFoundBody), whyUnknownPath
	case routeMetadata:
		m := h.metadata.Load()
		if m == nil {
			return h.writeJSON(w, http.StatusNotFound, noMetadataBody), notRefused
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		(*m).ServeHTTP(sw, r)
		return sw.status, notRefused
	}
	if body, why := h.unauthorized(r); body != nil {
		return h.writeJSON(w, http.StatusUnauthorized, body), why
	}
	markTrusted(r)
	switch rt {
	case routeNoDefault:
		return h.writeMissing(w, rs, rs.noDefaultBody)
	case routeUnknown:
		// The requested name is not echoed: a misconfigured client may have
		// put a secret in the path.
		return h.writeMissing(w, rs, rs.unknownRoleBody)
	case routeRole:
	default:
		panic("server: unhandled route") // a route added without its answer
	}

	creds := rl.provider.Current()
	if !creds.ValidAt(now) {
		creds = h.await(r.Context(), rl.provider)
	}
	if creds == nil {
		return h.writeJSON(w, http.StatusServiceUnavailable, h.unavailableBody), notRefused
	}
	e := rl.cache.Load()
	if e == nil || e.src != creds {
		e = encode(creds)
		rl.cache.Store(e)
	}
	hdr := w.Header()
	hdr["Content-Length"] = e.length
	return h.writeJSON(w, http.StatusOK, e.body), notRefused
}

// writeMissing answers a path with no role: a refusal (404) when the name
// is not configured, a 503 that is none while no role is configured at all.
func (h *Handler) writeMissing(w http.ResponseWriter, rs *routes, body []byte) (int, why) {
	status := rs.missingStatus()
	if status == http.StatusNotFound {
		return h.writeJSON(w, status, body), whyUnknownRole
	}
	return h.writeJSON(w, status, body), notRefused
}

// await waits a bounded time for the cold-start fetch, and never returns
// credentials that are no longer valid.
func (h *Handler) await(ctx context.Context, p Provider) *daemon.Credentials {
	ctx, cancel := context.WithTimeout(ctx, h.awaitTimeout)
	defer cancel()
	creds := p.Await(ctx)
	if !creds.ValidAt(h.clock.Now()) {
		return nil
	}
	return creds
}

// refused returns the 403 body for requests that do not come straight from
// a local process and why, or nil.
func (h *Handler) refused(r *http.Request) ([]byte, why) {
	if !loopbackHost(r.Host) {
		return foreignHostBody, whyHost
	}
	for i := range refusals {
		if _, ok := r.Header[refusals[i].header]; ok {
			return refusals[i].body, refusals[i].why
		}
	}
	return nil, notRefused
}

// unauthorized returns the 401 body for a missing or wrong token and why,
// or nil. The comparison is of SHA-256 digests in constant time, so
// neither the token nor its length leaks through timing.
func (h *Handler) unauthorized(r *http.Request) ([]byte, why) {
	v := r.Header["Authorization"]
	if len(v) == 0 || v[0] == "" {
		return h.missingBody, whyNoToken
	}
	sum := h.digest(v[0])
	if len(v) == 1 && subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1 {
		return nil, notRefused
	}
	if hasScheme(v[0]) {
		return h.schemeBody, whyScheme
	}
	return h.wrongBody, whyWrongToken
}

// statusWriter records the status a delegated handler wrote, for the
// request counts.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// maxPooled is the longest header value digest hashes without allocating.
const maxPooled = 256

// digest returns the SHA-256 of v. sha256.Sum256 makes its argument escape,
// so []byte(v) would allocate on every request; copying into a pooled
// buffer, already on the heap, keeps the success path allocation-free.
func (h *Handler) digest(v string) [sha256.Size]byte {
	if len(v) > maxPooled {
		return sha256.Sum256([]byte(v))
	}
	buf := h.bufs.Get().(*[maxPooled]byte)
	n := copy(buf[:], v)
	sum := sha256.Sum256(buf[:n])
	clear(buf[:n]) // keep no copy of what was sent
	h.bufs.Put(buf)
	return sum
}

// hasScheme reports whether v looks like "Bearer xyz": the usual mistake.
func hasScheme(v string) bool {
	i := strings.IndexByte(v, ' ')
	if i <= 0 {
		return false
	}
	switch strings.ToLower(v[:i]) {
	case "bearer", "basic", "token":
		return true
	}
	return false
}

func (h *Handler) writeJSON(w http.ResponseWriter, status int, body []byte) int {
	hdr := w.Header()
	hdr["Content-Type"] = h.hdrJSON
	hdr["Cache-Control"] = h.hdrNoStore
	hdr["X-Content-Type-Options"] = h.hdrNoSniff
	if status == http.StatusServiceUnavailable {
		// "Try again in a second": JS v2 honours it, every SDK retries a
		// 503 anyway (SDK-COMPAT.md §5).
		hdr["Retry-After"] = h.hdrRetry
	}
	w.WriteHeader(status)
	w.Write(body)
	return status
}

// loopbackHost reports whether a Host header names this machine without DNS:
// a loopback IP literal (IPv6 in brackets) or "localhost", with or without a
// port. It does not allocate.
func loopbackHost(host string) bool {
	name := host
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		name = host[1:end]
		if !validPort(host[end+1:]) {
			return false
		}
		if !strings.Contains(name, ":") {
			return false // "[127.0.0.1]" is not a Host
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		name = host[:i]
		if !validPort(host[i:]) {
			return false // also refuses an unbracketed IPv6 address
		}
	}
	if name == "127.0.0.1" || strings.EqualFold(name, "localhost") {
		return true // what every SDK sends: no need to parse
	}
	addr, err := netip.ParseAddr(name)
	return err == nil && addr.Zone() == "" && addr.Unmap().IsLoopback()
}

// validPort accepts "" or ":" followed by 1-5 digits.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) < 2 || len(s) > 6 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// wireCredentials is the success body (SDK-COMPAT.md rule 7). It has no
// Code field: Rust refuses any Code but "Success".
type wireCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	RoleARN         string `json:"RoleArn,omitempty"`
	AccountID       string `json:"AccountId,omitempty"`
}

func encode(c *daemon.Credentials) *encoded {
	body := marshal(wireCredentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		// Format drops sub-seconds, so the served expiry is never later
		// than the real one.
		Expiration: c.Expiration.UTC().Format(daemon.ExpirationLayout),
		RoleARN:    c.RoleARN,
		AccountID:  c.AccountID,
	})
	return &encoded{src: c, body: body, length: []string{strconv.Itoa(len(body))}}
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorBody(code, message string) []byte {
	return marshal(wireError{Code: code, Message: message})
}

// marshal encodes v on one line with a trailing newline (for curl), without
// HTML escaping: clients such as botocore show the raw body to the user, and
// "<role>" reads better than "\u003crole\u003e".
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("server: encoding a struct of strings: " + err.Error()) // cannot happen
	}
	return buf.Bytes()
}

// statuses are the codes the handler writes; counters have one slot each.
var statuses = [...]int{
	http.StatusOK,
	http.StatusUnauthorized,
	http.StatusForbidden,
	http.StatusNotFound,
	http.StatusMethodNotAllowed,
	http.StatusServiceUnavailable,
}

type counter struct {
	path string
	n    [len(statuses) + 1]atomic.Int64 // the last slot counts any other status
}

func (c *counter) add(status int) {
	for i, s := range statuses {
		if s == status {
			c.n[i].Add(1)
			return
		}
	}
	c.n[len(statuses)].Add(1)
}

// Counts returns the requests served so far, by path and status, leaving out
// zeros. Paths are "/v1/credentials", "/v1/credentials/<name>" for configured
// names, "/healthz", "other" (anything else, unknown names included) and
// MetadataPaths.
// Status 0 counts a status outside the usual set.
func (h *Handler) Counts() []daemon.RequestCount {
	h.mu.Lock()
	counters := append(h.counters[:len(h.counters):len(h.counters)], h.metadataCount)
	h.mu.Unlock()
	var out []daemon.RequestCount
	for _, c := range counters {
		for i := range c.n {
			n := c.n[i].Load()
			if n == 0 {
				continue
			}
			status := 0
			if i < len(statuses) {
				status = statuses[i]
			}
			out = append(out, daemon.RequestCount{Path: c.path, Status: status, Count: n})
		}
	}
	return out
}

// loggedPath is the request path for the debug log: unknown paths are
// logged by their length only, since a misconfigured client may have put a
// secret (the authorization token, say) into the URL.
func loggedPath(rt route, path string) string {
	if rt == routeNotFound || rt == routeUnknown {
		return fmt.Sprintf("(unknown path, %d bytes)", len(path))
	}
	return path
}
