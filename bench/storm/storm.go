package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// ---- storm ----

// notOK counts the requests of both waves that did not get a 200.
func notOK(r loaddoc.StormRun) int { return r.Cold.Requests - r.Cold.OK + r.Warm.Requests - r.Warm.OK }

// worstRun picks the run with the most requests not answered 200; among
// equals, the one with the slowest cold wave (p99). One run can hide a
// timing-dependent loss, so the worst is the one to report.
func worstRun(runs []loaddoc.StormRun) int {
	worst := 0
	for i, r := range runs {
		w := runs[worst]
		if notOK(r) > notOK(w) || (notOK(r) == notOK(w) && r.Cold.P99Ms > w.Cold.P99Ms) {
			worst = i
		}
	}
	return worst
}

func storm(args []string) error {
	fs := flag.NewFlagSet("storm", flag.ExitOnError)
	var t target
	t.register(fs)
	n := fs.Int("n", 10000, "concurrent requests per wave, each on its own connection")
	runs := fs.Int("runs", 1, "independent runs, each starting CMD afresh; the worst is reported at the top level")
	logPath := fs.String("log", "", "append CMD's output to this file")
	fs.Parse(args)
	if err := t.check(); err != nil {
		return err
	}
	if *n < 1 || *runs < 1 {
		return fmt.Errorf("-n %d -runs %d: both must be at least 1", *n, *runs)
	}
	if fs.NArg() == 0 {
		return errors.New("no command after --: want storm storm [flags] -- CMD ARGS")
	}
	// N client connections, and as many on the server's side when CMD
	// inherits this limit; 512 for everything else.
	if err := needFiles(uint64(*n)+512, fmt.Sprintf("a storm of %d connections", *n)); err != nil {
		return err
	}
	var res loaddoc.Storm
	for i := range *runs {
		r, err := stormOnce(t, *n, fs.Args(), *logPath)
		if err != nil {
			return fmt.Errorf("run %d of %d: %w", i+1, *runs, err)
		}
		res.Runs = append(res.Runs, r)
	}
	res.WorstRun = worstRun(res.Runs)
	res.StormRun = res.Runs[res.WorstRun]
	return emit(res)
}

// stormOnce starts CMD, fires the cold wave at it as soon as it listens,
// then the warm wave, and stops CMD before returning.
func stormOnce(t target, n int, cmdArgs []string, logPath string) (loaddoc.StormRun, error) {
	u, _ := url.Parse(t.url)
	before, err := t.stsCalls()
	if err != nil {
		return loaddoc.StormRun{}, err
	}
	// The token file a previous run's CMD left: credd writes a new one
	// (atomically, so a new file) at each start, which is the one to wait for.
	var stale os.FileInfo
	if t.tokenFile != "" {
		if stale, err = os.Stat(t.tokenFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return loaddoc.StormRun{}, err
		}
	}

	// The goroutines are ready before the daemon starts, so the storm is
	// released the moment the port accepts connections.
	var pid int
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	var start time.Time
	var res loaddoc.StormRun
	var firstOK time.Time
	res.Cold, firstOK, err = fire(t.url, n, func() (string, error) {
		start = time.Now()
		cmd, stopCmd, err := startCmd(cmdArgs, logPath)
		if err != nil {
			return "", err
		}
		pid, stop = cmd.Process.Pid, stopCmd
		deadline := start.Add(15 * time.Second)
		tok, err := t.freshToken(stale, deadline)
		if err != nil {
			return "", err
		}
		return tok, waitPort(u.Host, deadline)
	})
	if err != nil {
		return res, err
	}
	if !firstOK.IsZero() {
		res.StartToReadyMs = ms(firstOK.Sub(start))
	}
	mid, err := t.stsCalls()
	if err != nil {
		return res, err
	}
	res.Cold.STSCalls = delta(before, mid)
	tok, err := t.freshToken(stale, time.Now())
	if err != nil {
		return res, err
	}
	if res.Warm, _, err = fire(t.url, n, func() (string, error) { return tok, nil }); err != nil {
		return res, err
	}
	after, err := t.stsCalls()
	if err != nil {
		return res, err
	}
	res.Warm.STSCalls = delta(mid, after)
	_, res.ServerHWMKiB, _ = rss(pid)
	return res, nil
}

// freshToken is token, but ignores the file stale (a previous run's).
func (t *target) freshToken(stale os.FileInfo, deadline time.Time) (string, error) {
	if stale == nil || t.tokenFile == "" {
		return t.token(deadline)
	}
	for {
		if fi, err := os.Stat(t.tokenFile); err == nil && !os.SameFile(fi, stale) {
			return t.token(deadline)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("token file %s still holds the previous run's token: "+
				"-runs above 1 needs CMD to write a new token file at each start (credd does, unless --keep-token)", t.tokenFile)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// fire prepares n requests, runs prepare (which returns the token), then
// sends them all at once, each on a fresh connection, and reports their
// latencies from the moment they were released, and when the first 200 came.
func fire(u string, n int, prepare func() (string, error)) (loaddoc.Wave, time.Time, error) {
	tr := &http.Transport{
		DisableKeepAlives: true, // one connection per request, closed after it
		DialContext:       (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	type one struct {
		status   int
		err      error
		wrote    time.Time
		finished time.Time
	}
	results := make([]one, n)
	var ready sync.WaitGroup
	ready.Add(n)
	release := make(chan struct{})
	var tok string
	var failed bool
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &results[i]
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { r.wrote = time.Now() }}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			ready.Done()
			<-release
			if failed {
				r.err = errors.New("not sent")
				return
			}
			r.status, r.err = do(client, newRequest(ctx, u, tok))
			r.finished = time.Now()
		})
	}
	ready.Wait()
	tok, err := prepare()
	failed = err != nil
	t0 := time.Now()
	close(release)
	wg.Wait()
	if err != nil {
		return loaddoc.Wave{}, time.Time{}, err
	}
	w := loaddoc.Wave{Requests: n, Statuses: map[string]int{}, WallMs: ms(time.Since(t0))}
	var firstOK time.Time // the first 200's answer
	lat := make([]float64, 0, n)
	for _, r := range results {
		if r.err != nil {
			addFailure(&w.Failures, r.err)
			continue
		}
		w.Statuses[strconv.Itoa(r.status)]++
		if r.status == http.StatusOK {
			w.OK++
			if firstOK.IsZero() || r.finished.Before(firstOK) {
				firstOK = r.finished
			}
		}
		lat = append(lat, ms(r.finished.Sub(t0)))
	}
	if !firstOK.IsZero() {
		for _, r := range results {
			if r.err == nil && !r.wrote.IsZero() && r.wrote.Before(firstOK) {
				w.SentBeforeReady++
			}
		}
	}
	w.P50Ms, w.P99Ms, w.MaxMs = pct(lat, 50), pct(lat, 99), pct(lat, 100)
	return w, firstOK, nil
}
