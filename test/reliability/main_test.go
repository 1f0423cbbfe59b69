// Package reliability is credd's fault-injection, abuse, secrets and soak
// suite (GitHub issue 7). Most tests run the real wiring in process
// (daemon/agent against the sandbox STS, with time compressed through the
// agent's test knobs); lifecycle tests drive the built binary. With
// CREDD_RELIABILITY_REPORT=path set, every check appends a row (JSON
// lines) that test/reliability/render turns into docs/reliability.md.
package reliability

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/credd-dev/credd/test/internal/harness"
)

func TestMain(m *testing.M) {
	flag.Parse()
	before := settledGoroutines(0, time.Second)
	start := time.Now()
	code := m.Run()
	elapsed := time.Since(start)
	harness.Remove()

	// Whole-suite leak check: every daemon, sandbox, client and connection
	// the tests made must be gone.
	after := settledGoroutines(before+leakTolerance, 10*time.Second)
	result, observed := "pass", fmt.Sprintf("%d goroutines before the suite, %d after (%v of tests)", before, after, elapsed.Round(time.Second))
	if after > before+leakTolerance {
		result = "FAIL"
		code = 1
		fmt.Fprintf(os.Stderr, "goroutine leak: %d before the suite, %d after:\n%s", before, after, goroutineDump())
	}
	report.mu.Lock()
	report.rows = append(report.rows, &Row{Area: "Leaks", Key: "99", Tried: "the whole reliability suite (every daemon started and stopped, faults in flight)",
		Expected: "no goroutine outlives its daemon", Observed: observed, Result: result})
	report.mu.Unlock()
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "write the reliability report:", err)
		code = 1
	}
	os.Exit(code)
}

// leakTolerance allows for runtime goroutines that come and go.
const leakTolerance = 2

// settledGoroutines waits up to limit for the goroutine count to drop to
// want or below (want 0: to stop changing), and returns the last count.
func settledGoroutines(want int, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	prev := -1
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if (want > 0 && n <= want) || (want == 0 && n == prev) || time.Now().After(deadline) {
			return n
		}
		prev = n
		time.Sleep(50 * time.Millisecond)
	}
}

func goroutineDump() string {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}
