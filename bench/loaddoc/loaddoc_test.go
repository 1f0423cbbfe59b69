package loaddoc

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestDocumentsKeepTheirFieldNames holds the documents, every field set, to
// golden files: a field renamed here would read as zero in every reader of
// a document printed before the change, so a rename must be deliberate.
func TestDocumentsKeepTheirFieldNames(t *testing.T) {
	failures := Failures{Errors: 3, Unanswered: 1, Timeouts: 1, OtherErrors: 1, FirstError: `Get "http://127.0.0.1:1/": EOF`}
	wave := Wave{Requests: 10, OK: 7, Statuses: map[string]int{"200": 7}, Failures: failures, SentBeforeReady: 4,
		P50Ms: 1.5, P99Ms: 2.5, MaxMs: 3.5, WallMs: 4.5, STSCalls: map[string]int64{"AssumeRoleWithWebIdentity": 1}}
	run := StormRun{Cold: wave, Warm: wave, StartToReadyMs: 12.5, ServerHWMKiB: 30720}
	probe := Probe{Requests: 10, OK: 7, Statuses: map[string]int{"200": 7}, Failures: failures, P50Ms: 0.3, P99Ms: 2.5, MaxMs: 1200, Over1s: 1}
	flood := Flood{Kind: "unauth", Rate: 1000, DurationMs: 10000, ProbeIntervalMs: 10, ProbeTimeoutMs: 1000,
		Flood: FloodCounts{Attempted: 100, Opened: 90, DialErrors: 4, FirstDialError: "dial tcp4: too many open files",
			DialsPending: 6, ClosedByServer: 80, OpenAtEnd: 10, Responses: map[string]int{"401": 90}},
		ServerFDsMax: 530, ServerRSSMaxKiB: 30720, ServerThreadsMax: 8, ServerSampleError: "open /proc/42/fd: no such file or directory"}
	flood.Probes.KeepAlive, flood.Probes.NewConn = probe, probe

	for _, tc := range []struct {
		file string
		doc  any
	}{
		{"storm.json", Storm{StormRun: run, Runs: []StormRun{run}, WorstRun: 0}},
		{"flood.json", flood},
	} {
		t.Run(tc.file, func(t *testing.T) {
			// As bench/storm's emit writes it.
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			enc.SetIndent("", "  ")
			if err := enc.Encode(tc.doc); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v: run `go test ./bench/loaddoc -update` to write it", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("the %s document changed (a renamed or moved field breaks its readers); got:\n%s\nwant:\n%s", tc.file, got.Bytes(), want)
			}
		})
	}
}
