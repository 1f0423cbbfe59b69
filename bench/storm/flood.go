package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// ---- flood ----

// The kinds of flood: what another local process does with each of the
// connections it opens to the endpoint.
const (
	floodSilent = "silent" // connects and never sends a byte
	floodUnauth = "unauth" // one request without the token, then idles on keep-alive
	floodChurn  = "churn"  // one request without the token, then closes
	// slowloris: the start of a request head, never its end
	floodSlowloris = "slowloris"
)

type floodConfig struct {
	url           string
	tokenFile     string
	kind          string
	rate          int // new connections per second
	duration      time.Duration
	probeInterval time.Duration
	probeTimeout  time.Duration
	pid           int // the server, sampled from /proc; 0: not sampled
}

// probe is one legitimate client during the flood: what it reports, and the
// latencies it keeps until the end to compute the percentiles.
type probe struct {
	loaddoc.Probe
	lat []float64
}

func flood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	var c floodConfig
	fs.StringVar(&c.url, "url", "", "the endpoint (must be on 127.0.0.1)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the Authorization header value, read for each probe request")
	fs.StringVar(&c.kind, "kind", floodSilent, "what each flood connection does: silent, unauth, churn or slowloris")
	fs.IntVar(&c.rate, "rate", 1000, "new flood connections per second")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long the flood lasts")
	fs.DurationVar(&c.probeInterval, "probe-interval", 10*time.Millisecond, "keep-alive probe period (the new-connection probe: 5×)")
	fs.DurationVar(&c.probeTimeout, "probe-timeout", time.Second, "probe client timeout")
	fs.IntVar(&c.pid, "pid", 0, "server process to sample (/proc/PID/fd and /proc/PID/status)")
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("flood takes no command (got %q): it floods a server already running at -url", fs.Args())
	}
	if err := c.check(); err != nil {
		return err
	}
	// Silent and idle connections may all stay open to the end.
	if err := needFiles(uint64(c.connections())+512, fmt.Sprintf("a flood of %d connections", c.connections())); err != nil {
		return err
	}
	res, err := runFlood(c)
	if err != nil {
		return err
	}
	return emit(res)
}

func (c *floodConfig) check() error {
	t := target{url: c.url}
	if err := t.check(); err != nil {
		return err
	}
	switch {
	case c.tokenFile == "":
		return errors.New("-token-file is required: the probes send the real token, as SDKs do")
	case c.kind != floodSilent && c.kind != floodUnauth && c.kind != floodChurn && c.kind != floodSlowloris:
		return fmt.Errorf("-kind %q: want silent, unauth, churn or slowloris", c.kind)
	case c.rate < 1 || c.rate > 100000:
		return fmt.Errorf("-rate %d: want 1 to 100000 connections per second", c.rate)
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return fmt.Errorf("-duration %v: want more than 0 and at most 10m", c.duration)
	case c.probeInterval <= 0 || c.probeTimeout <= 0:
		return fmt.Errorf("-probe-interval %v -probe-timeout %v: both must be more than 0", c.probeInterval, c.probeTimeout)
	case c.pid < 0:
		return fmt.Errorf("-pid %d: want the server's process id", c.pid)
	}
	return nil
}

// connections is how many connections the flood opens in all.
func (c *floodConfig) connections() int {
	return int(int64(c.rate) * int64(c.duration) / int64(time.Second))
}

// runFlood establishes the keep-alive probe's connection, then floods the
// server for c.duration while both probes measure, and closes everything
// it opened before returning.
func runFlood(c floodConfig) (loaddoc.Flood, error) {
	res := loaddoc.Flood{Kind: c.kind, Rate: c.rate, DurationMs: ms(c.duration),
		ProbeIntervalMs: ms(c.probeInterval), ProbeTimeoutMs: ms(c.probeTimeout)}
	if c.pid > 0 {
		if _, err := sampleServer(c.pid); err != nil {
			return res, fmt.Errorf("-pid %d: %w", c.pid, err)
		}
	}
	keepAliveTr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer keepAliveTr.CloseIdleConnections()
	keepAlive := &http.Client{Transport: keepAliveTr, Timeout: c.probeTimeout}
	newConnTr := &http.Transport{DisableKeepAlives: true}
	defer newConnTr.CloseIdleConnections()
	newConn := &http.Client{Transport: newConnTr, Timeout: c.probeTimeout}

	// The keep-alive client's connection exists before the flood, as an
	// SDK's would in a process that was already running.
	tok, err := readToken(c.tokenFile)
	if err != nil {
		return res, err
	}
	status, err := do(keepAlive, newRequest(context.Background(), c.url, tok))
	if err != nil {
		return res, fmt.Errorf("the server at %s cannot be reached before the flood: %w", c.url, err)
	}
	if status != http.StatusOK {
		return res, fmt.Errorf("the server at %s answered %d before the flood, want 200: is it warm, and is %s its token file?", c.url, status, c.tokenFile)
	}

	u, _ := url.Parse(c.url)
	f := newFlooder(u.Host, c.kind, u.EscapedPath())
	ctx, endFlood := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	keepAliveProbe := &probe{Probe: loaddoc.Probe{Statuses: map[string]int{}}}
	newConnProbe := &probe{Probe: loaddoc.Probe{Statuses: map[string]int{}}}
	bg.Go(func() { keepAliveProbe.run(ctx, keepAlive, c.url, c.tokenFile, c.probeInterval) })
	bg.Go(func() { newConnProbe.run(ctx, newConn, c.url, c.tokenFile, 5*c.probeInterval) })
	if c.pid > 0 {
		bg.Go(func() { keepServerMaxima(ctx, c.pid, &res) })
	}
	f.flood(ctx, c.rate, c.duration)
	endFlood()
	res.Flood = f.end()
	bg.Wait()
	res.Probes.KeepAlive = keepAliveProbe.finish()
	res.Probes.NewConn = newConnProbe.finish()
	return res, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ---- the flood's connections ----

// flooder opens the flood's connections and keeps each watched by a
// goroutine, so a connection the server closes is noticed and freed at once.
type flooder struct {
	addr    string
	kind    string
	request []byte // the unauthorized request (unauth, churn); slowloris sends it up to User-Agent
	dialer  net.Dialer
	wg      sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	ended  bool // the flood is over: closes from now on are ours
	counts loaddoc.FloodCounts
}

func newFlooder(addr, kind, path string) *flooder {
	if path == "" {
		path = "/"
	}
	return &flooder{
		addr:    addr,
		kind:    kind,
		request: []byte("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: credd-bench-flood\r\n\r\n"),
		conns:   map[net.Conn]struct{}{},
		counts:  loaddoc.FloodCounts{Responses: map[string]int{}},
	}
}

// flood starts rate connections a second for d, evenly paced from its
// start: each dial runs in its own goroutine, so a slow one does not slow
// the pace, and a late tick is caught up at once, so the count is exact.
func (f *flooder) flood(ctx context.Context, rate int, d time.Duration) {
	total := int(int64(rate) * int64(d) / int64(time.Second))
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range total {
		due := start.Add(time.Duration(int64(d) * int64(i) / int64(total)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			<-timer.C
		}
		f.wg.Go(func() { f.one(ctx) })
	}
	if wait := time.Until(start.Add(d)); wait > 0 {
		timer.Reset(wait)
		<-timer.C
	}
}

// one opens one connection and does with it what the kind says.
func (f *flooder) one(ctx context.Context) {
	f.mu.Lock()
	f.counts.Attempted++
	f.mu.Unlock()
	conn, err := f.dialer.DialContext(ctx, "tcp4", f.addr)
	if err != nil {
		f.mu.Lock()
		if ctx.Err() != nil {
			f.counts.DialsPending++
		} else {
			f.counts.DialErrors++
			if f.counts.FirstDialError == "" {
				f.counts.FirstDialError = err.Error()
			}
		}
		f.mu.Unlock()
		return
	}
	if !f.track(conn) {
		return
	}
	r := bufio.NewReader(conn)
	switch f.kind {
	case floodSlowloris:
		// The request line and one header, without the blank line that
		// ends the head: the server waits for the rest.
		if _, err := conn.Write(f.request[:bytes.Index(f.request, []byte("User-Agent:"))]); err != nil {
			f.closedByServer(conn)
			return
		}
	case floodUnauth, floodChurn:
		status, err := exchange(conn, r, f.request)
		if err != nil {
			f.closedByServer(conn)
			return
		}
		f.mu.Lock()
		f.counts.Responses[strconv.Itoa(status)]++
		f.mu.Unlock()
	}
	if f.kind == floodChurn {
		f.untrack(conn)
		return
	}
	// Wait for the server to close it (a read error), or for the end.
	_, _ = io.Copy(io.Discard, r)
	f.closedByServer(conn)
}

// exchange sends req on conn and reads the response, body included.
func exchange(conn net.Conn, r *bufio.Reader, req []byte) (int, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// track counts conn as opened, unless the flood is already over (then it
// closes it and counts it among the dials pending at the end).
func (f *flooder) track(conn net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		conn.Close()
		f.counts.DialsPending++
		return false
	}
	f.counts.Opened++
	f.conns[conn] = struct{}{}
	return true
}

// closedByServer frees conn after a read or write on it failed: during the
// flood, because the server closed it; after, because end closed it.
func (f *flooder) closedByServer(conn net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return
	}
	f.counts.ClosedByServer++
	delete(f.conns, conn)
	conn.Close()
}

// untrack closes conn on the client's side (churn).
func (f *flooder) untrack(conn net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ended {
		delete(f.conns, conn)
		conn.Close()
	}
}

// end counts the connections still open, closes them, and waits for every
// goroutine of the flood (the caller has cancelled the dials' context).
func (f *flooder) end() loaddoc.FloodCounts {
	f.mu.Lock()
	f.ended = true
	f.counts.OpenAtEnd = len(f.conns)
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return f.counts
}

// ---- the probes ----

// run sends a GET every period until ctx ends, one at a time as an SDK
// calling in a loop would: a slow answer delays the next (the ticker drops
// the ticks missed). The token is read for each request, as SDKs do with
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
func (p *probe) run(ctx context.Context, client *http.Client, u, tokenFile string, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p.Requests++
		tok, err := readToken(tokenFile)
		if err != nil {
			addFailure(&p.Failures, err)
			continue
		}
		// Not ctx: a request in flight when the flood ends runs to its answer
		// or its timeout, and counts.
		start := time.Now()
		status, err := do(client, newRequest(context.Background(), u, tok))
		took := time.Since(start)
		if err != nil {
			addFailure(&p.Failures, err)
			continue
		}
		p.Statuses[strconv.Itoa(status)]++
		if status == http.StatusOK {
			p.OK++
		}
		p.lat = append(p.lat, ms(took))
		if took > time.Second {
			p.Over1s++
		}
	}
}

// finish computes the percentiles and returns what the probe reports.
func (p *probe) finish() loaddoc.Probe {
	p.P50Ms, p.P99Ms, p.MaxMs = pct(p.lat, 50), pct(p.lat, 99), pct(p.lat, 100)
	return p.Probe
}

// ---- the server's footprint ----

type serverSample struct {
	fds     int
	rssKiB  int64
	threads int
}

// sampleServer counts pid's open descriptors and reads its VmRSS and
// Threads (proc(5)).
func sampleServer(pid int) (serverSample, error) {
	var s serverSample
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return s, err
	}
	s.fds = len(names)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSuffix(strings.TrimSpace(v), " kB")
		switch k {
		case "VmRSS":
			s.rssKiB, _ = strconv.ParseInt(v, 10, 64)
		case "Threads":
			s.threads, _ = strconv.Atoi(v)
		}
	}
	return s, nil
}

// keepServerMaxima keeps in res the maxima of the server's samples until
// ctx ends.
func keepServerMaxima(ctx context.Context, pid int, res *loaddoc.Flood) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := sampleServer(pid)
		if err != nil {
			// The server is gone: that, not a maximum, is the finding.
			res.ServerSampleError = err.Error()
			return
		}
		res.ServerFDsMax = max(res.ServerFDsMax, s.fds)
		res.ServerRSSMaxKiB = max(res.ServerRSSMaxKiB, s.rssKiB)
		res.ServerThreadsMax = max(res.ServerThreadsMax, s.threads)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
