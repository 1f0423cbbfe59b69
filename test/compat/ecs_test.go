package compat

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
	"github.com/credd-dev/credd/test/internal/moto"
)

// TestECSTaskMirror runs credd against moto_server, an AWS stand-in no one
// here wrote, for all four APIs the mirror uses: STS
// AssumeRoleWithWebIdentity, ECS DescribeTaskDefinition, SSM GetParameters
// and Secrets Manager GetSecretValue, each reached through the endpoint
// variables the AWS SDKs read (AWS_ENDPOINT_URL_ECS, _SSM,
// _SECRETS_MANAGER). It checks the task metadata, `credd env`,
// `credd ecs env` and `credd status` as a user sees them, and that
// OpenTelemetry's ECS detectors (Go and Node) detect the mirrored task.
func TestECSTaskMirror(t *testing.T) {
	t.Parallel()
	motoBin, _, err := motoServer.find()
	if err != nil {
		missing(t, "moto_server", err)
	}
	motoURL := moto.Start(t, motoBin)
	seed := moto.SeedTask(t, motoURL)

	sb := startSandbox(t, sandbox.Options{})
	jwt, err := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "USER=compat",
		"AWS_ENDPOINT_URL_ECS=" + motoURL, "AWS_ENDPOINT_URL_SSM=" + motoURL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + motoURL},
		"--token-source", "command",
		"--token-command", "echo "+jwt,
		"--sts-endpoint", motoURL,
		"--role-arn", "arn:aws:iam::"+moto.Account+":role/web-dev",
		"--session-name", sessionName,
		"--region", "us-east-1",
		"--ecs-task-definition", "web",
		"--ecs-cluster", "dev")
	st := awaitMirror(t, d)
	if st.ECS.Mirrored != seed.ARN || st.ECS.Revision != 1 {
		t.Fatalf("status mirrors %q revision %d, want %s revision 1", st.ECS.Mirrored, st.ECS.Revision, seed.ARN)
	}

	// credd env points the shell at the task metadata too.
	exports := credEnv(t, d)
	v4, v3 := exports["ECS_CONTAINER_METADATA_URI_V4"], exports["ECS_CONTAINER_METADATA_URI"]
	if !strings.HasPrefix(v4, "http://127.0.0.1:") || !strings.Contains(v4, "/v4/") || !strings.Contains(v3, "/v3/") {
		t.Fatalf("credd env: ECS_CONTAINER_METADATA_URI_V4=%q ECS_CONTAINER_METADATA_URI=%q", v4, v3)
	}
	if v4 != st.ECS.MetadataURIV4 {
		t.Errorf("credd env exports %s, status says %s", v4, st.ECS.MetadataURIV4)
	}

	// The documents, as the ECS documentation shapes them ("Task metadata
	// v4 JSON response"): the container's own, then the task's.
	var container map[string]any
	getJSON(t, v4, &container)
	wantFields(t, "container metadata", container, map[string]any{
		"Name": "app", "Image": "public.ecr.aws/nginx/nginx:1.27", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
		"LogDriver": "awslogs",
	})
	labels, _ := container["Labels"].(map[string]any)
	wantFields(t, "container labels", labels, map[string]any{
		"com.amazonaws.ecs.container-name":          "app",
		"com.amazonaws.ecs.task-definition-family":  "web",
		"com.amazonaws.ecs.task-definition-version": "1",
		"team": "payments",
	})
	var task map[string]any
	getJSON(t, v4+"/task", &task)
	wantFields(t, "task metadata", task, map[string]any{
		"Family": "web", "Revision": "1", "LaunchType": "FARGATE", "DesiredStatus": "RUNNING",
		"Cluster": "arn:aws:ecs:us-east-1:" + moto.Account + ":cluster/dev",
	})
	taskARN, _ := task["TaskARN"].(string)
	if !strings.HasPrefix(taskARN, "arn:aws:ecs:us-east-1:"+moto.Account+":task/dev/") || taskARN != st.ECS.TaskARN {
		t.Errorf("TaskARN %q (status: %q)", taskARN, st.ECS.TaskARN)
	}
	if cs, _ := task["Containers"].([]any); len(cs) != 2 {
		t.Errorf("task metadata lists %d containers, the definition has 2", len(cs))
	}
	var withTags map[string]any
	getJSON(t, v4+"/taskWithTags", &withTags)
	if tags, _ := withTags["TaskTags"].(map[string]any); tags["env"] != "dev" {
		t.Errorf("taskWithTags: TaskTags = %v, want the definition's tag env=dev", withTags["TaskTags"])
	}
	var stats map[string]any
	getJSON(t, v4+"/stats", &stats)
	if _, ok := stats["memory_stats"]; !ok {
		t.Errorf("stats: no memory_stats in %v", keys(stats))
	}
	for _, body := range []map[string]any{container, task, withTags} {
		b, _ := json.Marshal(body)
		for _, secret := range []string{seed.DBPassword, seed.APIPassword, "MODE"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("task metadata carries %q from the definition's environment or secrets: %s", secret, b)
			}
		}
	}

	// credd ecs env: the environment, then each secret resolved.
	out, errOut, code := binary.Run(t, cliEnv(), "ecs", "env", "--state-dir", d.StateDir)
	if code != 0 {
		t.Fatalf("credd ecs env: exit %d\n%s\n%s", code, out, errOut)
	}
	got := evalExports(t, out)
	for name, want := range map[string]string{
		"MODE":                          "dev",
		"DB_PASSWORD":                   seed.DBPassword,
		"API_PASSWORD":                  seed.APIPassword,
		"API_SECRET":                    seed.APISecret,
		"ECS_CONTAINER_METADATA_URI_V4": v4,
	} {
		if got[name] != want {
			t.Errorf("credd ecs env: %s=%q, want %q", name, got[name], want)
		}
	}
	for _, secret := range []string{seed.DBPassword, seed.APIPassword} {
		if strings.Contains(d.Logs(), secret) {
			t.Errorf("the daemon logged a secret value")
		}
	}

	// A secret that cannot be resolved is named, with its valueFrom; the
	// others are still printed, and eval fails.
	out, errOut, code = binary.Run(t, cliEnv(), "ecs", "env", "--state-dir", d.StateDir, "--container", "worker")
	if code != 1 || !strings.Contains(errOut, "/web/missing") || !strings.Contains(out, "export QUEUE='jobs'") ||
		!strings.Contains(out, "\nfalse # ") {
		t.Errorf("credd ecs env --container worker with a missing parameter: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// --output writes a 0600 file instead.
	file := t.TempDir() + "/ecs.env"
	if _, errOut, code := binary.Run(t, cliEnv(), "ecs", "env", "--state-dir", d.StateDir, "--output", file); code != 0 {
		t.Fatalf("credd ecs env --output: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--output file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	// credd status says what it mirrors.
	text, _, _ := binary.Run(t, cliEnv(), "status", "--state-dir", d.StateDir)
	for _, want := range []string{"ECS task web: mirrored", seed.ARN, ":cluster/dev", "ECS_CONTAINER_METADATA_URI_V4=" + v4} {
		if !strings.Contains(text, want) {
			t.Errorf("credd status does not say %q:\n%s", want, text)
		}
	}

	// The real consumers: OpenTelemetry's ECS resource detectors.
	for _, runtime := range []string{"go", "node"} {
		attrs := otelECSDetect(t, runtime, v4, v3)
		wantFields(t, "OpenTelemetry ("+runtime+") ECS detector", attrs, map[string]any{
			"cloud.provider":        "aws",
			"cloud.platform":        "aws_ecs",
			"aws.ecs.launchtype":    "fargate",
			"aws.ecs.task.family":   "web",
			"aws.ecs.task.revision": "1",
			"aws.ecs.cluster.arn":   "arn:aws:ecs:us-east-1:" + moto.Account + ":cluster/dev",
			"aws.ecs.task.arn":      taskARN,
		})
	}
}

// awaitMirror waits until the daemon mirrors its task definition.
func awaitMirror(t *testing.T, d *harness.Daemon) daemon.Status {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := status(t, d)
		if err == nil && st.ECS != nil && st.ECS.Mirrored != "" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task definition was not mirrored within 30s: %+v\n%s", st.ECS, d.Logs())
		}
	}
}

// getJSON GETs a task metadata URL as the detectors do: no token.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %q: %s", url, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// wantFields checks fields of a JSON object (or attribute map).
func wantFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %#v, want %#v", what, k, got[k], v)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// evalExports runs export lines in a real POSIX shell and returns the
// variables they set, so quoting is checked the way eval sees it.
func evalExports(t *testing.T, lines string) map[string]string {
	t.Helper()
	cmd := exec.Command("sh", "-c", `eval "$1" && env -0`, "sh", lines)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("eval of the export lines: %v\n%s", err, lines)
	}
	vars := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars
}
