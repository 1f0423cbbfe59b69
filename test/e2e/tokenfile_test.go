package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

func TestANewTokenFileIsUsedWithinASecondOfAnExpiredOne(t *testing.T) {
	sb := startSandbox(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	expired, err := sb.Issuer.Mint(sandbox.DefaultAudience, map[string]any{"exp": time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tokenFile, []byte(expired), 0o600)
	d := binary.StartDaemon(t, harness.BaseEnv(), "--token-file", tokenFile, "--role-arn", sandbox.DefaultRoleARN, "--sts-endpoint", sb.STSURL)

	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, _, _ = binary.Run(t, d.Env, "status", "--state-dir", d.StateDir); strings.Contains(out, "TokenExpired") {
			break
		}
	}
	if !strings.Contains(out, "TokenExpired") {
		t.Fatalf("status with an expired token file:\n%s", out)
	}
	calls := sb.STS.Calls("AssumeRoleWithWebIdentity")

	// Replace it atomically, as a token writer should.
	fresh, _ := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	tmp := filepath.Join(dir, ".token.tmp")
	os.WriteFile(tmp, []byte(fresh), 0o600)
	start := time.Now()
	if err := os.Rename(tmp, tokenFile); err != nil {
		t.Fatal(err)
	}
	for time.Since(start) < 5*time.Second {
		if _, _, code := binary.Run(t, d.Env, "credential-process", "--state-dir", d.StateDir); code == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); took > time.Second+500*time.Millisecond { // 1 s, plus the CLI's own start-up under -race
		t.Errorf("credentials served %s after the token file changed, want within about 1s", took)
	}
	if calls != 0 {
		t.Errorf("an expired token cost %d STS calls, want 0 (it is checked locally)", calls)
	}
}
