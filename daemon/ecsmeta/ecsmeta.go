// Package ecsmeta serves the ECS task metadata endpoint, versions 4 and 3,
// for a task definition mirrored into a dev container.
//
// What it serves follows the ECS documentation and the ECS agent's
// response types (each cited where it is used); what the ECS API does
// not say about a running task (its ARN, ids, times, addresses, stats) is
// derived from the dev container itself. Nothing in it is secret: the
// definition's environment, secrets and log secretOptions are never read.
package ecsmeta

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/credd-dev/credd/daemon/clock"
)

// Task is what the documents are built from. Everything the ECS API does
// not say is derived here.
type Task struct {
	// Definition is what DescribeTaskDefinition returned.
	Definition *ecstypes.TaskDefinition
	// Tags are the task definition's tags (DescribeTaskDefinition with
	// include=TAGS).
	Tags []ecstypes.Tag
	// TagsAllowed is false when the role may not read the tags:
	// /taskWithTags then reports an error as ECS does.
	TagsAllowed bool
	// Cluster is --ecs-cluster: a name or a cluster ARN; "" = DefaultCluster.
	Cluster string
	// Container is --ecs-container, the container this dev container
	// stands in for; "" = the first essential one.
	Container string
	// StartedAt is when the daemon started: the times of the mirrored task.
	StartedAt time.Time
	// Hostname is os.Hostname(), which the ids are derived from.
	Hostname string
}

// Options configures a Handler. Zero values mean the documented defaults.
type Options struct {
	// Clock tells the time of stats readings. nil = the wall clock.
	Clock clock.Clock
	// StatsRoot is where /proc and /sys/fs/cgroup are read from, for
	// tests. "" = "/".
	StatsRoot string
	// Logger receives a line when the cgroup cannot be read. nil = discard.
	Logger *slog.Logger

	// Hostname, Family and Container (--ecs-container) make ID known
	// before the task definition is fetched, so that the URIs can be
	// exported at once and requests get a 503 rather than a 404 until
	// then. Family "" = ID is "" until SetTask.
	Hostname, Family, Container string
}

// Handler serves /v3/<id>[/task|/taskWithTags|/stats|/task/stats] and
// /v4/<id>[/task|/taskWithTags|/stats|/task/stats]. The caller has
// already refused foreign Host headers, browser and proxy requests and
// methods other than GET; no authorization token is asked for, as the
// real endpoint asks for none.
type Handler struct {
	log       *slog.Logger
	stats     *sampler
	statsRoot string
	// addrs lists the dev container's addresses; a field so tests can
	// give their own.
	addrs func() []hostAddr

	// knownID is the id while no task is served: from Options, then the
	// last task's, so SetTask(nil) keeps the URIs that shells exported.
	knownID atomic.Pointer[string]
	docs    atomic.Pointer[documents] // nil until SetTask
	mu      sync.Mutex                // serialises SetTask
}

// NewHandler returns a Handler that answers 503 until SetTask.
func NewHandler(opts Options) *Handler {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.StatsRoot == "" {
		opts.StatsRoot = "/"
	}
	h := &Handler{
		log:       opts.Logger,
		stats:     &sampler{root: opts.StatsRoot, clock: opts.Clock, log: opts.Logger},
		statsRoot: opts.StatsRoot,
		addrs:     interfaceAddrs,
	}
	if opts.Family != "" {
		id := endpointID(opts.Hostname, opts.Family, opts.Container)
		h.knownID.Store(&id)
	}
	return h
}

// SetTask checks t (its ARN, the container, the cluster), builds the
// documents and serves them from then on; nil serves nothing again (503).
// A task that cannot be mirrored returns an error that says what to fix,
// and what was served before stays served.
func (h *Handler) SetTask(t *Task) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t == nil {
		h.docs.Store(nil)
		return nil
	}
	if t.Definition == nil {
		return errors.New("the task has no definition: DescribeTaskDefinition returned none")
	}
	d, err := build(t, ownDockerID(h.statsRoot), h.addrs())
	if err != nil {
		return err
	}
	h.stats.current() // the first reading, which the first /stats compares with
	h.knownID.Store(&d.id)
	h.docs.Store(d)
	return nil
}

// ID is the <id> in the URIs: stable for the same host name, family and
// --ecs-container across daemon restarts, and no secret. "" while it is
// not known (no Options.Family, no task yet).
func (h *Handler) ID() string {
	if d := h.docs.Load(); d != nil {
		return d.id
	}
	if id := h.knownID.Load(); id != nil {
		return *id
	}
	return ""
}

// TaskARN is the mirrored task's ARN; "" before SetTask.
func (h *Handler) TaskARN() string {
	if d := h.docs.Load(); d != nil {
		return d.taskARN
	}
	return ""
}

// Cluster is the cluster's ARN; "" before SetTask.
func (h *Handler) Cluster() string {
	if d := h.docs.Load(); d != nil {
		return d.clusterARN
	}
	return ""
}

// ContainerName is the container the dev container stands in for; ""
// before SetTask.
func (h *Handler) ContainerName() string {
	if d := h.docs.Load(); d != nil {
		return d.containerName
	}
	return ""
}

// URIs are ECS_CONTAINER_METADATA_URI_V4 and ECS_CONTAINER_METADATA_URI
// for the endpoint at base ("http://127.0.0.1:9911"); both "" when id is.
func URIs(base, id string) (v4, v3 string) {
	if id == "" {
		return "", ""
	}
	base = strings.TrimRight(base, "/")
	return base + "/v4/" + id, base + "/v3/" + id
}

// The paths under /v{3,4}/<id>: the same on both versions
// (agent/handlers/task_server_setup.go registers /task, /taskWithTags,
// /stats and /task/stats for each).
const (
	pathContainer    = ""
	pathTask         = "/task"
	pathTaskWithTags = "/taskWithTags"
	pathStats        = "/stats"
	pathTaskStats    = "/task/stats"
)

var (
	notFetchedBody = errorBody("TaskDefinitionNotFetched", "credd has not fetched the ECS task definition yet: run `credd status` to see why")
	unknownIDBody  = errorBody("NotFound", "no task metadata under that id: run `credd status` for this daemon's ECS_CONTAINER_METADATA_URI_V4 (the id changes with the host name, the task family and --ecs-container)")
	unknownPath    = errorBody("NotFound", "no such task metadata path: credd serves /v4/<id> and /v3/<id>, each with /task, /taskWithTags, /stats and /task/stats")
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version, id, sub, ok := splitPath(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, unknownPath)
		return
	}
	d := h.docs.Load()
	switch want := h.ID(); {
	case want != "" && id != want:
		writeJSON(w, http.StatusNotFound, unknownIDBody)
		return
	case d == nil:
		writeJSON(w, http.StatusServiceUnavailable, notFetchedBody)
		return
	}
	v4 := version == "v4"
	var body []byte
	switch sub {
	case pathContainer:
		body = pick(v4, d.containerV4, d.containerV3)
	case pathTask:
		body = pick(v4, d.taskV4, d.taskV3)
	case pathTaskWithTags:
		body = pick(v4, d.taskWithTagsV4, d.taskWithTagsV3)
	case pathStats, pathTaskStats:
		var err error
		if body, err = h.statsBody(d, v4, sub == pathTaskStats); err != nil {
			h.log.Error("encoding task metadata stats", "component", "ecs", "err", err)
			writeJSON(w, http.StatusInternalServerError, errorBody("StatsUnavailable", "credd could not encode the stats: see its log"))
			return
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// splitPath parses /v4/<id><sub> and /v3/<id><sub> with sub one of the
// paths above; anything else (a trailing slash too) is not one.
func splitPath(p string) (version, id, sub string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v4/")
	version = "v4"
	if !found {
		if rest, found = strings.CutPrefix(p, "/v3/"); !found {
			return "", "", "", false
		}
		version = "v3"
	}
	id, sub, _ = strings.Cut(rest, "/")
	if sub != "" || strings.HasSuffix(rest, "/") {
		sub = "/" + sub
	}
	if id == "" {
		return "", "", "", false
	}
	switch sub {
	case pathContainer, pathTask, pathTaskWithTags, pathStats, pathTaskStats:
		return version, id, sub, true
	}
	return "", "", "", false
}

func pick(v4 bool, a, b []byte) []byte {
	if v4 {
		return a
	}
	return b
}

// statsBody is /stats (this container) or /task/stats: a map of DockerId
// to stats with every container of the task. credd can read none for the
// containers it does not run: v4 gives those an empty object and v3 null,
// as the agent does for a container whose stats it cannot get
// (agent/handlers/v4/stats_response.go: &StatsResponse{}, which encodes
// as {}; agent/handlers/v2/stats_response.go: nil).
func (h *Handler) statsBody(d *documents, v4, task bool) ([]byte, error) {
	last, prev := h.stats.current()
	rates := v4 && (d.networkMode == modeAWSVPC || d.networkMode == modeBridge)
	doc := statsDocument(last, prev, d.dockerName, d.dockerID, rates)
	var self any = doc
	if !v4 {
		self = doc.dockerStats
	}
	if !task {
		return encode(self)
	}
	m := make(map[string]any, len(d.otherDockerIDs)+1)
	m[d.dockerID] = self
	for _, other := range d.otherDockerIDs {
		if v4 {
			m[other] = struct{}{}
		} else {
			m[other] = nil
		}
	}
	return encode(m)
}

// writeJSON writes the headers every answer has. The agent answers
// application/json (ecs-agent/tmds/handlers/utils WriteJSONResponse).
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// errorBody is the project's error shape, {"code":"...","message":"..."}.
func errorBody(code, message string) []byte {
	b, err := encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
	if err != nil {
		panic("ecsmeta: encoding two strings: " + err.Error()) // cannot happen
	}
	return b
}
