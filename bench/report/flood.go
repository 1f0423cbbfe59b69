package main

import (
	"fmt"
	"strings"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// floodKinds are the floods bench/run.sh runs, in order, with what each of
// their connections does.
var floodKinds = []struct{ kind, does string }{
	{"silent", "connects and never sends a byte"},
	{"unauth", "sends `GET /v1/credentials` without the token, reads the 401, then idles on keep-alive"},
	{"churn", "sends the same request, reads the 401, then closes"},
	{"slowloris", "sends the request line and `Host` header, never the blank line that ends the head"},
}

// probes are the two legitimate clients measured during a flood.
var probes = []struct {
	name string
	of   func(*loaddoc.Flood) loaddoc.Probe
}{
	{"keep-alive probe", func(f *loaddoc.Flood) loaddoc.Probe { return f.Probes.KeepAlive }},
	{"new-connection probe", func(f *loaddoc.Flood) loaddoc.Probe { return f.Probes.NewConn }},
}

// probeTrouble describes what went wrong for a probe, or returns "" if every
// request was answered 200 within 1 s.
func probeTrouble(p loaddoc.Probe) string {
	if p.Requests == 0 {
		return "sent no request"
	}
	if p.OK == p.Requests && p.Errors == 0 && p.Over1s == 0 {
		return ""
	}
	parts := []string{fmt.Sprintf("%d of %d requests answered 200", p.OK, p.Requests)}
	for _, c := range []struct {
		n    int
		what string
	}{{p.Unanswered, "unanswered"}, {p.Timeouts, "timed out"}, {p.OtherErrors, "other errors"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if s := otherStatuses(p.Statuses); s != "" {
		parts = append(parts, s)
	}
	if p.Over1s > 0 {
		parts = append(parts, fmt.Sprintf("%d answered after more than 1 s (slowest %s)", p.Over1s, fmtMs(p.MaxMs)))
	}
	desc := strings.Join(parts, ", ")
	if p.FirstError != "" {
		desc += fmt.Sprintf(" (first: %s)", shortError(p.FirstError))
	}
	return desc
}

// judgeFlood returns the problems of one flood: a legitimate client that
// failed, or was answered later than the SDKs' 1 s timeout, or a server
// that could not be sampled (it exited).
func judgeFlood(f *loaddoc.Flood) []string {
	var problems []string
	for _, p := range probes {
		if desc := probeTrouble(p.of(f)); desc != "" {
			problems = append(problems, fmt.Sprintf("flood %s: %s: %s", f.Kind, p.name, desc))
		}
	}
	if f.ServerSampleError != "" {
		problems = append(problems, fmt.Sprintf("flood %s: the server could not be sampled during the flood (%s): did it exit?", f.Kind, f.ServerSampleError))
	}
	return problems
}

// readFloods reads flood-KIND.json for each kind, judging each.
func (r *report) readFloods() []loaddoc.Flood {
	var floods []loaddoc.Flood
	for _, k := range floodKinds {
		var f loaddoc.Flood
		if !r.readJSON("flood-"+k.kind+".json", &f) {
			continue
		}
		r.problems = append(r.problems, judgeFlood(&f)...)
		floods = append(floods, f)
	}
	return floods
}

// floodGuarantee sums up what the keep-alive probe saw over all floods.
type floodGuarantee struct {
	requests, failed, over1s int
	p99, max                 float64
}

func keepAliveGuarantee(floods []loaddoc.Flood) floodGuarantee {
	var g floodGuarantee
	for _, f := range floods {
		p := f.Probes.KeepAlive
		g.requests += p.Requests
		g.failed += p.Requests - p.OK
		g.over1s += p.Over1s
		g.p99, g.max = max(g.p99, p.P99Ms), max(g.max, p.MaxMs)
	}
	return g
}

func (r *report) floodHeadline() {
	if len(r.floods) == 0 {
		return
	}
	var kinds []string
	for _, f := range r.floods {
		kinds = append(kinds, "`"+f.Kind+"`")
	}
	g := keepAliveGuarantee(r.floods)
	r.p("- Under a %d connections/s flood from another local process (%s): an authorized keep-alive client's p99 %s, slowest %s; %d of %d requests over 1 s, %d not answered 200.",
		r.floods[0].Rate, strings.Join(kinds, ", "), fmtMs(g.p99), fmtMs(g.max), g.over1s, g.requests, g.failed)
}

// ---- 6. under a flood ----

func (r *report) flood() {
	r.p("## 6. Under a flood")
	r.p("")
	r.p("Another local process opens new connections to a warm credd at a steady rate (`bench/storm flood`),")
	r.p("while two legitimate clients send the real token, read from the token file for each request as")
	r.p("SDKs do: a **keep-alive** client whose connection was open before the flood, one request every")
	r.p("probe interval, and a **new-connection** client opening a connection per request, one every five.")
	r.p("Both time out after 1 s, as the JS, Java and C++ SDKs do. The kinds of flood, by what each of its")
	r.p("connections does:")
	r.p("")
	for _, k := range floodKinds {
		r.p("- `%s`: %s;", k.kind, k.does)
	}
	r.p("")
	r.p("\"Shed\" counts the flood's connections the server closed while the flood went on; the server's")
	r.p("open descriptors, RSS and threads are sampled from /proc every 100 ms, the table gives their maxima.")
	r.p("A failed probe request, or one answered after more than 1 s, is listed under the problems.")
	r.p("")
	r.p("| flood | rate | connections opened | shed by the server | keep-alive probe: 200 / requests | p50 / p99 / max | over 1 s | new-connection probe: 200 / requests | p50 / p99 / max | over 1 s | server fds (max) | server RSS (max) |")
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, f := range r.floods {
		opened := fmt.Sprintf("%d", f.Flood.Opened)
		var failed []string
		if f.Flood.DialErrors > 0 {
			failed = append(failed, fmt.Sprintf("%d dial errors, first: %s", f.Flood.DialErrors, f.Flood.FirstDialError))
		}
		if f.Flood.DialsPending > 0 {
			failed = append(failed, fmt.Sprintf("%d dials pending at the end", f.Flood.DialsPending))
		}
		if len(failed) > 0 {
			opened += " (" + strings.Join(failed, "; ") + ")"
		}
		cells := []string{fmt.Sprintf("`%s`, %g s", f.Kind, f.DurationMs/1000), fmt.Sprintf("%d/s", f.Rate), opened, fmt.Sprintf("%d", f.Flood.ClosedByServer)}
		for _, p := range probes {
			pr := p.of(&f)
			cells = append(cells, fmt.Sprintf("%d / %d", pr.OK, pr.Requests),
				fmt.Sprintf("%s / %s / %s", fmtMs(pr.P50Ms), fmtMs(pr.P99Ms), fmtMs(pr.MaxMs)), fmt.Sprintf("%d", pr.Over1s))
		}
		cells = append(cells, fmt.Sprintf("%d", f.ServerFDsMax), fmt.Sprintf("%.1f MiB", float64(f.ServerRSSMaxKiB)/1024))
		r.p("| %s |", strings.Join(cells, " | "))
	}
	r.p("")
	if len(r.floods) == 0 {
		return
	}
	r.p("What this run shows:")
	r.p("")
	for _, f := range r.floods {
		held := "held"
		if len(judgeFlood(&f)) > 0 {
			held = "**not held**, see the problems"
		}
		ka, nc := f.Probes.KeepAlive, f.Probes.NewConn
		r.p("- an authorized keep-alive client under a %d connections/s `%s` flood: p99 %s, max %s, %d of %d over 1 s, %d not answered 200; a client opening a new connection per request: p99 %s, max %s, %d of %d over 1 s, %d not answered 200 (%s).",
			f.Rate, f.Kind, fmtMs(ka.P99Ms), fmtMs(ka.MaxMs), ka.Over1s, ka.Requests, ka.Requests-ka.OK,
			fmtMs(nc.P99Ms), fmtMs(nc.MaxMs), nc.Over1s, nc.Requests, nc.Requests-nc.OK, held)
	}
	r.p("")
}
