package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// A Row is one line of docs/reliability.md: what was tried, what credd
// should do, and what it did in this run. test/run.sh fails when a row's
// area, tried or expected text, result, or its place (by Key) differs from
// the committed file, so those must not change from run to run: this run's
// numbers belong in Observed (durations in Tried are tolerated, for
// CREDD_SOAK).
type Row struct {
	Area     string `json:"area"`
	Key      string `json:"key"` // sort key within the area
	Tried    string `json:"tried"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	Result   string `json:"result"` // pass, FAIL or skip
}

var report struct {
	mu   sync.Mutex
	rows []*Row
}

// record adds a row for t. Observe fills in what happened; when t ends the
// row is marked pass, FAIL or skip from t's outcome.
func record(t testing.TB, area, key, tried, expected string) *Row {
	t.Helper()
	r := &Row{Area: area, Key: key, Tried: tried, Expected: expected}
	report.mu.Lock()
	report.rows = append(report.rows, r)
	report.mu.Unlock()
	t.Cleanup(func() {
		report.mu.Lock()
		defer report.mu.Unlock()
		switch {
		case t.Failed():
			r.Result = "FAIL"
		case t.Skipped():
			r.Result = "skip"
		default:
			r.Result = "pass"
		}
	})
	return r
}

// Observe sets (or, with more calls, extends) the observed column.
func (r *Row) Observe(format string, args ...any) {
	report.mu.Lock()
	defer report.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	if r.Observed == "" {
		r.Observed = s
	} else {
		r.Observed += "; " + s
	}
}

// writeReport appends the rows as JSON lines to $CREDD_RELIABILITY_REPORT,
// which test/run.sh checks docs/reliability.md against (or, with
// CREDD_WRITE_DOCS=1, renders into it) with test/reliability/render.
func writeReport() error {
	path := os.Getenv("CREDD_RELIABILITY_REPORT")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	report.mu.Lock()
	defer report.mu.Unlock()
	enc := json.NewEncoder(f)
	for _, r := range report.rows {
		if r.Result == "" {
			r.Result = "FAIL" // the test never finished
		}
		r.Observed = strings.ReplaceAll(r.Observed, "\n", " ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
