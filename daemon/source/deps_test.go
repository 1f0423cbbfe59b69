package source_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps token sources independent of STS and the endpoint.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/credd-dev/credd/daemon/source").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"github.com/aws/", "/daemon/sts", "/daemon/server", "/daemon/refresh", "/daemon/agent", "/daemon/cli"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.Contains(dep, f) {
				t.Errorf("source depends on %s", dep)
			}
		}
	}
}
