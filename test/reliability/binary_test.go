package reliability

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// binary is the credd binary of this test process, built on first use.
func binary(t testing.TB) harness.Binary {
	t.Helper()
	bin, err := harness.Build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
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
		// The race runtime sleeps 1s at exit by default; the timings
		// measured here are credd's, not the detector's.
		"GORACE=atexit_sleep_ms=0",
	}
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
	d := binary(t).StartDaemon(t, env)
	stateDir := d.StateDir
	url, tok := d.Endpoint(t)
	r.addSecret(tok, "authorization token")
	firstServed(t, r, url, tok, 10*time.Second)
	r.getWith(http.DefaultClient, url, "wrong")
	silent, err := net.Dial("tcp4", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1/credentials"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond)
	took := d.StopWith(t, syscall.SIGTERM)
	allLogs = append(allLogs, d.Logs())
	if d.ExitCode() != 0 || took > 2*time.Second {
		t.Errorf("SIGTERM: exit %d after %v, want 0 within 2s\n%s", d.ExitCode(), took, d.Logs())
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
	if !strings.Contains(d.Logs(), "credd stopped") {
		t.Errorf("no 'credd stopped' in the log")
	}
	stopRow.Observe("exit %d %v after SIGTERM; port refuses; socket removed; token file kept unchanged", d.ExitCode(), took.Round(10*time.Millisecond))

	// Warm restart, on the same port: STS answers at once.
	d = d.Restart(t)
	url, tok2 := d.Endpoint(t)
	servedAt, _ := firstServed(t, r, url, tok2, 10*time.Second)
	stsAt := rec.firstOKAfter(d.Started)
	if tok2 != tok {
		t.Errorf("the authorization token changed across the restart")
	}
	if lag := servedAt.Sub(stsAt); stsAt.IsZero() || lag > time.Second {
		t.Errorf("served %v after STS answered, want ≤ 1s", lag)
	}
	warmRow.Observe("serving %v after exec, %v after STS answered; same token", servedAt.Sub(d.Started).Round(time.Millisecond), servedAt.Sub(stsAt).Round(time.Millisecond))
	if took := d.StopWith(t, syscall.SIGTERM); d.ExitCode() != 0 {
		t.Errorf("second SIGTERM: exit %d after %v", d.ExitCode(), took)
	}
	allLogs = append(allLogs, d.Logs())

	// Cold restart during an outage, on the same port.
	sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultServiceUnavailable})
	d = d.Restart(t)
	url, _ = d.Endpoint(t)
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
	if took := d.StopWith(t, syscall.SIGTERM); d.ExitCode() != 0 {
		t.Errorf("third SIGTERM: exit %d after %v", d.ExitCode(), took)
	}
	allLogs = append(allLogs, d.Logs())
}
