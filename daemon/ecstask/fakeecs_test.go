package ecstask

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/sandbox/sigv4"
)

// fakeECS imitates the ECS API's DescribeTaskDefinition on 127.0.0.1, on
// the wire as ECS speaks it: AWS JSON 1.1, POST / with X-Amz-Target
// AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition and
// Content-Type application/x-amz-json-1.1 (the service's JSON 1.1 protocol,
// aws-sdk-go-v2 service/ecs api_client.go, awsjson.New11, and smithy-go
// transport/http/protocol/awsjson/awsjson.go, SerializeRequest), requests
// signed with SigV4 for service "ecs". Errors are a JSON body with
// "__type" and "message" (the same awsjson.go, deserializeError), with
// HTTP 400 for client errors and 500 for ServerException.
type fakeECS struct {
	t      *testing.T
	srv    *httptest.Server
	region string
	creds  aws.Credentials
	// answer answers one checked request; nil answers nothing (500).
	mu     sync.Mutex
	answer func(req describeRequest) (status int, body string)
	reqs   []describeRequest
}

// describeRequest is what the fake received.
type describeRequest struct {
	TaskDefinition string   `json:"taskDefinition"`
	Include        []string `json:"include"`
	// From the signature, checked against the credentials.
	AccessKeyID, Region, UserAgent string
}

func (r describeRequest) withTags() bool {
	return len(r.Include) == 1 && r.Include[0] == "TAGS"
}

var testCreds = aws.Credentials{AccessKeyID: "ASIAEXAMPLEKEY000001", SecretAccessKey: "test-secret-access-key-0000000000000000", SessionToken: "test-session-token"}

func newFakeECS(t *testing.T, region string, answer func(describeRequest) (int, string)) *fakeECS {
	t.Helper()
	f := &fakeECS{t: t, region: region, creds: testCreds, answer: answer}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeECS) URL() string { return f.srv.URL }

func (f *fakeECS) setAnswer(answer func(describeRequest) (int, string)) {
	f.mu.Lock()
	f.answer = answer
	f.mu.Unlock()
}

func (f *fakeECS) requests() []describeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]describeRequest(nil), f.reqs...)
}

func (f *fakeECS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/" ||
		r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		f.t.Errorf("fake ECS: got %s %s target %q content type %q, want POST / DescribeTaskDefinition in JSON 1.1",
			r.Method, r.URL.Path, r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "")
		return
	}
	auth, err := sigv4.ParseAuthorization(r, sigv4.Expect{Service: "ecs", Region: f.region})
	if err != nil {
		f.t.Errorf("fake ECS: signature: %v", err)
		writeError(w, http.StatusBadRequest, "InvalidSignatureException", err.Error())
		return
	}
	payloadHash := cmp.Or(r.Header.Get("X-Amz-Content-Sha256"), sigv4.HashPayload(body))
	if auth.AccessKeyID != f.creds.AccessKeyID || auth.SecurityToken != f.creds.SessionToken ||
		!sigv4.Verify(r, auth, f.creds.SecretAccessKey, payloadHash, sigv4.Options{}) {
		f.t.Errorf("fake ECS: the request is not signed with the test credentials (key %q)", auth.AccessKeyID)
		writeError(w, http.StatusBadRequest, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
		return
	}
	var req describeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("fake ECS: body %q: %v", body, err)
		writeError(w, http.StatusBadRequest, "SerializationException", "")
		return
	}
	req.AccessKeyID, req.Region, req.UserAgent = auth.AccessKeyID, auth.Region, r.Header.Get("User-Agent")
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	answer := f.answer
	f.mu.Unlock()
	if answer == nil {
		writeError(w, http.StatusInternalServerError, "ServerException", "no answer scripted")
		return
	}
	status, out := answer(req)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	io.WriteString(w, out)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	w.Write(b)
}

// errorBody is an AWS JSON 1.1 error body.
func errorBody(code, msg string) string {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	return string(b)
}

// definitionBody is a DescribeTaskDefinition response: the example
// output of aws/aws-cli awscli/examples/ecs/describe-task-definition.rst
// (hello_world:8, wordpress and mysql), with the family, revision, status
// and tags fields of the API reference's Response Syntax.
func definitionBody(region, family string, revision int, status string, tags map[string]string) string {
	var tagList []map[string]string
	for k, v := range tags {
		tagList = append(tagList, map[string]string{"key": k, "value": v})
	}
	tagJSON, _ := json.Marshal(tagList)
	tagField := ""
	if tags != nil {
		tagField = fmt.Sprintf(`"tags": %s,`, tagJSON)
	}
	return fmt.Sprintf(`{
	%s
	"taskDefinition": {
		"volumes": [],
		"taskDefinitionArn": "arn:aws:ecs:%s:012345678910:task-definition/%s:%d",
		"containerDefinitions": [
			{
				"environment": [],
				"name": "wordpress",
				"links": ["mysql"],
				"mountPoints": [],
				"image": "wordpress",
				"essential": true,
				"portMappings": [{"containerPort": 80, "hostPort": 80}],
				"memory": 500,
				"cpu": 10,
				"volumesFrom": []
			},
			{
				"environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
				"name": "mysql",
				"mountPoints": [],
				"image": "mysql",
				"cpu": 10,
				"portMappings": [],
				"memory": 500,
				"essential": true,
				"volumesFrom": []
			}
		],
		"family": %q,
		"revision": %d,
		"status": %q
	}
}`, tagField, region, family, revision, family, revision, status)
}

// credsSwitch is a credentials provider that has none until turned on.
type credsSwitch struct {
	mu sync.Mutex
	on bool
}

func (c *credsSwitch) set(on bool) {
	c.mu.Lock()
	c.on = on
	c.mu.Unlock()
}

func (c *credsSwitch) Retrieve(context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return aws.Credentials{}, fmt.Errorf("the default role has no credentials yet")
	}
	return testCreds, nil
}

// changes records OnChange's calls.
type changes struct {
	mu    sync.Mutex
	snaps []Snapshot
}

func (c *changes) add(s Snapshot) {
	c.mu.Lock()
	c.snaps = append(c.snaps, s)
	c.mu.Unlock()
}

func (c *changes) all() []Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Snapshot(nil), c.snaps...)
}

// harness runs a Watcher on a fake clock.
type harness struct {
	t      *testing.T
	clk    *clock.Fake
	w      *Watcher
	ecs    *fakeECS
	seen   *changes
	cancel context.CancelFunc
	done   chan error
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// half makes jitter vanish: every delay is exactly its nominal value.
func half() float64 { return 0.5 }

func startWatcher(t *testing.T, f *fakeECS, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), ecs: f, seen: &changes{}, done: make(chan error, 1)}
	cfg.Clock = h.clk
	cfg.Endpoint = cmp.Or(cfg.Endpoint, f.URL())
	cfg.Region = cmp.Or(cfg.Region, f.region)
	if cfg.Credentials == nil {
		cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return testCreds, nil }))
	}
	if cfg.Rand == nil {
		cfg.Rand = half
	}
	cfg.OnChange = h.seen.add
	w, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	h.waitAttempt()
	return h
}

// waitAttempt waits until Run sleeps again, that is, until the attempt in
// progress is recorded.
func (h *harness) waitAttempt() {
	h.t.Helper()
	if !h.clk.WaitForTimers(1, 5*time.Second) {
		h.t.Fatal("the watcher did not schedule its next fetch")
	}
}

// next moves the clock to the next fetch, waits for it to be recorded and
// returns how long after the previous one it was.
func (h *harness) next() time.Duration {
	h.t.Helper()
	h.waitAttempt()
	before := h.clk.Now()
	d, _ := h.clk.NextDeadline()
	h.clk.Set(d)
	h.waitAttempt()
	return d.Sub(before)
}

// nextDelay is how long Run sleeps now.
func (h *harness) nextDelay() time.Duration {
	h.t.Helper()
	h.waitAttempt()
	d, _ := h.clk.NextDeadline()
	if got := h.w.Status().NextFetch; !got.Equal(d) {
		h.t.Errorf("Status().NextFetch = %v, but Run sleeps until %v", got, d)
	}
	return d.Sub(h.clk.Now())
}

func okAnswer(region, family string, revision int) func(describeRequest) (int, string) {
	return func(describeRequest) (int, string) {
		return http.StatusOK, definitionBody(region, family, revision, "ACTIVE", map[string]string{"team": "web"})
	}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", what, got, want)
		}
	}
}
