package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// stormRuns returns every run of s, whose top level is the worst of them
// (which run is worst is bench/storm's rule); a file from before -runs
// holds just the one.
func stormRuns(s *loaddoc.Storm) []loaddoc.StormRun {
	if len(s.Runs) == 0 {
		return []loaddoc.StormRun{s.StormRun}
	}
	return s.Runs
}

// runsLabel says how many runs the top-level figures of s are the worst of.
func runsLabel(s *loaddoc.Storm) string {
	if k := len(stormRuns(s)); k > 1 {
		return fmt.Sprintf("worst of %d runs", k)
	}
	return "1 run"
}

// unavailable is the answer credd gives, by design, to a request that
// waited its 800 ms for the first STS call in vain (DESIGN.md, the
// endpoint: "not yet fetched → 503"; daemon/server DefaultAwaitTimeout).
// It is counted and shown, but it is no loss.
const unavailable = "503"

// waveTrouble describes what went wrong in w, or returns "" if nothing
// did: every request answered, and answered 200 or the documented 503.
func waveTrouble(w loaddoc.Wave) string {
	bad := w.Errors > 0
	for code, n := range w.Statuses {
		if n > 0 && code != "200" && code != unavailable {
			bad = true
		}
	}
	if !bad {
		return ""
	}
	parts := []string{fmt.Sprintf("%d of %d answered 200", w.OK, w.Requests)}
	for _, c := range []struct {
		n    int
		what string
	}{{w.Unanswered, "unanswered"}, {w.Timeouts, "timed out"}, {w.OtherErrors, "other errors"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	// Files from before the errors were sorted only have the total.
	if w.Errors > 0 && w.Unanswered+w.Timeouts+w.OtherErrors == 0 {
		parts = append(parts, fmt.Sprintf("%d errors", w.Errors))
	}
	if s := otherStatuses(w.Statuses); s != "" {
		parts = append(parts, s)
	}
	desc := strings.Join(parts, ", ")
	if w.FirstError != "" {
		desc += fmt.Sprintf(" (first: %s)", shortError(w.FirstError))
	}
	return desc
}

// otherStatuses lists the statuses other than 200, as "503 ×12, 401 ×1".
func otherStatuses(statuses map[string]int) string {
	codes := make([]string, 0, len(statuses))
	for code, n := range statuses {
		if code != "200" && n > 0 {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	var parts []string
	for _, code := range codes {
		s := fmt.Sprintf("%s ×%d", code, statuses[code])
		if code == unavailable {
			s += " (the documented 800 ms wait)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// shortError drops net/http's `Get "URL": ` prefix: the URL is the same
// for every request and its port changes with each run.
func shortError(s string) string {
	if i := strings.Index(s, `": `); i >= 0 && strings.HasPrefix(s, "Get ") {
		return s[i+3:]
	}
	return s
}

// judgeStorm returns the problems of one wave of a storm, over all its
// runs: the worst run alone could hide a loss of another kind (a run with
// ten 503s counts as worse than one with a single dropped connection).
func judgeStorm(name string, s *loaddoc.Storm, wave func(loaddoc.StormRun) loaddoc.Wave) []string {
	runs := stormRuns(s)
	var problems []string
	for i, run := range runs {
		desc := waveTrouble(wave(run))
		if desc == "" {
			continue
		}
		which := ""
		switch {
		case len(runs) == 1:
		case i == s.WorstRun:
			which = fmt.Sprintf("worst of %d runs: ", len(runs))
		default:
			which = fmt.Sprintf("run %d of %d: ", i+1, len(runs))
		}
		problems = append(problems, fmt.Sprintf("storm %s: %s%s", name, which, desc))
	}
	return problems
}

// stsCalls returns the AssumeRoleWithWebIdentity calls of each run's wave,
// and a problem for each run where they were not want.
func stsCalls(name string, s *loaddoc.Storm, wave func(loaddoc.StormRun) loaddoc.Wave, want int64) (calls []string, problems []string) {
	runs := stormRuns(s)
	for i, run := range runs {
		got := wave(run).STSCalls["AssumeRoleWithWebIdentity"]
		calls = append(calls, strconv.FormatInt(got, 10))
		if got != want {
			which := ""
			if len(runs) > 1 {
				which = fmt.Sprintf(" (run %d of %d)", i+1, len(runs))
			}
			problems = append(problems, fmt.Sprintf("storm %s%s: %d STS calls, want %d", name, which, got, want))
		}
	}
	return calls, problems
}

func coldWave(r loaddoc.StormRun) loaddoc.Wave { return r.Cold }
func warmWave(r loaddoc.StormRun) loaddoc.Wave { return r.Warm }
