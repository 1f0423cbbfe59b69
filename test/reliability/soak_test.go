package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
)

// soakDuration is $CREDD_SOAK (test/run.sh sets 60s), else 15s.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("CREDD_SOAK")
	if v == "" {
		return 15 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 5*time.Second || d > 30*time.Minute {
		t.Fatalf("CREDD_SOAK=%q: want a duration from 5s to 30m", v)
	}
	return d
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	d := soakDuration(t)
	const lifetime, clients = 12 * time.Second, 6
	row := record(t, "Soak", "01", fmt.Sprintf("soak for %v (CREDD_SOAK), -race: credentials living %v so the daemon refreshes every ~%v, %d keep-alive clients fetching constantly, random retryable STS fault bursts (500, 503, throttling, IDP errors, malformed XML, hangs past the timeout, latency), a new one every 0.5–2 s once the last was used", d, lifetime, lifetime/2, clients),
		"zero non-200 answers while valid credentials existed; zero expired credentials served; refreshes keep pace (at least one new set of credentials per half-life plus 1 s of fault delay); heap in use and goroutines flat (end within 4 MiB / 5 of the start)")
	r := newRig(t, rigOptions{lifetime: lifetime, quiet: true})
	r.waitServing(5 * time.Second)

	var (
		total, non200, expired atomic.Int64
		whileValid, validUntil atomic.Int64 // non-200 while valid; latest expiry served (ns)
		keys                   sync.Map     // access key IDs seen
		stop                   = make(chan struct{})
		wg                     sync.WaitGroup
	)
	for range clients {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		defer c.CloseIdleConnections()
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res := r.getWith(c, r.agent.URL(), r.agent.AuthToken())
				total.Add(1)
				switch {
				case res.status != http.StatusOK || res.err != nil:
					non200.Add(1)
					if res.recv.UnixNano() < validUntil.Load() {
						if whileValid.Add(1) <= 5 {
							t.Errorf("answered %d %s %v while credentials were valid", res.status, res.code, res.err)
						}
					}
				case !res.sent.Before(res.expiration):
					expired.Add(1)
				default:
					keys.Store(res.accessKey, true)
					for {
						v := validUntil.Load()
						if res.expiration.UnixNano() <= v || validUntil.CompareAndSwap(v, res.expiration.UnixNano()) {
							break
						}
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	faults := []sandbox.Fault{
		{Kind: sandbox.FaultInternalError, Count: 2}, {Kind: sandbox.FaultServiceUnavailable, Count: 3},
		{Kind: sandbox.FaultThrottling, Count: 2}, {Kind: sandbox.FaultIDPCommunication, Count: 1},
		{Kind: sandbox.FaultMalformedXML, Count: 1}, {Kind: sandbox.FaultHang, Count: 1},
		{Kind: sandbox.FaultLatency, Count: 2, Delay: 300 * time.Millisecond},
	}
	injected, lastCalls := 0, int64(0)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(500*time.Millisecond + rand.N(1500*time.Millisecond)):
			}
			// One fault burst at a time: inject only once STS was called
			// since the last one, so faults never pile up into an outage.
			if calls := r.sb.STS.Calls("AssumeRoleWithWebIdentity"); calls > lastCalls {
				lastCalls = calls
				r.sb.STS.InjectFault(faults[rand.IntN(len(faults))])
				injected++
			}
		}
	})

	// Measure the baseline once the load is running and warm.
	warm := min(5*time.Second, d/4)
	time.Sleep(warm)
	heapStart, goStart := heapInuse(), runtime.NumGoroutine()
	time.Sleep(d - warm)
	heapEnd, goEnd := heapInuse(), runtime.NumGoroutine()
	close(stop)
	wg.Wait()
	st := r.status()

	var distinct int
	keys.Range(func(any, any) bool { distinct++; return true })
	if whileValid.Load() != 0 || expired.Load() != 0 {
		t.Errorf("%d non-200 while credentials were valid and %d expired of %d answers", whileValid.Load(), expired.Load(), total.Load())
	}
	if non200.Load() != 0 {
		t.Errorf("%d non-200 answers: short faults one at a time should never empty the cache", non200.Load())
	}
	// A refresh starts every half-life and a fault burst may delay it by up
	// to about a second (a hang cut at the 500 ms timeout, then retries
	// with backoff), so one cycle takes up to lifetime/2 + 1 s. Counting
	// the first credentials, fewer than this means refreshes fell behind.
	cycle := lifetime/2 + time.Second
	if want := 1 + int(d/cycle); distinct < want {
		t.Errorf("%d distinct credentials served in %v, want ≥ %d (a refresh every half-life, each delayed at most ~1 s by faults)", distinct, d, want)
	}
	const heapSlack = 4 << 20
	if heapEnd > heapStart+heapSlack {
		t.Errorf("heap in use grew from %d KiB to %d KiB", heapStart>>10, heapEnd>>10)
	}
	if goEnd > goStart+5 {
		t.Errorf("goroutines grew from %d to %d", goStart, goEnd)
	}
	row.Observe("%d answers: %d non-200 (%d while valid), %d expired; %d credentials served (%d STS calls, %d fault bursts injected)",
		total.Load(), non200.Load(), whileValid.Load(), expired.Load(), distinct, st.STSCalls, injected)
	row.Observe("heap in use %d → %d KiB, goroutines %d → %d", heapStart>>10, heapEnd>>10, goStart, goEnd)
}
