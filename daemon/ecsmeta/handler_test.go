package ecsmeta

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func devTask() *Task {
	return &Task{Definition: curlDefinition(24, ecstypes.CompatibilityEc2, "/ecs/metadata"), TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"}
}

func decodeError(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Code, e.Message
}

func TestBeforeTheTaskIsFetchedEveryPathAnswers503(t *testing.T) {
	h := NewHandler(Options{Hostname: "devbox", Family: "curltest"})
	id := h.ID()
	if id == "" {
		t.Fatal("ID() is empty although Options names the family")
	}
	for _, p := range []string{"/v4/" + id, "/v4/" + id + "/task", "/v4/" + id + "/stats", "/v3/" + id + "/task/stats"} {
		status, hdr, body := get(t, h, p)
		if status != http.StatusServiceUnavailable {
			t.Errorf("GET %s: status %d, want 503", p, status)
		}
		if ct := hdr.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		code, msg := decodeError(t, body)
		if code != "TaskDefinitionNotFetched" || !strings.Contains(msg, "credd status") || !strings.Contains(msg, "not fetched") {
			t.Errorf("GET %s: body %s", p, body)
		}
	}
	// The id is known, so another one is not found rather than unavailable.
	if status, _, _ := get(t, h, "/v4/0123456789abcdef0123456789abcdef-0123456789"); status != http.StatusNotFound {
		t.Errorf("another id before the fetch: status %d, want 404", status)
	}

	// Without the family the id is not known yet: any id waits.
	h = NewHandler(Options{})
	if h.ID() != "" {
		t.Errorf("ID() = %q with no family and no task", h.ID())
	}
	if v4, v3 := URIs("http://127.0.0.1:9911", h.ID()); v4 != "" || v3 != "" {
		t.Errorf("URIs with no id = %q, %q; want none", v4, v3)
	}
	if status, _, _ := get(t, h, "/v4/whatever"); status != http.StatusServiceUnavailable {
		t.Errorf("any id with no task and no family: status %d, want 503", status)
	}
}

func TestRouting(t *testing.T) {
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2"})
	mustSetTask(t, h, devTask())
	d := h.docs.Load()
	id := h.ID()
	for _, tt := range []struct {
		path   string
		status int
		body   []byte // nil: any JSON object
	}{
		{"/v4/" + id, 200, d.containerV4},
		{"/v4/" + id + "/task", 200, d.taskV4},
		{"/v4/" + id + "/taskWithTags", 200, d.taskWithTagsV4},
		{"/v4/" + id + "/stats", 200, nil},
		{"/v4/" + id + "/task/stats", 200, nil},
		{"/v3/" + id, 200, d.containerV3},
		{"/v3/" + id + "/task", 200, d.taskV3},
		{"/v3/" + id + "/taskWithTags", 200, d.taskWithTagsV3},
		{"/v3/" + id + "/stats", 200, nil},
		{"/v3/" + id + "/task/stats", 200, nil},
		{"/v4/" + id + "/", 404, unknownPath},
		{"/v4/" + id + "/task/", 404, unknownPath},
		{"/v4/" + id + "/tasks", 404, unknownPath},
		{"/v4/" + id + "/credentials", 404, unknownPath},
		{"/v4/", 404, unknownPath},
		{"/v4//task", 404, unknownPath},
		{"/v2/metadata", 404, unknownPath},
		{"/v4/" + strings.ToUpper(id), 404, unknownIDBody},
		{"/v3/not-the-id/task", 404, unknownIDBody},
	} {
		status, hdr, body := get(t, h, tt.path)
		if status != tt.status {
			t.Errorf("GET %s: status %d, want %d (%s)", tt.path, status, tt.status, body)
			continue
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", tt.path, ct)
		}
		if tt.body != nil && !bytes.Equal(body, tt.body) {
			t.Errorf("GET %s: body\n%s\nwant\n%s", tt.path, body, tt.body)
		}
		if !json.Valid(body) {
			t.Errorf("GET %s: not JSON: %s", tt.path, body)
		}
	}
	if code, _ := decodeError(t, unknownIDBody); code != "NotFound" {
		t.Errorf("unknown id code %q", code)
	}
}

func TestIDIsStableAndOpaque(t *testing.T) {
	a := newTestHandler(t, handlerSetup{})
	mustSetTask(t, a, devTask())
	b := newTestHandler(t, handlerSetup{})
	next := devTask()
	next.Definition = curlDefinition(25, ecstypes.CompatibilityEc2, "/ecs/metadata") // a new revision
	next.StartedAt = testStart.Add(time.Hour)                                        // a restart
	mustSetTask(t, b, next)
	if a.ID() != b.ID() {
		t.Errorf("the id changed with the revision or a restart: %s, then %s", a.ID(), b.ID())
	}
	if pre := NewHandler(Options{Hostname: "devbox", Family: "curltest"}).ID(); pre != a.ID() {
		t.Errorf("the id before the fetch %s differs from the one after %s", pre, a.ID())
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}-[0-9]{10}$`).MatchString(a.ID()) {
		t.Errorf("id %q is not 32 hex digits, a hyphen and 10 digits", a.ID())
	}
	for name, other := range map[string]Options{
		"another host":      {Hostname: "otherbox", Family: "curltest"},
		"another family":    {Hostname: "devbox", Family: "other"},
		"another container": {Hostname: "devbox", Family: "curltest", Container: "sidecar"},
	} {
		if NewHandler(other).ID() == a.ID() {
			t.Errorf("%s: same id", name)
		}
	}
	v4, v3 := URIs("http://127.0.0.1:9911/", a.ID())
	if v4 != "http://127.0.0.1:9911/v4/"+a.ID() || v3 != "http://127.0.0.1:9911/v3/"+a.ID() {
		t.Errorf("URIs = %s, %s", v4, v3)
	}
}

func TestNothingFromTheEnvironmentOrSecretsIsServed(t *testing.T) {
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2"})
	task := devTask()
	task.TagsAllowed = false
	mustSetTask(t, h, task)
	id := h.ID()
	for _, v := range []string{"v3", "v4"} {
		for _, sub := range []string{"", "/task", "/taskWithTags", "/stats", "/task/stats"} {
			_, _, body := get(t, h, "/"+v+"/"+id+sub)
			for _, s := range secretSentinels {
				if bytes.Contains(body, []byte(s)) {
					t.Errorf("/%s/<id>%s serves %q from the definition's environment, secrets or credentials", v, sub, s)
				}
			}
		}
	}
}

func TestSetTaskSwapsWhileRequestsAreServed(t *testing.T) {
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2"})
	tasks := []*Task{devTask(), devTask()}
	tasks[1].Definition = curlDefinition(25, ecstypes.CompatibilityEc2, "/ecs/metadata")
	mustSetTask(t, h, tasks[1])
	want25 := h.docs.Load().taskV4
	mustSetTask(t, h, tasks[0])
	want24 := h.docs.Load().taskV4

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, _, body := get(t, h, "/v4/"+h.ID()+"/task")
				if status != 200 || !bytes.Equal(body, want24) && !bytes.Equal(body, want25) {
					t.Errorf("a request during the swap got %d %s", status, body)
					return
				}
				get(t, h, "/v4/"+h.ID()+"/stats")
			}
		})
	}
	for i := range 200 {
		if err := h.SetTask(tasks[i%2]); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestSetTaskRefusesWhatCannotBeMirrored(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Task)
		want   string
	}{
		{"no definition", func(t *Task) { t.Definition = nil }, "no definition"},
		{"no such container", func(t *Task) { t.Container = "web" }, `no container "web": set --ecs-container to one of curl`},
		{"no essential container", func(t *Task) { t.Definition.ContainerDefinitions[0].Essential = aws.Bool(false) }, "no essential container"},
		{"a bad ARN", func(t *Task) { t.Definition.TaskDefinitionArn = aws.String("curltest:24") }, "is not arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION"},
		{"a bad cluster name", func(t *Task) { t.Cluster = "my cluster" }, "not a valid cluster name"},
		{"a cluster in another account", func(t *Task) { t.Cluster = "arn:aws:ecs:us-west-2:999999999999:cluster/dev" }, "not in the task definition's account and region"},
		{"a cluster ARN of another kind", func(t *Task) { t.Cluster = "arn:aws:ecs:us-west-2:111122223333:service/dev/web" }, "is not a cluster ARN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, handlerSetup{})
			mustSetTask(t, h, devTask())
			before := h.docs.Load()
			task := devTask()
			tt.change(task)
			err := h.SetTask(task)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetTask: %v, want an error containing %q", err, tt.want)
			}
			if h.docs.Load() != before {
				t.Error("a refused task replaced the served one")
			}
		})
	}
	t.Run("nil stops serving", func(t *testing.T) {
		h := newTestHandler(t, handlerSetup{})
		mustSetTask(t, h, devTask())
		mustSetTask(t, h, nil)
		if status, _, _ := get(t, h, "/v4/"+h.ID()); status != http.StatusServiceUnavailable {
			t.Errorf("after SetTask(nil): status %d, want 503", status)
		}
	})
}

func TestContainerAndClusterChoices(t *testing.T) {
	def := curlDefinition(24, ecstypes.CompatibilityEc2, "/ecs/metadata")
	sidecar := ecstypes.ContainerDefinition{Name: aws.String("xray"), Image: aws.String("amazon/aws-xray-daemon"), Essential: aws.Bool(false)}
	def.ContainerDefinitions = append([]ecstypes.ContainerDefinition{sidecar}, def.ContainerDefinitions...)
	task := devTask()
	task.Definition = def
	task.Cluster = "arn:aws:ecs:us-west-2:111122223333:cluster/dev"
	h := newTestHandler(t, handlerSetup{})
	mustSetTask(t, h, task)
	if h.ContainerName() != "curl" {
		t.Errorf("ContainerName() = %q, want the first essential container, curl", h.ContainerName())
	}
	if h.Cluster() != "arn:aws:ecs:us-west-2:111122223333:cluster/dev" || !strings.Contains(h.TaskARN(), ":task/dev/") {
		t.Errorf("Cluster() = %q, TaskARN() = %q", h.Cluster(), h.TaskARN())
	}
	doc := getJSON(t, h, "/v4/"+h.ID()+"/task")
	cs := doc["Containers"].([]any)
	xray, curl := cs[0].(map[string]any), cs[1].(map[string]any)
	if xray["KnownStatus"] != "NONE" || xray["StartedAt"] != nil || curl["KnownStatus"] != "RUNNING" {
		t.Errorf("statuses: xray %v (started %v), curl %v", xray["KnownStatus"], xray["StartedAt"], curl["KnownStatus"])
	}
	if xray["Limits"].(map[string]any)["CPU"] != float64(minimumCPUUnit) {
		t.Errorf("a container without cpu has CPU %v, want the agent's minimum %d", xray["Limits"], minimumCPUUnit)
	}
}

// The partition comes from the task definition ARN.
func TestChinaPartition(t *testing.T) {
	task := devTask()
	task.Definition.TaskDefinitionArn = aws.String("arn:aws-cn:ecs:cn-north-1:111122223333:task-definition/curltest:24")
	h := newTestHandler(t, handlerSetup{})
	mustSetTask(t, h, task)
	if !strings.HasPrefix(h.TaskARN(), "arn:aws-cn:ecs:cn-north-1:111122223333:task/default/") || h.Cluster() != "arn:aws-cn:ecs:cn-north-1:111122223333:cluster/default" {
		t.Errorf("TaskARN() = %q, Cluster() = %q", h.TaskARN(), h.Cluster())
	}
}
