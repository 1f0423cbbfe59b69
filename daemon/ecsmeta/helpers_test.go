package ecsmeta

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/credd-dev/credd/daemon/clock"
)

// Values that must never appear in a document: they sit in the parts of
// a definition the metadata endpoint does not serve.
var secretSentinels = []string{
	"env-sentinel-value", "ENV_SENTINEL_NAME", "secret-sentinel-valuefrom", "SECRET_SENTINEL_NAME",
	"logsecret-sentinel", "repocreds-sentinel", "envfile-sentinel",
}

// curlDefinition is the task definition behind the v4 examples: family
// curltest, container curl, its image, cpu 10, memory 128, awslogs to
// /ecs/metadata in us-west-2 with the stream prefix "ecs" (the examples'
// stream is ecs/curl/<task id>), awsvpc. It carries an environment and
// secrets, which must not be served.
func curlDefinition(revision int32, compat ecstypes.Compatibility, logGroup string) *ecstypes.TaskDefinition {
	return &ecstypes.TaskDefinition{
		TaskDefinitionArn:       aws.String(fmt.Sprintf("arn:aws:ecs:us-west-2:111122223333:task-definition/curltest:%d", revision)),
		Family:                  aws.String("curltest"),
		Revision:                revision,
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{compat},
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:      aws.String("curl"),
			Image:     aws.String("111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest"),
			Cpu:       10,
			Memory:    aws.Int32(128),
			Essential: aws.Bool(true),
			LogConfiguration: &ecstypes.LogConfiguration{
				LogDriver: ecstypes.LogDriverAwslogs,
				Options: map[string]string{
					"awslogs-create-group":  "true",
					"awslogs-group":         logGroup,
					"awslogs-region":        "us-west-2",
					"awslogs-stream-prefix": "ecs",
				},
				SecretOptions: []ecstypes.Secret{{Name: aws.String("logsecret-sentinel"), ValueFrom: aws.String("logsecret-sentinel")}},
			},
			Environment:           []ecstypes.KeyValuePair{{Name: aws.String("ENV_SENTINEL_NAME"), Value: aws.String("env-sentinel-value")}},
			Secrets:               []ecstypes.Secret{{Name: aws.String("SECRET_SENTINEL_NAME"), ValueFrom: aws.String("secret-sentinel-valuefrom")}},
			RepositoryCredentials: &ecstypes.RepositoryCredentials{CredentialsParameter: aws.String("repocreds-sentinel")},
			EnvironmentFiles:      []ecstypes.EnvironmentFile{{Type: ecstypes.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::envfile-sentinel/x.env")}},
		}},
	}
}

// testStart is when the test daemon started.
var testStart = time.Date(2020, 10, 2, 0, 15, 7, 620912337, time.UTC)

type handlerSetup struct {
	root  string
	addrs []hostAddr
	clock clock.Clock
}

// newTestHandler builds a Handler on a stats root (an empty one by
// default: no own Docker id, no counters) with the given addresses.
func newTestHandler(t *testing.T, s handlerSetup) *Handler {
	t.Helper()
	if s.root == "" {
		s.root = t.TempDir()
	}
	if s.clock == nil {
		s.clock = clock.NewFake(testStart.Add(time.Minute))
	}
	h := NewHandler(Options{Clock: s.clock, StatsRoot: s.root})
	h.addrs = func() []hostAddr { return s.addrs }
	return h
}

func mustSetTask(t *testing.T, h *Handler, task *Task) {
	t.Helper()
	if err := h.SetTask(task); err != nil {
		t.Fatalf("SetTask: %v", err)
	}
}

// get serves one GET and returns the status, headers and body.
func get(t *testing.T, h http.Handler, path string) (int, http.Header, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9911"+path, nil))
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

// getJSON serves one GET that must succeed and decodes its body.
func getJSON(t *testing.T, h http.Handler, path string) map[string]any {
	t.Helper()
	status, _, body := get(t, h, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", path, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return m
}

func readExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// check tells whether a field that differs by nature has the right form;
// got is nil when the field is absent.
type check func(got any) error

func absent(got any) error {
	if got != nil {
		return fmt.Errorf("is %v, want it left out", got)
	}
	return nil
}

func equals(want any) check {
	return func(got any) error {
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("is %#v, want %#v", got, want)
		}
		return nil
	}
}

func matches(pattern string) check {
	re := regexp.MustCompile(pattern)
	return func(got any) error {
		s, ok := got.(string)
		if !ok || !re.MatchString(s) {
			return fmt.Errorf("is %#v, want a string matching %s", got, pattern)
		}
		return nil
	}
}

// byNature lists, by path ("Labels/com.amazonaws.ecs.task-arn",
// "Networks/0/MACAddress"), the fields whose values differ by nature.
type byNature map[string]check

// compareWithExample checks the fields of byNature, then requires every
// other field to be equal in both documents, neither having one the
// other lacks.
func compareWithExample(t *testing.T, want, got map[string]any, nature byNature) {
	t.Helper()
	for path, c := range nature {
		if err := c(lookup(got, path)); err != nil {
			t.Errorf("%s %v", path, err)
		}
		remove(got, path)
		remove(want, path)
	}
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", "  ")
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("the fields that should equal the documented example differ:\n--- got\n%s\n--- documented\n%s", g, w)
	}
}

func lookup(v any, path string) any {
	for _, seg := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func remove(v any, path string) {
	i := strings.LastIndex(path, "/")
	parent, key := v, path
	if i >= 0 {
		parent, key = lookup(v, path[:i]), path[i+1:]
	}
	if m, ok := parent.(map[string]any); ok {
		delete(m, key)
	}
}
