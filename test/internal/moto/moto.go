// Package moto runs moto_server, an AWS stand-in no one here wrote, for
// the suites that check credd against it, and seeds it.
package moto

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// Account is the account moto_server answers for (moto's
// DEFAULT_ACCOUNT_ID).
const Account = "123456789012"

// Start starts moto_server (bin) on a free loopback port until the test
// ends, and returns its URL.
func Start(t *testing.T, bin string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-H", "127.0.0.1", "-p", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("moto_server did not start within 30s")
		return ""
	}
}

// Seed is what SeedTask registered: the task definition's ARN and the
// values its secrets resolve to.
type Seed struct {
	ARN                                string
	DBPassword, APIPassword, APISecret string
}

// SeedTask registers the task definition credd mirrors, with an
// environment and secrets from SSM and Secrets Manager (whole, and one JSON
// key in the documented arn:...:secret:NAME:json-key:version-stage:version-id
// form). Not an SSM parameter by ARN: moto 5.2's GetParameters matches
// names only (its ssm/models.py splits each name at ":"), where SSM takes
// ARNs too; daemon/ecsenv's tests cover that form.
func SeedTask(t *testing.T, motoURL string) Seed {
	t.Helper()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("seed", "seed", ""),
		BaseEndpoint: aws.String(motoURL)}
	seed := Seed{DBPassword: "db-pa55 'quoted' $HOME", APIPassword: "api-pa55", APISecret: `{"username":"svc","password":"api-pa55"}`}

	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/web/db-password"), Value: aws.String(seed.DBPassword), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatalf("seed SSM: %v", err)
	}
	secret, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("web/api"), SecretString: aws.String(seed.APISecret),
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
	seed.ARN = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	return seed
}
