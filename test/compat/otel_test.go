package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// OpenTelemetry's ECS resource detectors are real consumers of the task
// metadata endpoint v4 credd serves:
//
//	go    go.opentelemetry.io/contrib/detectors/aws/ecs v1.47.0, detectors/aws/ecs/ecs.go,
//	      run by goclient/otelecs (a module of its own)
//	node  @opentelemetry/resource-detector-aws 3.0.0, src/detectors/AwsEcsDetector.ts,
//	      run by node-otel/detect.js
//
// Both GET only $ECS_CONTAINER_METADATA_URI_V4 and $ECS_CONTAINER_METADATA_URI_V4/task;
// ECS_CONTAINER_METADATA_URI (v3) only has to be set. container.name is the
// hostname and container.id comes from /proc/self/cgroup, in both: the
// endpoint cannot set them.

// otelECSDetect runs runtime's ("go" or "node") ECS resource detector with
// only PATH, HOME and the two ECS variables (an empty URI leaves its
// variable unset), and returns the attributes it detected. A failed
// detection fails the test with the program's stderr; a missing Node skips
// it (or fails it in CI).
func otelECSDetect(t *testing.T, runtime string, metadataV4, metadataV3 string) map[string]any {
	t.Helper()
	argv, err := otelDetector(runtime)
	if errors.Is(err, errMissing) {
		missing(t, "OpenTelemetry ECS detector ("+runtime+")", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if metadataV4 != "" {
		env = append(env, "ECS_CONTAINER_METADATA_URI_V4="+metadataV4)
	}
	if metadataV3 != "" {
		env = append(env, "ECS_CONTAINER_METADATA_URI="+metadataV3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := command(ctx, argv, nil, env)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("OpenTelemetry ECS detector (%s), V4=%q V3=%q: %v\nstderr:\n%s", runtime, metadataV4, metadataV3, err, stderr.String())
	}
	attrs := map[string]any{}
	if err := json.Unmarshal(stdout.Bytes(), &attrs); err != nil {
		t.Fatalf("OpenTelemetry ECS detector (%s): output is not one JSON object: %v\nstdout:\n%s\nstderr:\n%s", runtime, err, stdout.String(), stderr.String())
	}
	return attrs
}

// otelDetector returns the command that runs runtime's detector.
func otelDetector(runtime string) ([]string, error) {
	switch runtime {
	case "go":
		path, err := otelGoDetector()
		return []string{path}, err
	case "node":
		return otelNodeDetector()
	}
	return nil, fmt.Errorf("otelECSDetect: runtime %q: want \"go\" or \"node\"", runtime)
}

// otelGoBuild is goclient/otelecs, built once per test binary.
var otelGoBuild struct {
	once sync.Once
	path string
	err  error
}

func otelGoDetector() (string, error) {
	otelGoBuild.once.Do(func() {
		// Next to the credd binary TestMain built: harness.Remove deletes
		// that directory when the tests are done.
		path := filepath.Join(filepath.Dir(string(binary)), "otelecs")
		out, err := exec.Command("go", "build", "-C", "goclient/otelecs", "-o", path, ".").CombinedOutput()
		if err != nil {
			otelGoBuild.err = fmt.Errorf("go build -C goclient/otelecs: %v\n%s", err, out)
			return
		}
		otelGoBuild.path = path
	})
	return otelGoBuild.path, otelGoBuild.err
}

// otelNodeDetector runs node-otel/detect.js, once `npm ci` has installed it.
func otelNodeDetector() ([]string, error) {
	bin, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node", errMissing)
	}
	dir, err := filepath.Abs("node-otel")
	if err != nil {
		return nil, err
	}
	const pkg = "@opentelemetry/resource-detector-aws"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
		return nil, fmt.Errorf("%w: npm package %s (run `npm ci` in test/compat/node-otel, as test/setup.sh does)", errMissing, pkg)
	}
	return []string{bin, filepath.Join(dir, "detect.js")}, nil
}

// otelMetadataServer serves the documented task metadata v4 example on
// loopback, as the ECS agent would at /v4/<id>, and records what it was
// asked for.
type otelMetadataServer struct {
	v4, v3 string // the two URIs, as the ECS agent sets them
	mu     sync.Mutex
	asked  []string // "GET /v4/<id>/task", in arrival order
}

// otelMetadataID is the id in the metadata URIs: the agent uses the
// container's Docker id, here the documented container's.
const otelMetadataID = "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66"

func newOTelMetadataServer(t *testing.T) *otelMetadataServer {
	t.Helper()
	container, task := readOTelExample(t, "container.json"), readOTelExample(t, "task.json")
	s := &otelMetadataServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v4/"+otelMetadataID, s.serve(container))
	mux.HandleFunc("GET /v4/"+otelMetadataID+"/task", s.serve(task))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux) // on 127.0.0.1:0
	t.Cleanup(srv.Close)
	s.v4 = srv.URL + "/v4/" + otelMetadataID
	s.v3 = srv.URL + "/v3/" + otelMetadataID
	return s
}

func (s *otelMetadataServer) serve(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func (s *otelMetadataServer) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, r.Method+" "+r.URL.RequestURI())
}

// requests returns what the server was asked for, sorted: the Node
// detector sends its two GETs at once.
func (s *otelMetadataServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(slices.Values(s.asked))
}

// readOTelExample reads one of the AWS-documented responses in
// testdata/ecs (see its README.md).
func readOTelExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ecs", name))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("testdata/ecs/%s is not JSON", name)
	}
	return b
}

func TestOTelECSDetectorsOnDocumentedExample(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// What the detectors read for container.id; both carry on without it.
	cgroup, _ := os.ReadFile("/proc/self/cgroup")

	// The documented example's values (testdata/ecs/README.md). Its two
	// responses are of two runs of the task: the task's attributes come from
	// task.json (revision 26, task 158d1c80…), the container's ARN and
	// awslogs options from container.json (task 8f03e412…).
	const (
		taskARN      = "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c"
		containerARN = "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9"
		logGroupARN  = "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/metadata"
	)
	// Without a v4 URI the detectors fetch nothing and say only this.
	v3Only := map[string]any{
		"cloud.provider": "aws",
		"cloud.platform": "aws_ecs",
		"container.name": hostname,
	}
	documented := maps.Clone(v3Only)
	maps.Copy(documented, map[string]any{
		"aws.ecs.launchtype":    "ec2", // LaunchType "EC2", lower-cased
		"aws.ecs.task.family":   "curltest",
		"aws.ecs.task.revision": "26",
		// Cluster "default" is a short name: both make an ARN of it with the
		// task ARN's prefix.
		"aws.ecs.cluster.arn":     "arn:aws:ecs:us-west-2:111122223333:cluster/default",
		"aws.ecs.task.arn":        taskARN,
		"aws.ecs.container.arn":   containerARN,
		"cloud.resource_id":       containerARN,
		"cloud.region":            "us-west-2",    // from the task ARN
		"cloud.account.id":        "111122223333", // from the task ARN
		"cloud.availability_zone": "us-west-2d",
		// LogDriver "awslogs" and its LogOptions.
		"aws.log.group.names":  []any{"/ecs/metadata"},
		"aws.log.stream.names": []any{"ecs/curl/8f03e41243824aea923aca126495f665"},
		"aws.log.stream.arns":  []any{logGroupARN + ":log-stream:ecs/curl/8f03e41243824aea923aca126495f665"},
	})

	for _, runtime := range []string{"go", "node"} {
		t.Run(runtime, func(t *testing.T) {
			t.Parallel()
			want, wantV3Only := maps.Clone(documented), maps.Clone(v3Only)
			switch runtime {
			case "go":
				// ecs.go getLogsAttributes: the group's ARN ends in ":*".
				want["aws.log.group.arns"] = []any{logGroupARN + ":*"}
				// ecs.go Detect sets container.id even when it is "".
				want["container.id"] = goCgroupContainerID(cgroup)
				wantV3Only["container.id"] = want["container.id"]
			case "node":
				// AwsEcsDetector.ts _addLogAttrs: no ":*".
				want["aws.log.group.arns"] = []any{logGroupARN}
				// _getContainerId: undefined, which the resource leaves out,
				// when no line fits.
				if id := nodeCgroupContainerID(cgroup); id != "" {
					want["container.id"] = id
					wantV3Only["container.id"] = id
				}
			}

			s := newOTelMetadataServer(t)
			got := otelECSDetect(t, runtime, s.v4, s.v3)
			t.Logf("%s detector, documented example: %v; requests: %q", runtime, got, s.requests())
			checkOTelAttributes(t, runtime+" detector, documented example", got, want)
			v4Path := "/v4/" + otelMetadataID
			if asked, wantAsked := s.requests(), []string{"GET " + v4Path, "GET " + v4Path + "/task"}; !slices.Equal(asked, wantAsked) {
				t.Errorf("%s detector asked for %q, want %q", runtime, asked, wantAsked)
			}

			// ECS_CONTAINER_METADATA_URI alone: the detector only notes it
			// is on ECS, and fetches nothing.
			s = newOTelMetadataServer(t)
			got = otelECSDetect(t, runtime, "", s.v3)
			checkOTelAttributes(t, runtime+" detector, v3 URI only", got, wantV3Only)
			if asked := s.requests(); len(asked) != 0 {
				t.Errorf("%s detector with only the v3 URI asked for %q, want nothing", runtime, asked)
			}
		})
	}
}

// checkOTelAttributes compares detected attributes with want, key by key.
func checkOTelAttributes(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := got[k]; !ok {
			t.Errorf("%s: no %s, want %#v", what, k, want[k])
		} else if !reflect.DeepEqual(v, want[k]) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, v, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s = %#v (update the test if the detector now says more)", what, k, got[k])
		}
	}
}

// goCgroupContainerID is the Go detector's container.id for a
// /proc/self/cgroup (ecs.go getCgroupContainerID): the last 64 characters
// of the first line matching ecsCgroupPathPattern, else "".
func goCgroupContainerID(cgroup []byte) string {
	pattern := regexp.MustCompile(`/ecs/[^/]+/[a-f0-9]{64}$`)
	for line := range strings.SplitSeq(strings.TrimSpace(string(cgroup)), "\n") {
		if pattern.MatchString(line) {
			return line[len(line)-64:]
		}
	}
	return ""
}

// nodeCgroupContainerID is the Node detector's container.id for a
// /proc/self/cgroup (AwsEcsDetector.ts _getContainerId), "" for none:
// three passes over the trimmed non-empty lines, each returning its
// first hit. Outside ECS the second can take a non-container id, as
// "4:memory:/some/cgroup/<32 hex digits>" gives.
func nodeCgroupContainerID(cgroup []byte) string {
	var lines []string
	for line := range strings.SplitSeq(string(cgroup), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	idLength := func(id string) bool { return len(id) >= 32 && len(id) <= 64 }
	primary := regexp.MustCompile(`/ecs/[a-fA-F0-9-]+/([a-fA-F0-9-]+)$`)
	hex := regexp.MustCompile(`^[a-fA-F0-9-]+$`)
	for _, line := range lines { // _extractPrimaryEcsContainerId
		if m := primary.FindStringSubmatch(line); m != nil && idLength(m[1]) {
			return m[1]
		}
	}
	for _, line := range lines { // _extractLastSegmentContainerId
		parts := strings.Split(line, "/")
		if last := parts[len(parts)-1]; len(parts) > 1 && idLength(last) && hex.MatchString(last) {
			return last
		}
	}
	for _, line := range lines { // _extractLegacyContainerId
		if len(line) > 64 {
			return line[len(line)-64:]
		}
	}
	return ""
}
