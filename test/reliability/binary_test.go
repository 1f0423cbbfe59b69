package reliability

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/sandbox"
)

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// binary builds credd once (with -race, as the e2e suite does) and returns
// its path, in a directory other users can read: the control-socket test
// runs it as nobody.
func binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "credd-rel-bin-")
		if built.err != nil {
			return
		}
		os.Chmod(built.dir, 0o755)
		built.path = filepath.Join(built.dir, "credd")
		cmd := exec.Command("go", "build", "-race", "-o", built.path, "../../cmd/credd")
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = &buildError{out: string(out), err: err}
		}
	})
	if built.err != nil {
		t.Fatalf("build credd: %v", built.err)
	}
	return built.path
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func cleanupBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// proc is a credd daemon process started by a test.
type proc struct {
	cmd      *exec.Cmd
	stateDir string
	logs     *syncBuffer
	started  time.Time
	exited   chan struct{}
	exitCode int
}

func startProc(t *testing.T, stateDir string, env []string) *proc {
	t.Helper()
	p := &proc{stateDir: stateDir, logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary(t), "daemon", "--state-dir", stateDir, "--listen", "127.0.0.1:0", "--log-level", "debug")
	// The race runtime sleeps 1s at exit by default; the timings measured
	// here are credd's, not the detector's.
	p.cmd.Env = append(env, "GORACE=atexit_sleep_ms=0")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.exitCode = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// endpoint waits for the control socket and returns the credentials URL
// and the authorization token.
func (p *proc) endpoint(t *testing.T) (url, token string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("daemon exited: %s", p.logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := control.Client{StateDir: p.stateDir}.Status(ctx)
		cancel()
		if err == nil {
			tok, err := os.ReadFile(filepath.Join(p.stateDir, "token"))
			if err != nil {
				t.Fatal(err)
			}
			return st.Endpoint, string(tok)
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not up after 20s: %v\n%s", err, p.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// terminate sends SIGTERM and waits for the exit.
func (p *proc) terminate(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM")
	}
	return time.Since(start)
}

// stsRecorder passes requests to the sandbox STS and remembers when it
// last answered a successful AssumeRoleWithWebIdentity.
type stsRecorder struct {
	h      http.Handler
	mu     sync.Mutex
	okAt   []time.Time
	failed int
}

func (s *stsRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.h.ServeHTTP(rec, r)
	s.mu.Lock()
	if rec.status == http.StatusOK {
		s.okAt = append(s.okAt, time.Now())
	} else {
		s.failed++
	}
	s.mu.Unlock()
}

func (s *stsRecorder) firstOKAfter(t0 time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.okAt {
		if at.After(t0) {
			return at
		}
	}
	return time.Time{}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// firstServed polls the endpoint until it answers 200 and returns when.
func firstServed(t *testing.T, r *rig, url, tok string, limit time.Duration) (time.Time, response) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for {
		res := r.getWith(c, url, tok)
		if res.status == http.StatusOK {
			return res.recv, res
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after %v: %d %s %v", limit, res.status, res.code, res.err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSIGTERMAndRestartOfTheBinary(t *testing.T) {
	stopRow := record(t, "Lifecycle", "02", "SIGTERM to the real binary (`credd daemon`, actions token source) while serving, with a silent connection open",
		"graceful exit 0 within about a second; the credentials gone with the process (the port refuses); the control socket removed; the token file kept unchanged (old clients read it once)")
	warmRow := record(t, "Lifecycle", "03", "restart of the binary with STS answering",
		"serving within a second of STS answering (the first fetch is at start), with the same authorization token")
	coldRow := record(t, "Lifecycle", "04", "restart of the binary during an STS outage (503), then STS heals",
		"503 `CredentialsUnavailable` while nothing is held; serving within a second of STS's first successful answer")
	leakRow := record(t, "Secrets", "02", "the real binary's debug log over start, serving, wrong tokens, an STS outage, SIGTERM and restart",
		"no secret access key, session token, authorization token, Actions request token or JWT in any line")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rec := &stsRecorder{h: sb.STS.Handler()}
	front := newFrontDoor(t, rec)
	defer front.Close()
	// A rig-less helper for requests and the secret list.
	r := &rig{t: t, secrets: map[string]string{}}
	r.addSecret(sb.Issuer.RequestToken(), "Actions request token")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "USER=tester",
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + sb.ActionsTokenURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + sb.Issuer.RequestToken(),
		"CREDD_ROLE_ARN=" + sandbox.DefaultRoleARN,
		"AWS_ENDPOINT_URL_STS=" + front.URL(),
		"GITHUB_ACTOR=octocat",
	}
	dir, err := os.MkdirTemp("", "credd-rel-bin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	stateDir := filepath.Join(dir, "s")
	var allLogs []string
	defer func() {
		for _, l := range allLogs {
			for _, line := range strings.Split(l, "\n") {
				if what := r.leak(line); what != "" {
					t.Errorf("a binary log line holds the %s: %.200s", what, line)
				}
			}
		}
		lines := 0
		for _, l := range allLogs {
			lines += strings.Count(l, "\n")
		}
		r.mu.Lock()
		leakRow.Observe("%d distinct secrets and the JWT pattern searched in %d log lines of 3 daemon runs: none found", len(r.secrets), lines)
		r.mu.Unlock()
	}()

	// First run: serve, then SIGTERM with a silent connection open.
	p := startProc(t, stateDir, env)
	url, tok := p.endpoint(t)
	r.addSecret(tok, "authorization token")
	firstServed(t, r, url, tok, 10*time.Second)
	r.getWith(http.DefaultClient, url, "wrong")
	silent, err := net.Dial("tcp4", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1/credentials"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond)
	took := p.terminate(t)
	allLogs = append(allLogs, p.logs.String())
	if p.exitCode != 0 || took > 2*time.Second {
		t.Errorf("SIGTERM: exit %d after %v, want 0 within 2s\n%s", p.exitCode, took, p.logs.String())
	}
	if _, err := os.Lstat(control.SocketPath(stateDir)); !os.IsNotExist(err) {
		t.Errorf("control socket after exit: %v", err)
	}
	kept, err := os.ReadFile(filepath.Join(stateDir, "token"))
	if err != nil || string(kept) != tok {
		t.Errorf("token file after exit: %v (unchanged: %v)", err, string(kept) == tok)
	}
	if res := r.getWith(http.DefaultClient, url, tok); res.err == nil {
		t.Errorf("the endpoint still answers after exit: %d", res.status)
	}
	if !strings.Contains(p.logs.String(), "credd stopped") {
		t.Errorf("no 'credd stopped' in the log")
	}
	stopRow.Observe("exit %d %v after SIGTERM; port refuses; socket removed; token file kept unchanged", p.exitCode, took.Round(10*time.Millisecond))

	// Warm restart: STS answers at once.
	p = startProc(t, stateDir, env)
	url, tok2 := p.endpoint(t)
	servedAt, _ := firstServed(t, r, url, tok2, 10*time.Second)
	stsAt := rec.firstOKAfter(p.started)
	if tok2 != tok {
		t.Errorf("the authorization token changed across the restart")
	}
	if lag := servedAt.Sub(stsAt); stsAt.IsZero() || lag > time.Second {
		t.Errorf("served %v after STS answered, want ≤ 1s", lag)
	}
	warmRow.Observe("serving %v after exec, %v after STS answered; same token", servedAt.Sub(p.started).Round(time.Millisecond), servedAt.Sub(stsAt).Round(time.Millisecond))
	if took := p.terminate(t); p.exitCode != 0 {
		t.Errorf("second SIGTERM: exit %d after %v", p.exitCode, took)
	}
	allLogs = append(allLogs, p.logs.String())

	// Cold restart during an outage.
	sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultServiceUnavailable})
	p = startProc(t, stateDir, env)
	url, _ = p.endpoint(t)
	waitFor(t, 10*time.Second, "two failed STS calls", func() bool { return sb.STS.Calls("AssumeRoleWithWebIdentity") >= 5 })
	res := r.getWith(http.DefaultClient, url, tok)
	if res.status != http.StatusServiceUnavailable || res.code != "CredentialsUnavailable" {
		t.Errorf("during the outage: %d %s", res.status, res.code)
	}
	healAt := time.Now()
	sb.STS.ClearFaults()
	servedAt, _ = firstServed(t, r, url, tok, 10*time.Second)
	stsAt = rec.firstOKAfter(healAt)
	if lag := servedAt.Sub(stsAt); stsAt.IsZero() || lag > time.Second {
		t.Errorf("served %v after STS answered, want ≤ 1s", lag)
	}
	coldRow.Observe("503 %s while down; STS's first success %v after the heal (the next backoff step); serving %v after it",
		res.code, stsAt.Sub(healAt).Round(time.Millisecond), servedAt.Sub(stsAt).Round(time.Millisecond))
	if took := p.terminate(t); p.exitCode != 0 {
		t.Errorf("third SIGTERM: exit %d after %v", p.exitCode, took)
	}
	allLogs = append(allLogs, p.logs.String())
}
