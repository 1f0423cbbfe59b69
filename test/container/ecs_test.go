package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/credd-dev/credd/test/internal/moto"
)

// TestECSTaskEnvironmentReachesLoginShells is the Feature's ecsTaskDefinition
// option in a real container: moto_server on the host's loopback stands in
// for ECS, SSM and Secrets Manager (reached through AWS_ENDPOINT_URL_* in
// containerEnv, as a developer would point at LocalStack), the supervisor
// writes ecs-env.sh at start, and a login shell then has what ECS would
// give the task's container: the task metadata URIs, its environment and
// its secrets.
func TestECSTaskEnvironmentReachesLoginShells(t *testing.T) {
	record(t)
	url := moto.Start(t, motoServer(t))
	seed := moto.SeedTask(t, url)

	port := freePort(t)
	d := newDev(t, "ecs", false, map[string]any{
		"runArgs": []string{"--network", "host"}, // moto listens on the host's loopback
		"containerEnv": map[string]string{
			"AWS_CONTAINER_CREDENTIALS_FULL_URI": fmt.Sprintf("http://127.0.0.1:%d/v1/credentials", port),
			"AWS_ENDPOINT_URL_ECS":               url,
			"AWS_ENDPOINT_URL_SSM":               url,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER":   url,
		},
	}, map[string]any{
		"tokenSource": "sandbox", "port": strconv.Itoa(port),
		"ecsTaskDefinition": "web", "ecsCluster": "dev",
	}, nil, nil)
	d.up()

	out := d.must("a login shell gets the task's environment", `
for i in $(seq 90); do
	[ -r /var/lib/credd/ecs-env.sh ] && break
	sleep 1
done
if [ ! -r /var/lib/credd/ecs-env.sh ]; then
	echo "no /var/lib/credd/ecs-env.sh after 90 s"; credd status; tail -n 30 /var/lib/credd/credd.log; exit 1
fi
echo "mode $(stat -c '%a %U' /var/lib/credd/ecs-env.sh)"
bash -lc 'printf "MODE=%s\nDB_PASSWORD=%s\nAPI_PASSWORD=%s\nV4=%s\n" "$MODE" "$DB_PASSWORD" "$API_PASSWORD" "$ECS_CONTAINER_METADATA_URI_V4"
	curl -sf "$ECS_CONTAINER_METADATA_URI_V4/task" | grep -o "\"Family\":\"[^\"]*\""'
`)
	t.Logf("%s", strings.ReplaceAll(strings.ReplaceAll(out, seed.DBPassword, "(db password)"), seed.APIPassword, "(api password)"))
	for _, want := range []string{
		"mode 600 vscode",
		"MODE=dev\n",
		"DB_PASSWORD=" + seed.DBPassword + "\n",
		"API_PASSWORD=" + seed.APIPassword + "\n",
		"V4=http://127.0.0.1:" + strconv.Itoa(port) + "/v4/",
		`"Family":"web"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the login shell's output lacks %q", strings.ReplaceAll(want, seed.DBPassword, "(db password)"))
		}
	}
	st := d.must("credd status shows the mirrored task", "credd status")
	if !strings.Contains(st, "ECS task web: mirrored") {
		t.Errorf("credd status:\n%s", st)
	}
	if log := d.must("the daemon's log", "cat /var/lib/credd/credd.log"); strings.Contains(log, seed.DBPassword) || strings.Contains(log, seed.APIPassword) {
		t.Errorf("a secret value is in credd.log")
	}
}

// motoServer finds moto_server as the compatibility suite does: the path in
// CREDD_COMPAT_MOTO, test/setup.sh's virtualenv, else PATH. Missing, it
// skips, or fails under CI=true.
func motoServer(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CREDD_COMPAT_MOTO"); p != "" {
		return p
	}
	venv := os.Getenv("CREDD_TEST_VENV")
	if venv == "" {
		home, _ := os.UserHomeDir()
		venv = filepath.Join(home, ".cache", "credd-test-venv")
	}
	if p := filepath.Join(venv, "bin", "moto_server"); isExecutable(p) {
		return p
	}
	p, err := exec.LookPath("moto_server")
	if err == nil {
		return p
	}
	err = errors.Join(err, errors.New("install it with `bash test/setup.sh`, or set CREDD_COMPAT_MOTO to its path"))
	if os.Getenv("CI") == "true" {
		t.Fatalf("moto_server: %v", err)
	}
	t.Skipf("moto_server: %v", err)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
