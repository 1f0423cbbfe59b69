package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/control"
)

func TestDemoPrintsExportsAndACallThatWorkWithEveryClient(t *testing.T) {
	out, errOut, code := run(t, "demo", "--check")
	if code != 0 {
		t.Fatalf("demo --check: exit %d: %s\n%s", code, errOut, out)
	}
	// The export block, not the aws call after it: --check has stopped
	// the demo.
	vars, status := evalExports(t, out[strings.Index(out, "# Paste"):strings.Index(out, "# Then")])
	if status != 0 {
		t.Fatalf("the pasted block fails in a shell (%d):\n%s", status, out)
	}
	// botocore (boto3, AWS CLI) reads only AWS_DEFAULT_REGION.
	if vars["AWS_DEFAULT_REGION"] == "" || vars["AWS_REGION"] == "" {
		t.Errorf("the demo exports no region for every SDK: %v", vars)
	}
	// Old clients ignore AWS_ENDPOINT_URL_STS: the example names the
	// emulator itself, and a line says why.
	m := regexp.MustCompile(`(?m)^aws --endpoint-url (\S+) sts get-caller-identity$`).FindStringSubmatch(out)
	if m == nil || m[1] != vars["AWS_ENDPOINT_URL_STS"] {
		t.Errorf("no `aws --endpoint-url %s sts get-caller-identity` line:\n%s", vars["AWS_ENDPOINT_URL_STS"], out)
	}
	if !strings.Contains(out, "ignore AWS_ENDPOINT_URL_STS") {
		t.Errorf("no warning about clients that ignore AWS_ENDPOINT_URL_STS:\n%s", out)
	}
}

func TestLoginSaysWhichRoleIsMissingOrDoesNotSignIn(t *testing.T) {
	dir := shortStateDir(t)
	startDemo(t, dir, 0) // one role, "default", with the sandbox's token
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := waitForDaemon(ctx, control.Client{StateDir: dir, Trust: authtoken.Trust{Explicit: true}}, 20*time.Second, daemonPoll); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a role that does not exist", []string{"--profile", "nope"}, `credd login: no role named "nope"; roles: default: pass --profile with one of them`},
		{"a role that does not sign in", []string{"--profile", "default"}, `credd login: role "default" does not use --token-source login, and no other role does`},
		{"no role signs in", nil, "credd login: no role uses --token-source login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := run(t, append([]string{"login", "--state-dir", dir}, tt.args...)...)
			if code != exitFailure || !strings.HasPrefix(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and one line starting %q", code, errOut, exitFailure, tt.want)
			}
		})
	}
}
