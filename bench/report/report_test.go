package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// writeResults writes name → JSON into a new results directory.
func writeResults(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A wave of 10000 requests: ok answered 200, the rest as given.
func waveJSON(ok int, extra string) string {
	return `{"requests":10000,"ok":` + itoa(ok) + `,"p50_ms":40,"p99_ms":90,"sts_calls":{"AssumeRoleWithWebIdentity":1}` + extra + `}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

const cleanWarm = `{"requests":10000,"ok":10000,"statuses":{"200":10000},"p99_ms":50,"sts_calls":{"AssumeRoleWithWebIdentity":0}}`

// stormJSON is a storm file of three runs whose worst is run 2 (index 1),
// copied to the top level as bench/storm does.
func stormJSON(colds ...string) string {
	var runs []string
	for _, c := range colds {
		runs = append(runs, `{"cold":`+c+`,"warm":`+cleanWarm+`}`)
	}
	return `{"cold":` + colds[1] + `,"warm":` + cleanWarm + `,"runs":[` + strings.Join(runs, ",") + `],"worst_run":1}`
}

func TestStormTableShowsTheWorstRun(t *testing.T) {
	clean := waveJSON(10000, `,"statuses":{"200":10000}`)
	lossy := waveJSON(9800, `,"statuses":{"200":9800},"errors":200,"unanswered":200,"first_error":"Get \"http://127.0.0.1:4242/v1/credentials\": EOF"`)
	dir := writeResults(t, map[string]string{
		"cold-credd.json":       `{"runs":3,"median_ms":120,"min_ms":110,"max_ms":130,"sts_calls":{"AssumeRoleWithWebIdentity":3}}`,
		"cold-baseline.json":    `{"runs":3,"median_ms":5,"min_ms":4,"max_ms":6}`,
		"storm-baseline.json":   `{"cold":{"requests":10000,"ok":10000,"statuses":{"200":10000},"p99_ms":60},"warm":` + cleanWarm + `}`,
		"storm-credd.json":      stormJSON(clean, clean, clean),
		"storm-credd-slow.json": stormJSON(clean, lossy, clean),
	})
	r := &report{dir: dir, meta: map[string]string{"latency": "100ms", "storm_latency": "600ms"}}
	r.coldStorm()
	out := r.b.String()
	for _, want := range []string{
		"| credd, cold (STS +600ms) | worst of 3 runs | 10000 | 9800 | 200 | 0 | – |",
		"| baseline | 1 run | 10000 | 10000 | 0 | 0 | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no row %q in\n%s", want, out)
		}
	}
	want := []string{"storm credd, cold (STS +600ms): worst of 3 runs: 9800 of 10000 answered 200, 200 unanswered (first: EOF)"}
	if !slices.Equal(r.problems, want) {
		t.Errorf("problems = %q, want %q", r.problems, want)
	}
}

func TestWaveTrouble(t *testing.T) {
	for _, tc := range []struct {
		name string
		wave loaddoc.Wave
		want string
	}{
		{"every request answered 200 is fine",
			loaddoc.Wave{Requests: 10, OK: 10, Statuses: map[string]int{"200": 10}}, ""},
		{"the documented 503 after the wait is no loss",
			loaddoc.Wave{Requests: 10, OK: 7, Statuses: map[string]int{"200": 7, "503": 3}}, ""},
		{"a dropped connection is",
			loaddoc.Wave{Requests: 10, OK: 9, Statuses: map[string]int{"200": 9}, Failures: loaddoc.Failures{Errors: 1, Unanswered: 1, FirstError: "read: connection reset by peer"}},
			"9 of 10 answered 200, 1 unanswered (first: read: connection reset by peer)"},
		{"timeouts and other errors are counted apart",
			loaddoc.Wave{Requests: 10, OK: 6, Statuses: map[string]int{"200": 6, "503": 1}, Failures: loaddoc.Failures{Errors: 3, Timeouts: 2, OtherErrors: 1, FirstError: "x"}},
			"6 of 10 answered 200, 2 timed out, 1 other errors, 503 ×1 (the documented 800 ms wait) (first: x)"},
		{"a status other than 200 and 503 is a problem",
			loaddoc.Wave{Requests: 10, OK: 9, Statuses: map[string]int{"200": 9, "401": 1}}, "9 of 10 answered 200, 401 ×1"},
		{"a file from before errors were sorted still shows its errors",
			loaddoc.Wave{Requests: 10, OK: 8, Statuses: map[string]int{"200": 8}, Failures: loaddoc.Failures{Errors: 2, FirstError: "EOF"}}, "8 of 10 answered 200, 2 errors (first: EOF)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := waveTrouble(tc.wave); got != tc.want {
				t.Errorf("waveTrouble = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJudgeStormLooksAtEveryRun(t *testing.T) {
	// The worst run lost ten requests to the documented 503; another lost
	// one connection, which the worst run alone would hide.
	s := loaddoc.Storm{WorstRun: 0, Runs: []loaddoc.StormRun{
		{Cold: loaddoc.Wave{Requests: 100, OK: 90, Statuses: map[string]int{"200": 90, "503": 10}}},
		{Cold: loaddoc.Wave{Requests: 100, OK: 100, Statuses: map[string]int{"200": 100}}},
		{Cold: loaddoc.Wave{Requests: 100, OK: 99, Statuses: map[string]int{"200": 99}, Failures: loaddoc.Failures{Errors: 1, Unanswered: 1, FirstError: `Get "http://127.0.0.1:1/": EOF`}}},
	}}
	s.StormRun = s.Runs[0]
	got := judgeStorm("credd, cold", &s, coldWave)
	want := []string{"storm credd, cold: run 3 of 3: 99 of 100 answered 200, 1 unanswered (first: EOF)"}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
	if calls, problems := stsCalls("credd, cold", &s, coldWave, 0); len(calls) != 3 || len(problems) != 0 {
		t.Errorf("stsCalls = %q, %q", calls, problems)
	}
}

func TestStormFileOfOneRun(t *testing.T) {
	var s loaddoc.Storm
	if err := json.Unmarshal([]byte(`{"cold":{"requests":5,"ok":4,"errors":1,"first_error":"EOF"},"warm":{"requests":5,"ok":5}}`), &s); err != nil {
		t.Fatal(err)
	}
	if len(stormRuns(&s)) != 1 || runsLabel(&s) != "1 run" {
		t.Fatalf("runs %d, label %q", len(stormRuns(&s)), runsLabel(&s))
	}
	got := judgeStorm("old", &s, coldWave)
	if want := []string{"storm old: 4 of 5 answered 200, 1 errors (first: EOF)"}; !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// floodJSON is a flood file whose probes saw everything answered quickly.
func floodJSON(kind string, keepalive string) string {
	if keepalive == "" {
		keepalive = `{"requests":1000,"ok":1000,"statuses":{"200":1000},"p50_ms":0.3,"p99_ms":2.5,"max_ms":9}`
	}
	return `{"kind":"` + kind + `","rate":1000,"duration_ms":10000,
		"flood":{"attempted":10000,"opened":10000,"closed_by_server":9400,"open_at_end":600},
		"probes":{"keepalive":` + keepalive + `,
			"newconn":{"requests":200,"ok":200,"statuses":{"200":200},"p50_ms":0.7,"p99_ms":8,"max_ms":16}},
		"server_fds_max":530,"server_rss_max_kib":30720,"server_threads_max":8}`
}

func TestJudgeFlood(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want []string
	}{
		{"probes all answered 200 under 1 s", floodJSON("silent", ""), nil},
		{"a dropped probe request",
			floodJSON("unauth", `{"requests":1000,"ok":998,"statuses":{"200":998},"errors":2,"unanswered":1,"timeouts":1,"first_error":"EOF","max_ms":20}`),
			[]string{"flood unauth: keep-alive probe: 998 of 1000 requests answered 200, 1 unanswered, 1 timed out (first: EOF)"}},
		{"a probe answered 200 but too late for the SDKs",
			floodJSON("churn", `{"requests":1000,"ok":1000,"statuses":{"200":1000},"p99_ms":30,"max_ms":1200,"over_1s":2}`),
			[]string{"flood churn: keep-alive probe: 1000 of 1000 requests answered 200, 2 answered after more than 1 s (slowest 1200 ms)"}},
		{"a probe that never ran",
			floodJSON("silent", `{"requests":0,"ok":0}`),
			[]string{"flood silent: keep-alive probe: sent no request"}},
		{"a server that went away",
			strings.Replace(floodJSON("silent", ""), `"server_threads_max":8`, `"server_sample_error":"open /proc/42/fd: no such file or directory"`, 1),
			[]string{"flood silent: the server could not be sampled during the flood (open /proc/42/fd: no such file or directory): did it exit?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f loaddoc.Flood
			if err := json.Unmarshal([]byte(tc.json), &f); err != nil {
				t.Fatal(err)
			}
			if got := judgeFlood(&f); !slices.Equal(got, tc.want) {
				t.Errorf("problems = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFloodSection(t *testing.T) {
	dir := writeResults(t, map[string]string{
		"flood-silent.json":    floodJSON("silent", ""),
		"flood-unauth.json":    floodJSON("unauth", ""),
		"flood-churn.json":     floodJSON("churn", `{"requests":1000,"ok":999,"statuses":{"200":999},"errors":1,"unanswered":1,"first_error":"EOF","p99_ms":3,"max_ms":12}`),
		"flood-slowloris.json": floodJSON("slowloris", ""),
	})
	r := &report{dir: dir}
	r.floods = r.readFloods()
	r.floodHeadline()
	r.flood()
	out := r.b.String()
	for _, want := range []string{
		"- Under a 1000 connections/s flood from another local process (`silent`, `unauth`, `churn`, `slowloris`): an authorized keep-alive client's p99 3.0 ms, slowest 12.0 ms; 0 of 4000 requests over 1 s, 1 not answered 200.",
		"| `silent`, 10 s | 1000/s | 10000 | 9400 | 1000 / 1000 | 300 µs / 2.5 ms / 9.0 ms | 0 | 200 / 200 | 700 µs / 8.0 ms / 16.0 ms | 0 | 530 | 30.0 MiB |",
		"under a 1000 connections/s `silent` flood: p99 2.5 ms, max 9.0 ms, 0 of 1000 over 1 s, 0 not answered 200;",
		"`churn` flood: p99 3.0 ms, max 12.0 ms, 0 of 1000 over 1 s, 1 not answered 200; a client opening a new connection per request: p99 8.0 ms, max 16.0 ms, 0 of 200 over 1 s, 0 not answered 200 (**not held**, see the problems).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if want := []string{"flood churn: keep-alive probe: 999 of 1000 requests answered 200, 1 unanswered (first: EOF)"}; !slices.Equal(r.problems, want) {
		t.Errorf("problems = %q, want %q", r.problems, want)
	}
}

func TestMissingFloodIsAProblem(t *testing.T) {
	r := &report{dir: writeResults(t, map[string]string{"flood-silent.json": floodJSON("silent", "")})}
	if floods := r.readFloods(); len(floods) != 1 {
		t.Fatalf("read %d floods, want 1", len(floods))
	}
	if len(r.problems) != len(floodKinds)-1 || !strings.Contains(r.problems[0], "missing flood-unauth.json") {
		t.Errorf("problems = %q", r.problems)
	}
}
