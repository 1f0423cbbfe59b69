// Command storm is the Go load program of the benchmarks (bench/run.sh).
//
//	storm coldstart [flags] -- CMD ARGS...   time from starting CMD to the first 200
//	storm storm     [flags] -- CMD ARGS...   start CMD, then N concurrent requests at once (K runs)
//	storm flood     [flags]                  flood a running server with connections while probing it
//	storm load      [flags]                  a fixed number of requests over C keep-alive connections
//	storm repeat    [flags] -- CMD ARGS...   run CMD N times in sequence and time each run
//	storm freeport                           print a free TCP port on 127.0.0.1
//
// Each prints one JSON document on stdout. Everything it talks to is on
// 127.0.0.1; every run is bounded in count and in time.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "coldstart":
		err = coldstart(os.Args[2:])
	case "storm":
		err = storm(os.Args[2:])
	case "flood":
		err = flood(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "repeat":
		err = repeat(os.Args[2:])
	case "freeport":
		err = freeport()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: storm coldstart|storm|flood|load|repeat|freeport [flags] [-- CMD ARGS...]")
	os.Exit(2)
}

// common flags
type target struct {
	url       string
	tokenFile string
	statsURL  string
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.url, "url", "", "URL to GET (must be on 127.0.0.1)")
	fs.StringVar(&t.tokenFile, "token-file", "", "file holding the Authorization header value (read when it appears)")
	fs.StringVar(&t.statsURL, "stats-url", "", "bench/sandbox stats URL, to count STS calls")
}

func (t *target) check() error {
	u, err := url.Parse(t.url)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT/PATH", t.url)
	}
	return nil
}

// token waits for the token file to appear and returns its content.
func (t *target) token(deadline time.Time) (string, error) {
	if t.tokenFile == "" {
		return "", nil
	}
	for {
		b, err := os.ReadFile(t.tokenFile)
		if err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("token file %s did not appear: %v", t.tokenFile, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func (t *target) stsCalls() (map[string]int64, error) {
	if t.statsURL == "" {
		return nil, nil
	}
	resp, err := http.Get(t.statsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]int64
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

func delta(before, after map[string]int64) map[string]int64 {
	if after == nil {
		return nil
	}
	d := map[string]int64{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

func newRequest(ctx context.Context, u, tok string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if tok != "" {
		req.Header["Authorization"] = []string{tok}
	}
	req.Header["User-Agent"] = []string{"credd-bench-storm"}
	return req
}

// do sends one request and drains the body.
func do(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// startCmd starts CMD in its own process group, its output to stderr (or a file).
func startCmd(args []string, logPath string) (*exec.Cmd, func(), error) {
	if len(args) == 0 {
		return nil, nil, errors.New("no command after --")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	var f *os.File
	if logPath != "" {
		var err error
		if f, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if f != nil {
			f.Close()
		}
	}
	return cmd, stop, nil
}

// waitPort waits until addr accepts a TCP connection.
func waitPort(addr string, deadline time.Time) error {
	for {
		c, err := net.DialTimeout("tcp4", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not accepting connections: %v", addr, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// ---- coldstart ----

type coldResult struct {
	Runs      int                `json:"runs"`
	MillisAll []float64          `json:"ms_all"`
	MedianMs  float64            `json:"median_ms"`
	MinMs     float64            `json:"min_ms"`
	MaxMs     float64            `json:"max_ms"`
	STSCalls  map[string]int64   `json:"sts_calls,omitempty"`
	Statuses  map[string]int     `json:"statuses_while_polling,omitempty"`
	Extra     map[string]float64 `json:"extra,omitempty"`
}

func coldstart(args []string) error {
	fs := flag.NewFlagSet("coldstart", flag.ExitOnError)
	var t target
	t.register(fs)
	runs := fs.Int("runs", 5, "how many starts to time")
	logPath := fs.String("log", "", "append CMD's output to this file")
	fs.Parse(args)
	if err := t.check(); err != nil {
		return err
	}
	before, err := t.stsCalls()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	res := coldResult{Runs: *runs, Statuses: map[string]int{}}
	for range *runs {
		// The previous start's token file is not this start's: credd writes
		// a new file at each start (see stormOnce).
		var stale os.FileInfo
		if t.tokenFile != "" {
			stale, _ = os.Stat(t.tokenFile)
		}
		start := time.Now()
		_, stop, err := startCmd(fs.Args(), *logPath)
		if err != nil {
			return err
		}
		deadline := start.Add(15 * time.Second)
		var tok string
		var ok bool
		for !ok {
			if time.Now().After(deadline) {
				stop()
				return errors.New("no 200 within 15s")
			}
			if tok == "" && t.tokenFile != "" {
				fi, err := os.Stat(t.tokenFile)
				var b []byte
				if err == nil && (stale == nil || !os.SameFile(fi, stale)) {
					b, err = os.ReadFile(t.tokenFile)
				}
				if err != nil || len(b) == 0 {
					time.Sleep(200 * time.Microsecond)
					continue
				}
				tok = strings.TrimSpace(string(b))
			}
			status, err := do(client, newRequest(context.Background(), t.url, tok))
			switch {
			case err != nil:
				time.Sleep(200 * time.Microsecond) // not listening yet
			case status == http.StatusOK:
				ok = true
			default:
				res.Statuses[strconv.Itoa(status)]++
				time.Sleep(200 * time.Microsecond)
			}
		}
		res.MillisAll = append(res.MillisAll, ms(time.Since(start)))
		stop()
	}
	s := slices.Clone(res.MillisAll)
	slices.Sort(s)
	res.MedianMs, res.MinMs, res.MaxMs = s[len(s)/2], s[0], s[len(s)-1]
	after, err := t.stsCalls()
	if err != nil {
		return err
	}
	res.STSCalls = delta(before, after)
	return emit(res)
}

// ---- load ----

type loadResult struct {
	Requests     int              `json:"requests"`
	Conns        int              `json:"conns"`
	OK           int64            `json:"ok"`
	Errors       int64            `json:"errors"`
	WallMs       float64          `json:"wall_ms"`
	RPS          float64          `json:"rps"`
	P50Ms        float64          `json:"p50_ms"`
	P99Ms        float64          `json:"p99_ms"`
	CPUMsPer10k  float64          `json:"cpu_ms_per_10k,omitempty"`
	CPUTicks     int64            `json:"cpu_ticks,omitempty"`
	RSSBeforeKiB int64            `json:"rss_before_kib,omitempty"`
	RSSAfterKiB  int64            `json:"rss_after_kib,omitempty"`
	HWMAfterKiB  int64            `json:"hwm_after_kib,omitempty"`
	STSCalls     map[string]int64 `json:"sts_calls,omitempty"`
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var t target
	t.register(fs)
	n := fs.Int("n", 100000, "requests in all")
	c := fs.Int("c", 16, "keep-alive connections (= requests in flight)")
	pid := fs.Int("pid", 0, "server process to measure (CPU from /proc/PID/stat, RSS from /proc/PID/status)")
	fs.Parse(args)
	if err := t.check(); err != nil {
		return err
	}
	tok, err := t.token(time.Now().Add(5 * time.Second))
	if err != nil {
		return err
	}
	before, err := t.stsCalls()
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	// Open the connections first, outside the measurement.
	var warm sync.WaitGroup
	for range *c {
		warm.Go(func() { _, _ = do(client, newRequest(context.Background(), t.url, tok)) })
	}
	warm.Wait()

	res := loadResult{Requests: *n, Conns: *c}
	var cpu0 int64
	if *pid > 0 {
		if cpu0, err = cpuTicks(*pid); err != nil {
			return err
		}
		res.RSSBeforeKiB, _, _ = rss(*pid)
	}
	var next, okN, errN atomic.Int64
	lats := make([][]float64, *c)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range *c {
		wg.Go(func() {
			l := make([]float64, 0, *n / *c + 1)
			for next.Add(1) <= int64(*n) {
				s := time.Now()
				status, err := do(client, newRequest(context.Background(), t.url, tok))
				l = append(l, ms(time.Since(s)))
				if err != nil || status != http.StatusOK {
					errN.Add(1)
				} else {
					okN.Add(1)
				}
			}
			lats[i] = l
		})
	}
	wg.Wait()
	wall := time.Since(t0)
	if *pid > 0 {
		cpu1, err := cpuTicks(*pid)
		if err != nil {
			return err
		}
		res.CPUTicks = cpu1 - cpu0
		// USER_HZ is 100 on Linux: one tick is 10 ms.
		res.CPUMsPer10k = float64(res.CPUTicks) * 10 / (float64(*n) / 10000)
		res.RSSAfterKiB, res.HWMAfterKiB, _ = rss(*pid)
	}
	all := slices.Concat(lats...)
	res.OK, res.Errors = okN.Load(), errN.Load()
	res.WallMs = ms(wall)
	res.RPS = float64(*n) / wall.Seconds()
	res.P50Ms, res.P99Ms = pct(all, 50), pct(all, 99)
	after, err := t.stsCalls()
	if err != nil {
		return err
	}
	res.STSCalls = delta(before, after)
	if res.Errors > 0 {
		emit(res)
		return fmt.Errorf("%d of %d requests failed", res.Errors, *n)
	}
	return emit(res)
}

// ---- repeat ----

type repeatResult struct {
	Runs     int              `json:"runs"`
	Failed   int              `json:"failed"`
	TotalMs  float64          `json:"total_ms"`
	MedianMs float64          `json:"median_ms"`
	P90Ms    float64          `json:"p90_ms"`
	MsAll    []float64        `json:"ms_all"`
	STSCalls map[string]int64 `json:"sts_calls,omitempty"`
	// LastOutput is the last run's stdout, for a script that prints its own timings.
	LastOutput string `json:"last_output,omitempty"`
}

func repeat(args []string) error {
	fs := flag.NewFlagSet("repeat", flag.ExitOnError)
	n := fs.Int("n", 50, "runs, one after the other")
	freshHome := fs.Bool("fresh-home", false, "give each run a new empty HOME (no ~/.aws/cli/cache carried over)")
	home := fs.String("home", "", "HOME for every run (default: inherited); ignored with -fresh-home")
	statsURL := fs.String("stats-url", "", "bench/sandbox stats URL, to count STS calls")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("no command after --")
	}
	t := target{statsURL: *statsURL}
	before, err := t.stsCalls()
	if err != nil {
		return err
	}
	res := repeatResult{Runs: *n}
	var times []float64
	for range *n {
		cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
		env := os.Environ()
		var dir string
		switch {
		case *freshHome:
			if dir, err = os.MkdirTemp("", "credd-bench-home-"); err != nil {
				return err
			}
			env = append(env, "HOME="+dir)
		case *home != "":
			env = append(env, "HOME="+*home)
		}
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		s := time.Now()
		err := cmd.Run()
		times = append(times, ms(time.Since(s)))
		if err != nil {
			res.Failed++
			fmt.Fprintf(os.Stderr, "storm repeat: %s: %v\n", fs.Arg(0), err)
		}
		res.LastOutput = strings.TrimSpace(out.String())
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	for _, t := range times {
		res.TotalMs += t
	}
	res.MsAll = slices.Clone(times)
	res.MedianMs, res.P90Ms = pct(times, 50), pct(times, 90)
	after, err := t.stsCalls()
	if err != nil {
		return err
	}
	res.STSCalls = delta(before, after)
	if res.Failed > 0 {
		emit(res)
		return fmt.Errorf("%d of %d runs failed", res.Failed, *n)
	}
	return emit(res)
}

func freeport() error {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// cpuTicks returns utime+stime of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may hold spaces: split after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return ut + st, nil
}

// rss returns VmRSS and VmHWM of pid in KiB.
func rss(pid int) (cur, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			cur = n
		case "VmHWM":
			hwm = n
		}
	}
	return cur, hwm, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct returns the p-th percentile (nearest rank) of xs, sorting it.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(float64(len(xs))*p/100+0.5) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func emit(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
