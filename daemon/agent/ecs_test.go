package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/ecstask"
)

// fakeECS answers DescribeTaskDefinition (JSON 1.1, as the ECS API
// reference gives it) with revision rev of family web, and records the
// access key each request was signed with.
type fakeECS struct {
	rev     atomic.Int32
	signers atomic.Value // string: the last request's Authorization header
}

func (f *fakeECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	f.signers.Store(r.Header.Get("Authorization"))
	rev := f.rev.Load()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fmt.Fprintf(w, `{"taskDefinition":{"taskDefinitionArn":"arn:aws:ecs:us-east-1:123456789012:task-definition/web:%d",
		"family":"web","revision":%d,"status":"ACTIVE","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],
		"cpu":"256","memory":"512","containerDefinitions":[{"name":"app","image":"nginx:%d","essential":true,
		"environment":[{"name":"REVISION","value":"%d"}]}]},"tags":[]}`, rev, rev, rev, rev)
}

// TestECSMirrorFollowsTheLatestRevision runs the wiring in process: the
// task definition is read with the default role's credentials, its
// metadata served on the endpoint without a token, a new revision
// followed, and `credd ecs env`'s route answers from the revision now
// mirrored.
func TestECSMirrorFollowsTheLatestRevision(t *testing.T) {
	fake := &fakeECS{}
	fake.rev.Store(1)
	ecsAPI := httptest.NewServer(fake)
	t.Cleanup(ecsAPI.Close)

	cfg := sandboxConfig(t, sandboxRole("default"))
	ref, err := ecstask.ParseRef("web")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ECS = &config.ECS{TaskDefinition: ref, Cluster: "dev", Region: "us-east-1", Endpoint: ecsAPI.URL}
	a := startAgent(t, Options{Config: cfg, ECSPollInterval: time.Second})

	st := awaitECS(t, a, func(rev int) bool { return rev == 1 })
	if !strings.Contains(fmt.Sprint(fake.signers.Load()), "Credential=ASIA") {
		t.Errorf("DescribeTaskDefinition was not signed with the role's STS credentials: %v", fake.signers.Load())
	}
	task := getTask(t, st.ECS.MetadataURIV4+"/task")
	if task["Revision"] != "1" || task["Family"] != "web" {
		t.Fatalf("/task = %v", task)
	}

	fake.rev.Store(2)
	st = awaitECS(t, a, func(rev int) bool { return rev == 2 })
	if c := st.ECS.LastChange; c == nil || !strings.HasSuffix(c.From, ":1") || !strings.HasSuffix(c.To, ":2") {
		t.Errorf("LastChange = %+v, want web:1 -> web:2", st.ECS.LastChange)
	}
	if task := getTask(t, st.ECS.MetadataURIV4+"/task"); task["Revision"] != "2" {
		t.Errorf("after the new revision, /task says revision %v", task["Revision"])
	}

	res, code, derr := a.ecsEnv(context.Background(), control.ECSEnvRequest{})
	if derr != nil || len(res.Vars) != 1 || res.Vars[0].Value != "2" || res.Container != "app" {
		t.Errorf("ecs env: %+v, %d, %v", res, code, derr)
	}
	if _, code, derr := a.ecsEnv(context.Background(), control.ECSEnvRequest{Container: "nope"}); derr == nil || code != http.StatusNotFound {
		t.Errorf("ecs env for an unknown container: %d %v", code, derr)
	}
}

func TestECSEnvWithoutAMirroredTask(t *testing.T) {
	a := startAgent(t, Options{Config: sandboxConfig(t, sandboxRole("default"))})
	if _, code, derr := a.ecsEnv(context.Background(), control.ECSEnvRequest{}); derr == nil || code != http.StatusNotFound || !strings.Contains(derr.Hint, "--ecs-task-definition") {
		t.Errorf("no task mirrored: %d %+v", code, derr)
	}
	if st := a.Status(); st.ECS != nil {
		t.Errorf("status shows a mirror: %+v", st.ECS)
	}
}

func awaitECS(t *testing.T, a *Agent, ok func(rev int) bool) (st daemon.Status) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st = a.Status()
		if st.ECS != nil && ok(st.ECS.Revision) && st.ECS.TaskARN != "" {
			return st
		}
	}
	t.Fatalf("the mirror did not reach the revision wanted: %+v", st.ECS)
	return st
}

func getTask(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return v
}
