package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/credd-dev/credd/bench/loaddoc"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// The load rows run the daemon and the load generator (bench/storm) as
// separate processes built without -race: the race detector allows at most
// 8128 live goroutines and slows everything 5–10×, and a storm of 10,000
// connections is neither possible nor meaningful under it.

// loadTools are the binaries the load rows run.
type loadTools struct {
	credd string // ./cmd/credd, without -race
	storm string // ./bench/storm
}

// buildLoadTools compiles credd and bench/storm into dir. The package paths
// resolve from anywhere inside the module, as harness.Build's do.
func buildLoadTools(t *testing.T, dir string) loadTools {
	t.Helper()
	tools := loadTools{credd: filepath.Join(dir, "credd"), storm: filepath.Join(dir, "storm")}
	for path, pkg := range map[string]string{
		tools.credd: "github.com/credd-dev/credd/cmd/credd",
		tools.storm: "github.com/credd-dev/credd/bench/storm",
	} {
		if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return tools
}

// loadSandbox is an in-process sandbox (issuer and STS) for daemons started
// as a user starts them: a token file, the STS URL, and a stats URL that
// `storm -stats-url` reads the STS call counts from.
type loadSandbox struct {
	sb        *sandbox.Sandbox
	tokenFile string // an identity token for the default role
	statsURL  string
}

// newLoadSandbox starts a sandbox whose STS takes latency (plus its own
// work) to answer every AssumeRoleWithWebIdentity.
func newLoadSandbox(t *testing.T, latency time.Duration) *loadSandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	if latency > 0 {
		// Count 0: every call until the end, as bench/sandbox -latency does.
		sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultLatency, Delay: latency})
	}
	ls := &loadSandbox{sb: sb, tokenFile: filepath.Join(shortTempDir(t), "webid-token")}
	tok, err := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ls.tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}

	// The document bench/sandbox serves at its stats URL, which storm reads
	// before and after each wave to count the STS calls it caused.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stats := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{"AssumeRoleWithWebIdentity": ls.assumeCalls()})
	})}
	done := make(chan struct{})
	go func() { defer close(done); stats.Serve(l) }()
	t.Cleanup(func() { stats.Close(); <-done })
	ls.statsURL = "http://" + l.Addr().String() + "/stats"
	return ls
}

// assumeCalls counts the AssumeRoleWithWebIdentity calls the STS received.
func (ls *loadSandbox) assumeCalls() int64 { return ls.sb.STS.Calls("AssumeRoleWithWebIdentity") }

// daemonArgs are `credd daemon`'s arguments for this sandbox, as bench/run.sh
// (credd_args) passes them: the token from a file, checked against the
// sandbox issuer, exchanged at the sandbox STS.
func (ls *loadSandbox) daemonArgs() []string {
	return []string{"--token-source", "file", "--token-file", ls.tokenFile, "--role-arn", sandbox.DefaultRoleARN,
		"--sts-endpoint", ls.sb.STSURL, "--issuer", ls.sb.IssuerURL, "--region", "us-east-1", "--session-name", "load"}
}

// freeLoopbackPort returns a port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runLoadTool runs the storm binary with args and decodes the JSON document
// it prints into v. A tool that fails still prints its document when it
// measured something, so a non-zero exit is reported only when there is no
// document to judge.
func runLoadTool(t *testing.T, bin string, limit time.Duration, v any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = harness.BaseEnv()
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("storm %s: %v after %v", args[0], runErr, time.Since(start).Round(time.Millisecond))
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("storm %s did not print its JSON document (exit: %v; decode: %v); is bench/storm's %q subcommand built with the flags %q?\nstdout: %.2000s\nstderr: %.2000s",
			args[0], runErr, err, args[0], strings.Join(args[1:], " "), stdout.String(), stderr.String())
	}
	if runErr != nil {
		t.Logf("storm %s exited with %v; judging the document it printed; stderr: %.2000s", args[0], runErr, stderr.String())
	}
	t.Logf("storm %s document: %s", args[0], compactJSON(stdout.Bytes()))
}

func compactJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return string(b)
	}
	return out.String()
}

// stopLeftoverDaemon ends, by its pid, a daemon still answering on the
// control socket in stateDir: one the load tool started and did not stop
// (it was killed at its time limit). Such a daemon is a failure.
func stopLeftoverDaemon(t *testing.T, stateDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	st, err := control.Client{StateDir: stateDir, Trust: authtoken.Trust{Explicit: true}}.Status(ctx)
	cancel()
	if err != nil || st.PID <= 0 {
		return // nothing answers: the daemon has exited
	}
	t.Errorf("the daemon (pid %d) outlived the load tool that started it: stopping it", st.PID)
	syscall.Kill(st.PID, syscall.SIGTERM)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(st.PID, 0) != nil {
			return
		}
	}
	syscall.Kill(st.PID, syscall.SIGKILL)
}

// fileTail returns the last n bytes of the file at path, for a failure
// message.
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// descriptorLimit is the hard limit on open files (RLIMIT_NOFILE), which
// is about what every process here runs with: a Go program raises its soft
// limit to the hard one, less one, at start (src/syscall/rlimit.go, from Go
// 1.19, go.dev/issue/46279), and the test, credd and storm are Go programs.
func descriptorLimit() (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Max > 1<<30 {
		return 1 << 30, nil
	}
	return int(rl.Max), nil
}

// checkAllAnswered fails the test unless every one of requests got an
// answer, 200 or one of the statuses in also, and none failed: the counts
// must add up, so a document whose fields are misnamed or missing cannot
// pass as zero failures.
func checkAllAnswered(t *testing.T, what string, requests, ok int, statuses map[string]int, f loaddoc.Failures, also ...int) {
	t.Helper()
	answered := 0
	for _, n := range statuses {
		answered += n
	}
	allowed := func(status string) bool {
		return status == strconv.Itoa(http.StatusOK) || slices.ContainsFunc(also, func(s int) bool { return strconv.Itoa(s) == status })
	}
	switch {
	case requests <= 0:
		t.Errorf("%s: no requests reported: the load tool's document lacks them", what)
	case answered+f.Errors != requests || f.Unanswered+f.Timeouts+f.OtherErrors != f.Errors:
		t.Errorf("%s: the counts do not add up (requests %d, statuses %v, errors %d = %d unanswered + %d timeouts + %d other): check the load tool's document",
			what, requests, statuses, f.Errors, f.Unanswered, f.Timeouts, f.OtherErrors)
	case f.Errors > 0:
		t.Errorf("%s: %d of %d requests got no answer (%d unanswered, %d timeouts, %d other); first: %s", what, f.Errors, requests, f.Unanswered, f.Timeouts, f.OtherErrors, f.FirstError)
	case ok != statuses[strconv.Itoa(http.StatusOK)] || slices.ContainsFunc(slices.Collect(maps.Keys(statuses)), func(s string) bool { return !allowed(s) }):
		t.Errorf("%s: %d of %d answered 200; statuses %v (allowed besides 200: %v)", what, ok, requests, statuses, also)
	}
}

// statusSummary prints statuses as "200×9990 503×10", in status order.
func statusSummary(statuses map[string]int) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(statuses)) {
		parts = append(parts, fmt.Sprintf("%s×%d", s, statuses[s]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
