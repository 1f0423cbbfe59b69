package compat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// motoAccount is the account moto_server answers for (moto's
// DEFAULT_ACCOUNT_ID).
const motoAccount = "123456789012"

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
	motoURL := startMoto(t, motoBin)
	seed := seedMoto(t, motoURL)

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
		"--role-arn", "arn:aws:iam::"+motoAccount+":role/web-dev",
		"--session-name", sessionName,
		"--region", "us-east-1",
		"--ecs-task-definition", "web",
		"--ecs-cluster", "dev")
	st := awaitMirror(t, d)
	if st.ECS.Mirrored != seed.arn || st.ECS.Revision != 1 {
		t.Fatalf("status mirrors %q revision %d, want %s revision 1", st.ECS.Mirrored, st.ECS.Revision, seed.arn)
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
		"Cluster": "arn:aws:ecs:us-east-1:" + motoAccount + ":cluster/dev",
	})
	taskARN, _ := task["TaskARN"].(string)
	if !strings.HasPrefix(taskARN, "arn:aws:ecs:us-east-1:"+motoAccount+":task/dev/") || taskARN != st.ECS.TaskARN {
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
		for _, secret := range []string{seed.dbPassword, seed.apiPassword, "MODE"} {
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
		"DB_PASSWORD":                   seed.dbPassword,
		"API_PASSWORD":                  seed.apiPassword,
		"API_SECRET":                    seed.apiSecret,
		"ECS_CONTAINER_METADATA_URI_V4": v4,
	} {
		if got[name] != want {
			t.Errorf("credd ecs env: %s=%q, want %q", name, got[name], want)
		}
	}
	for _, secret := range []string{seed.dbPassword, seed.apiPassword} {
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
	for _, want := range []string{"ECS task web: mirrored", seed.arn, ":cluster/dev", "ECS_CONTAINER_METADATA_URI_V4=" + v4} {
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
			"aws.ecs.cluster.arn":   "arn:aws:ecs:us-east-1:" + motoAccount + ":cluster/dev",
			"aws.ecs.task.arn":      taskARN,
		})
	}
}

// mirrorSeed is what seedMoto registered.
type mirrorSeed struct {
	arn                                string
	dbPassword, apiPassword, apiSecret string
}

// seedMoto registers the task definition credd mirrors, with an
// environment and secrets from SSM and Secrets Manager (whole, and one JSON
// key in the documented arn:...:secret:NAME:json-key:version-stage:version-id
// form). Not an SSM parameter by ARN: moto 5.2's GetParameters matches
// names only (its ssm/models.py splits each name at ":"), where SSM takes
// ARNs too; daemon/ecsenv's tests cover that form.
func seedMoto(t *testing.T, motoURL string) mirrorSeed {
	t.Helper()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("seed", "seed", ""),
		BaseEndpoint: aws.String(motoURL)}
	seed := mirrorSeed{dbPassword: "db-pa55 'quoted' $HOME", apiPassword: "api-pa55", apiSecret: `{"username":"svc","password":"api-pa55"}`}

	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/web/db-password"), Value: aws.String(seed.dbPassword), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatalf("seed SSM: %v", err)
	}
	secret, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("web/api"), SecretString: aws.String(seed.apiSecret),
	})
	if err != nil {
		t.Fatalf("seed Secrets Manager: %v", err)
	}
	secretARN := aws.ToString(secret.ARN)
	out, err := ecs.NewFromConfig(cfg).RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String("web"),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("512"),
		Memory:                  aws.String("1024"),
		Tags:                    []ecstypes.Tag{{Key: aws.String("env"), Value: aws.String("dev")}},
		ContainerDefinitions: []ecstypes.ContainerDefinition{
			{
				Name: aws.String("app"), Image: aws.String("public.ecr.aws/nginx/nginx:1.27"), Essential: aws.Bool(true),
				Cpu: 256, Memory: aws.Int32(512),
				DockerLabels: map[string]string{"team": "payments"},
				Environment:  []ecstypes.KeyValuePair{{Name: aws.String("MODE"), Value: aws.String("dev")}},
				Secrets: []ecstypes.Secret{
					{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("/web/db-password")},
					{Name: aws.String("API_SECRET"), ValueFrom: aws.String(secretARN)},
					{Name: aws.String("API_PASSWORD"), ValueFrom: aws.String(secretARN + ":password::")},
				},
				LogConfiguration: &ecstypes.LogConfiguration{LogDriver: ecstypes.LogDriverAwslogs,
					Options: map[string]string{"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}},
			},
			{
				Name: aws.String("worker"), Image: aws.String("public.ecr.aws/docker/library/busybox:1.36"), Essential: aws.Bool(false),
				Environment: []ecstypes.KeyValuePair{{Name: aws.String("QUEUE"), Value: aws.String("jobs")}},
				Secrets:     []ecstypes.Secret{{Name: aws.String("MISSING"), ValueFrom: aws.String("/web/missing")}},
			},
		},
	})
	if err != nil {
		t.Fatalf("seed ECS: %v", err)
	}
	seed.arn = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	return seed
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
