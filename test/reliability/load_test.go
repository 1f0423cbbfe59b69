package reliability

import (
	"cmp"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/bench/loaddoc"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/server"
	"github.com/credd-dev/credd/test/internal/harness"
)

// Issue 18, "under load nothing is dropped": a cold storm of 10,000 new
// connections at a daemon whose STS took 600 ms lost 50–200 requests (the
// daemon closed them unanswered), and a local flood of ~860 new connections
// a second pushed a legitimate client past the SDKs' 1 s timeout.

// sdkTimeout is how long the JavaScript v3, Java and C++ SDKs wait for the
// container endpoint before giving up: a functional limit, not a speed
// target. Sources (/work/shared/SDK-COMPAT.md §5):
//   - JS v3: smithy-lang/smithy-typescript
//     packages/credential-provider-imds/src/remoteProvider/RemoteProviderInit.ts,
//     DEFAULT_TIMEOUT = 1000 (ms), the timeout of fromContainerMetadata; and
//     aws/aws-sdk-js-v3 packages/credential-provider-http/src/fromHttp/fromHttp.ts,
//     1 s connect and request timeouts.
//   - Java v2: aws/aws-sdk-java-v2 ContainerCredentialsProvider through
//     HttpCredentialsLoader and core/regions/.../internal/util/ConnectionUtils.java:
//     1 s to connect, 1 s to read.
//   - C++: aws/aws-sdk-cpp src/aws-cpp-sdk-core/source/internal/AWSHttpResourceClient.cpp
//     (used by GeneralHTTPCredentialsProvider): 1 s connect and request timeouts.
const sdkTimeout = time.Second

const (
	// stormN is the size of each wave of the cold storm, as in bench/run.sh.
	stormN = 10000
	// stormRuns is how many times the daemon is started afresh and stormed.
	stormRuns = 3
	// stormSTSLatency is added to every AssumeRoleWithWebIdentity: slow, but
	// within the 800 ms a request waits for the first credentials
	// (server.DefaultAwaitTimeout), so every stormed request can get a 200.
	stormSTSLatency = 600 * time.Millisecond
	// descriptorHeadroom is what a process needs besides the storm's
	// sockets (bench/run.sh reserves the same).
	descriptorHeadroom = 512

	floodRate     = 1000 // new connections a second
	floodRateText = "1,000"
	floodDuration = 10 * time.Second
	// probeInterval is how often the keep-alive client fetches; the
	// new-connection client fetches at 5× the interval (bench/storm flood).
	probeInterval = 10 * time.Millisecond
	// probeTimeout is longer than sdkTimeout so that a slow answer is
	// measured (and counted over 1 s) rather than cut at 1 s.
	probeTimeout = 5 * time.Second
	// daemonOwnFDs bounds the descriptors a daemon holds besides its
	// endpoint's connections: stdio, the listening and control sockets,
	// epoll, the token file watch, STS connections.
	daemonOwnFDs = 64
)

// daemonFDBound is the most descriptors a daemon may hold under a flood:
// the connections its HTTP server serves, those accepted and queued before
// it (see server.LimitConns), and its own files.
const daemonFDBound = server.DefaultMaxConns + server.DefaultMaxQueued + daemonOwnFDs

// TestEndpointUnderLoad runs the load rows one after another, and not in
// parallel with anything: each loads both cores, which would disturb the
// timing of any row beside it (Go runs a test without t.Parallel alone).
// The daemon and the load tool are built once, without -race, for all of
// them.
func TestEndpointUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load rows skipped in -short mode")
	}
	tools := buildLoadTools(t, t.TempDir())

	t.Run("a cold storm at a slow STS", func(t *testing.T) {
		testColdStorm(t, tools)
	})
	floods := []struct {
		key, kind, what string
	}{
		{"L2", "silent", "never sending a byte"},
		{"L3", "unauth", "sending one request without the token, then staying open, idle, as keep-alive"},
		{"L4", "churn", "sending one request without the token, then closing (churn)"},
		{"L5", "slowloris", "sending the request line and a header but never the blank line that ends the request head (a slowloris)"},
	}
	for _, f := range floods {
		t.Run("a flood of "+f.kind+" connections", func(t *testing.T) {
			testFlood(t, tools, f.key, f.kind, f.what)
		})
	}
}

func testColdStorm(t *testing.T, tools loadTools) {
	row := record(t, "Endpoint load", "L1", fmt.Sprintf("a cold storm, %d times: the real binary (no -race) started afresh while its STS takes %v to answer AssumeRoleWithWebIdentity, and 10,000 GETs, each on its own new connection, released the moment its port accepts; then a warm wave of as many (`storm storm -runs %d`)", stormRuns, stormSTSLatency, stormRuns),
		"every request answered in every run: none unanswered or timed out; 200, or, for a request that waited the daemon's whole 800 ms for the first credentials, 503 `CredentialsUnavailable` with `Retry-After: 1` (an answer every SDK retries); exactly 1 AssumeRoleWithWebIdentity per run; the warm wave all 200 with no STS call")
	n := stormN
	limit, err := descriptorLimit()
	if err != nil {
		t.Fatal(err)
	}
	// Both the load tool (its client sockets) and the daemon (the accepted
	// ones) must hold a whole wave.
	if limit < n+descriptorHeadroom {
		n = limit - descriptorHeadroom
		if n < 1000 {
			t.Fatalf("the open-files hard limit (ulimit -Hn) is %d: a storm needs at least %d; raise it", limit, 1000+descriptorHeadroom)
		}
		row.Observe("the open-files hard limit is %d, so each wave was reduced to %d requests", limit, n)
	}

	ls := newLoadSandbox(t, stormSTSLatency)
	stateDir := harness.StateDir(t)
	port := strconv.Itoa(freeLoopbackPort(t))
	logPath := filepath.Join(shortTempDir(t), "credd.log")
	daemon := append([]string{tools.credd, "daemon"}, ls.daemonArgs()...)
	daemon = append(daemon, "--listen", "127.0.0.1:"+port, "--state-dir", stateDir, "--log-level", "info")
	t.Cleanup(func() { stopLeftoverDaemon(t, stateDir) })

	var rep loaddoc.Storm
	start := time.Now()
	runLoadTool(t, tools.storm, 5*time.Minute, &rep, append([]string{"storm",
		"-n", strconv.Itoa(n), "-runs", strconv.Itoa(stormRuns),
		"-url", "http://127.0.0.1:" + port + server.CredentialsPath,
		"-token-file", authtoken.Path(stateDir),
		"-stats-url", ls.statsURL, "-log", logPath, "--"}, daemon...)...)
	took := time.Since(start)
	if t.Failed() {
		t.Logf("daemon log (tail):\n%s", fileTail(logPath, 4000))
	}

	if len(rep.Runs) != stormRuns {
		t.Fatalf("the storm reported %d runs, want %d", len(rep.Runs), stormRuns)
	}
	for i, run := range rep.Runs {
		cold, warm := run.Cold, run.Warm
		// The STS answers after 600 ms, but the daemon's own start and the
		// storm's load on both cores come on top: on a slow machine the
		// first credentials can arrive after a request has waited the whole
		// 800 ms (server.DefaultAwaitTimeout), and that request is answered
		// 503. That is timing, not a loss; what must never happen is a
		// connection closed without an answer, or no answer in time.
		checkAllAnswered(t, fmt.Sprintf("run %d, cold wave", i+1), cold.Requests, cold.OK, cold.Statuses, cold.Failures, http.StatusServiceUnavailable)
		checkAllAnswered(t, fmt.Sprintf("run %d, warm wave", i+1), warm.Requests, warm.OK, warm.Statuses, warm.Failures)
		if calls := cold.STSCalls["AssumeRoleWithWebIdentity"]; calls != 1 {
			t.Errorf("run %d: %d AssumeRoleWithWebIdentity calls during the cold wave, want 1 (sts_calls %v)", i+1, calls, cold.STSCalls)
		}
		if calls := warm.STSCalls["AssumeRoleWithWebIdentity"]; calls != 0 {
			t.Errorf("run %d: %d AssumeRoleWithWebIdentity calls during the warm wave, want 0", i+1, calls)
		}
		row.Observe("run %d: cold %d of %d answered 200, %d 503, %d unanswered, %d timeouts, p50 %.0f ms, p99 %.0f ms (%d sent before the first credentials, %.0f ms after the start); warm %d of %d 200, p99 %.0f ms; peak RSS %d KiB",
			i+1, cold.OK, cold.Requests, cold.Statuses[strconv.Itoa(http.StatusServiceUnavailable)], cold.Unanswered, cold.Timeouts, cold.P50Ms, cold.P99Ms, cold.SentBeforeReady, run.StartToReadyMs,
			warm.OK, warm.Requests, warm.P99Ms, run.ServerHWMKiB)
	}
	// The sandbox's own count, whatever the tool reported per wave.
	if calls := ls.assumeCalls(); calls != stormRuns {
		t.Errorf("%d AssumeRoleWithWebIdentity calls in all, want %d (1 per run)", calls, stormRuns)
	}
	// worst_run indexes runs from 0; the rows count them from 1.
	row.Observe("worst run: %d; %d AssumeRoleWithWebIdentity calls in all; %v for the %d runs", rep.WorstRun+1, ls.assumeCalls(), took.Round(time.Second), stormRuns)
}

func testFlood(t *testing.T, tools loadTools, key, kind, what string) {
	row := record(t, "Endpoint load", key, fmt.Sprintf("a flood of %s new connections a second for %v at a warm daemon (the real binary, no -race; `storm flood -kind %s`), each %s, while two authorized clients fetch: one on a keep-alive connection opened before the flood, every %v, and one opening a new connection per request, every %v",
		floodRateText, floodDuration, kind, what, probeInterval, 5*probeInterval),
		fmt.Sprintf("both authorized clients get every answer, all 200, none slower than 1 s (the JavaScript v3, Java and C++ SDKs' timeout); the daemon's open descriptors stay at most %d (%d served connections, server.DefaultMaxConns, plus %d queued, server.DefaultMaxQueued, plus %d of its own)",
			daemonFDBound, server.DefaultMaxConns, server.DefaultMaxQueued, daemonOwnFDs))
	ls := newLoadSandbox(t, 0)
	d := harness.Binary(tools.credd).StartDaemon(t, harness.BaseEnv(), append(ls.daemonArgs(), "--log-level", "info")...)
	url, tok := d.Endpoint(t)
	waitLoadServing(t, url, tok)

	var rep loaddoc.Flood
	runLoadTool(t, tools.storm, floodDuration+2*time.Minute, &rep, "flood",
		"-url", url, "-token-file", authtoken.Path(d.StateDir), "-kind", kind,
		"-rate", strconv.Itoa(floodRate), "-duration", floodDuration.String(),
		"-probe-interval", probeInterval.String(), "-probe-timeout", probeTimeout.String(),
		"-pid", strconv.Itoa(d.Cmd.Process.Pid))

	// A flood that did not reach the daemon would prove nothing.
	if planned := floodRate * int(floodDuration/time.Second); rep.Flood.Opened < planned/2 {
		t.Errorf("the flood opened %d connections of the %d planned (%d dial errors): the load tool could not keep the rate, so the row measures nothing", rep.Flood.Opened, planned, rep.Flood.DialErrors)
	}
	for _, p := range []struct {
		name  string
		probe loaddoc.Probe
	}{{"the keep-alive client", rep.Probes.KeepAlive}, {"the new-connection client", rep.Probes.NewConn}} {
		pr := p.probe
		checkAllAnswered(t, p.name, pr.Requests, pr.OK, pr.Statuses, pr.Failures)
		if pr.Over1s > 0 {
			t.Errorf("%s: %d of %d answers took over %v (the SDKs' timeout); the slowest %.0f ms", p.name, pr.Over1s, pr.Requests, sdkTimeout, pr.MaxMs)
		}
	}
	if rep.ServerFDsMax <= 0 {
		t.Errorf("the load tool reported no descriptor count for the daemon (server_fds_max): %s", cmp.Or(rep.ServerSampleError, "was -pid honoured?"))
	} else if rep.ServerFDsMax > daemonFDBound {
		t.Errorf("the daemon held up to %d descriptors, more than %d", rep.ServerFDsMax, daemonFDBound)
	}
	// The daemon is still there and serves at once.
	if d.ExitCode() != -1 {
		t.Fatalf("the daemon exited during the flood (%d)", d.ExitCode())
	}
	after := loadGet(url, tok)
	if after.err != nil || after.status != http.StatusOK || after.took > sdkTimeout {
		t.Errorf("after the flood: %d %v in %v", after.status, after.err, after.took)
	}
	d.StopWith(t, syscall.SIGTERM)
	d.CheckStopped(t)

	ka, nc := rep.Probes.KeepAlive, rep.Probes.NewConn
	row.Observe("keep-alive client %d of %d 200, p50 %.1f ms, p99 %.1f ms, max %.0f ms, %d over 1 s", ka.OK, ka.Requests, ka.P50Ms, ka.P99Ms, ka.MaxMs, ka.Over1s)
	row.Observe("new-connection client %d of %d 200, p50 %.1f ms, p99 %.1f ms, max %.0f ms, %d over 1 s", nc.OK, nc.Requests, nc.P50Ms, nc.P99Ms, nc.MaxMs, nc.Over1s)
	row.Observe("flood: %d of %d connections opened (%d dial errors, %d still dialling at the end), %d closed by the daemon, %d open at the end; answers to the flood's own requests: %s",
		rep.Flood.Opened, rep.Flood.Attempted, rep.Flood.DialErrors, rep.Flood.DialsPending, rep.Flood.ClosedByServer, rep.Flood.OpenAtEnd, statusSummary(rep.Flood.Responses))
	row.Observe("daemon at most %d descriptors, %d threads, %d KiB RSS", rep.ServerFDsMax, rep.ServerThreadsMax, rep.ServerRSSMaxKiB)
}

// loadAnswer is one GET of the endpoint from the test itself.
type loadAnswer struct {
	status int
	took   time.Duration
	err    error
}

// loadGet fetches url with tok on a new connection, as the SDKs would,
// with their timeout.
func loadGet(url, tok string) loadAnswer {
	c := &http.Client{Timeout: sdkTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return loadAnswer{err: err}
	}
	req.Header.Set("Authorization", tok)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return loadAnswer{took: time.Since(start), err: err}
	}
	resp.Body.Close()
	return loadAnswer{status: resp.StatusCode, took: time.Since(start)}
}

// waitLoadServing polls until the daemon answers 200: the flood rows start
// at a warm daemon.
func waitLoadServing(t *testing.T, url, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := loadGet(url, tok)
		if a.err == nil && a.status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon was not serving within 10s: %d %v", a.status, a.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
