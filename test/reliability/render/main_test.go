package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sampleRows() []row {
	return []row{
		{Area: "STS faults", Key: "01a", Tried: "STS 500, during the first fetch", Expected: "503 `CredentialsUnavailable`", Observed: "29× 503; gaps 93/150 ms", Result: "pass"},
		{Area: "STS faults", Key: "01b", Tried: "STS 500, during a refresh", Expected: "held credentials served | then 503", Observed: "58× 200", Result: "pass"},
		{Area: "Soak", Key: "01", Tried: "soak for 1m0s (CREDD_SOAK): credentials living 12s, refreshes every ~6s", Expected: "zero non-200 answers", Observed: "41213 requests", Result: "pass"},
		{Area: "Local trust", Key: "01", Tried: "the attacker pre-creates /tmp/credd-64002", Expected: "refused", Observed: "skipped: not root", Result: "skip"},
	}
}

// changed returns sampleRows with row i changed by f.
func changed(i int, f func(*row)) []row {
	rows := sampleRows()
	f(&rows[i])
	return rows
}

func TestCompare(t *testing.T) {
	committed := render(sampleRows())
	for _, tc := range []struct {
		name string
		rows []row
		want []string // a substring of each difference, in order
	}{
		{"the same rows are not stale", sampleRows(), nil},
		{"other observed numbers are not staleness",
			changed(0, func(r *row) { r.Observed = "31× 503; gaps 80/160/320 ms" }), nil},
		{"another soak duration is not staleness",
			changed(2, func(r *row) {
				r.Tried = "soak for 10m0s (CREDD_SOAK): credentials living 12s, refreshes every ~6s"
			}), nil},
		{"a changed result is staleness, and so is the count line",
			changed(3, func(r *row) { r.Result = "pass" }),
			[]string{"result changed: Local trust: the attacker pre-creates /tmp/credd-64002: committed skip, this run pass", "text outside the tables changed"}},
		{"a failed row is staleness",
			changed(0, func(r *row) { r.Result = "FAIL" }),
			[]string{"result changed: STS faults: STS 500, during the first fetch: committed pass, this run FAIL", "text outside the tables changed"}},
		{"a changed expectation is staleness",
			changed(1, func(r *row) { r.Expected = "held credentials served until expiry" }),
			[]string{"expectation changed: STS faults: STS 500, during a refresh"}},
		{"a changed number in what was tried is staleness",
			changed(3, func(r *row) { r.Tried = "the attacker pre-creates /tmp/credd-64003" }),
			[]string{"row gone: Local trust: the attacker pre-creates /tmp/credd-64002", "row added: Local trust: the attacker pre-creates /tmp/credd-64003 (skip)"}},
		{"a row gone is staleness",
			sampleRows()[:3],
			[]string{"row gone: Local trust", "text outside the tables changed"}},
		{"a row added is staleness",
			append(sampleRows(), row{Area: "Leaks", Key: "01", Tried: "5 daemons stopped", Expected: "no goroutine left", Result: "pass"}),
			[]string{"row added: Leaks: 5 daemons stopped (pass)", "text outside the tables changed"}},
		{"rows in another order are staleness",
			changed(0, func(r *row) { r.Key = "02" }),
			[]string{"another order"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := compare(committed, render(tc.rows))
			if len(diffs) != len(tc.want) {
				t.Fatalf("got %d differences, want %d:\n%s", len(diffs), len(tc.want), strings.Join(diffs, "\n"))
			}
			for i, w := range tc.want {
				if !strings.Contains(diffs[i], w) {
					t.Errorf("difference %d = %q, want it to contain %q", i, diffs[i], w)
				}
			}
		})
	}
}

func TestSplitCellsKeepsEscapedPipes(t *testing.T) {
	got := splitCells(`| a | b \| c | d |`)
	if want := []string{"a", `b \| c`, "d"}; !slices.Equal(got, want) {
		t.Fatalf("splitCells = %q, want %q", got, want)
	}
}

// writeRows writes rows as the suite does, one JSON object a line.
func writeRows(t *testing.T, rows []row) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "rows.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWriteThenCheck(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "docs", "reliability.md")
	if err := write(writeRows(t, sampleRows()), doc); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	noisier := changed(0, func(r *row) { r.Observed = "other numbers" })
	if err := check(writeRows(t, noisier), doc, &out); err != nil {
		t.Fatalf("check after write: %v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "matches this run (4 checks") {
		t.Errorf("check printed %q, want it to say the file matches", &out)
	}

	out.Reset()
	failed := changed(1, func(r *row) { r.Result = "FAIL" })
	err := check(writeRows(t, failed), doc, &out)
	if !errors.Is(err, errStale) || !strings.Contains(err.Error(), "make docs") {
		t.Fatalf("check of a changed result: err = %v, want a stale error that says to run make docs", err)
	}
	if !strings.Contains(out.String(), "result changed: STS faults: STS 500, during a refresh: committed pass, this run FAIL") {
		t.Errorf("check printed:\n%s\nwant the changed result named", &out)
	}
}

func TestCheckNeedsTheCommittedFileAndRows(t *testing.T) {
	rows := writeRows(t, sampleRows())
	err := check(rows, filepath.Join(t.TempDir(), "missing.md"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "make docs") {
		t.Errorf("check of a missing file: err = %v, want one that says to run make docs", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := check(empty, "unused.md", io.Discard); err == nil || !strings.Contains(err.Error(), "CREDD_RELIABILITY_REPORT") {
		t.Errorf("check of no rows: err = %v, want one naming CREDD_RELIABILITY_REPORT", err)
	}
	if err := check("", "unused.md", io.Discard); err == nil || !strings.Contains(err.Error(), "-in is required") {
		t.Errorf("check without -in: err = %v, want one saying -in is required", err)
	}
}

// The committed document parses into rows the check can compare: four
// cells each, a known result, every row in a section.
func TestCommittedDocumentParses(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rows := parseDoc(string(doc))
	if len(rows) == 0 {
		t.Fatal("no rows in docs/reliability.md")
	}
	for _, r := range rows {
		if r.area == "" || r.tried == "" || r.expected == "" || !slices.Contains([]string{"pass", "FAIL", "skip"}, r.result) {
			t.Errorf("row %+v: want an area, tried and expected text, and pass, FAIL or skip", r)
		}
	}
}
