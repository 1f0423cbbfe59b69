package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/server"
)

// hostPort is the endpoint's 127.0.0.1:port.
func (r *rig) hostPort() string {
	return strings.TrimSuffix(strings.TrimPrefix(r.agent.URL(), "http://"), server.CredentialsPath)
}

// raw sends one raw HTTP/1.1 request and reads the answer.
func (r *rig) raw(t *testing.T, request string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp4", r.hostPort())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read the answer to %.60q: %v", request, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// isJSONError reports whether body is {"code":...,"message":...}.
func isJSONError(body []byte) bool {
	var e struct{ Code, Message string }
	return json.Unmarshal(body, &e) == nil && e.Code != "" && e.Message != ""
}

func randomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func TestWrongTokensOfEveryLength(t *testing.T) {
	row := record(t, "Endpoint abuse", "01", "wrong Authorization values: every length 1–512, then 4 KiB and 12 KiB; the right token with one character changed, cut short, extended, with a `Bearer ` scheme, in lower case, sent twice",
		"401 with a JSON error and nothing of the credentials or the token; 200 only for the exact token")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	tok := r.agent.AuthToken()
	var tries []string
	for n := 1; n <= 512; n++ {
		tries = append(tries, randomToken(n))
	}
	tries = append(tries, randomToken(4096), randomToken(12<<10))
	flip := []byte(tok)
	flip[len(flip)-1] ^= 1
	tries = append(tries, string(flip), tok[:len(tok)-1], tok+"x", "Bearer "+tok, strings.ToLower(tok), " "+tok+"x")
	unauthorized := 0
	for _, a := range tries {
		res := r.getWith(r.client, r.agent.URL(), a)
		if res.status != http.StatusUnauthorized || res.code != "Unauthorized" || res.err != nil {
			t.Errorf("Authorization of %d bytes: %d %s %v, want 401", len(a), res.status, res.code, res.err)
			continue
		}
		if strings.Contains(res.message, tok) || strings.Contains(res.message, a) && len(a) > 8 {
			t.Errorf("the 401 message echoes a token: %s", res.message)
		}
		unauthorized++
	}
	// Two Authorization headers, the right one among them.
	resp, body := r.raw(t, "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "+tok+"\r\nAuthorization: x\r\n\r\n")
	if resp.StatusCode != http.StatusUnauthorized || !isJSONError(body) {
		t.Errorf("two Authorization headers: %d %s", resp.StatusCode, body)
	} else {
		unauthorized++
	}
	if res := r.get(); res.status != http.StatusOK {
		t.Errorf("the right token: %d", res.status)
	}
	row.Observe("%d of %d wrong values answered 401 with a JSON error and no secret; the right token 200", unauthorized, len(tries)+1)
}

func TestBrowserAndProxyRequestsAreRefused(t *testing.T) {
	row := record(t, "Endpoint abuse", "02", "DNS-rebinding and odd Host values (evil.example with and without port, 127.0.0.1.nip.io, localhost.evil, 0x7f000001, 127.1, 2130706433, 169.254.170.2, [fe80::1], 127.0.0.1:port:1, localhost:http) and browser/proxy headers (Origin, Origin: null, Sec-Fetch-Site, Sec-Fetch-Mode, X-Forwarded-For, Forwarded, X-Real-IP), all with the right token",
		"403 with a JSON error that says why; loopback literals and localhost still served")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	tok := r.agent.AuthToken()
	_, port, _ := net.SplitHostPort(r.hostPort())
	refused := 0
	hosts := []string{"evil.example", "evil.example:" + port, "127.0.0.1.nip.io:" + port, "localhost.evil", "0x7f000001:" + port,
		"127.1:" + port, "2130706433", "169.254.170.2", "[fe80::1]:" + port, "127.0.0.1:" + port + ":1", "localhost:http"}
	for _, h := range hosts {
		resp, body := r.raw(t, "GET /v1/credentials HTTP/1.1\r\nHost: "+h+"\r\nAuthorization: "+tok+"\r\n\r\n")
		if resp.StatusCode != http.StatusForbidden || !isJSONError(body) || strings.Contains(string(body), "SecretAccessKey") {
			t.Errorf("Host %q: %d %s", h, resp.StatusCode, body)
			continue
		}
		refused++
	}
	// HTTP/1.1 requires Host; net/http itself answers 400.
	if resp, _ := r.raw(t, "GET /v1/credentials HTTP/1.1\r\nAuthorization: "+tok+"\r\n\r\n"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no Host: %d, want 400", resp.StatusCode)
	}
	headers := []string{"Origin: https://evil.example", "Origin: null", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors",
		"X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9", "X-Real-IP: 203.0.113.9", "x-forwarded-for: 127.0.0.1"}
	for _, h := range headers {
		resp, body := r.raw(t, "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "+tok+"\r\n"+h+"\r\n\r\n")
		if resp.StatusCode != http.StatusForbidden || !isJSONError(body) {
			t.Errorf("%s: %d %s", h, resp.StatusCode, body)
			continue
		}
		refused++
	}
	served := 0
	for _, h := range []string{"127.0.0.1:" + port, "127.0.0.1", "localhost:" + port, "LOCALHOST", "[::1]:" + port} {
		resp, _ := r.raw(t, "GET /v1/credentials HTTP/1.1\r\nHost: "+h+"\r\nAuthorization: "+tok+"\r\n\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: %d, want 200", h, resp.StatusCode)
			continue
		}
		served++
	}
	row.Observe("%d of %d refused with 403 and a JSON reason; request without Host 400 (net/http); %d loopback Host forms served", refused, len(hosts)+len(headers), served)
}

func TestEveryMethodButGET(t *testing.T) {
	row := record(t, "Endpoint abuse", "03", "every method but GET on /v1/credentials and /healthz: POST, PUT, DELETE, PATCH, HEAD, OPTIONS, `OPTIONS *`, TRACE, CONNECT, PROPFIND, BREW, with and without the token",
		"405 with `Allow: GET` and a JSON error (no body for HEAD); never credentials")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	tok := r.agent.AuthToken()
	methods := []string{"POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"}
	n, ok := 0, 0
	check := func(what, req string) {
		n++
		resp, body := r.raw(t, req)
		head := strings.HasPrefix(req, "HEAD ")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" || resp.Header.Get("Content-Type") != "application/json" ||
			(!head && !isJSONError(body)) || strings.Contains(string(body), "SecretAccessKey") {
			t.Errorf("%s: %d Allow=%q %s", what, resp.StatusCode, resp.Header.Get("Allow"), body)
			return
		}
		ok++
	}
	for _, m := range methods {
		for _, path := range []string{"/v1/credentials", "/healthz"} {
			for _, auth := range []string{"", "Authorization: " + tok + "\r\n"} {
				check(m+" "+path, m+" "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"+auth+"\r\n")
			}
		}
	}
	check("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	row.Observe("%d of %d requests answered 405 with Allow: GET and a JSON error", ok, n)
}

func TestHugeHeaders(t *testing.T) {
	row := record(t, "Endpoint abuse", "04", "huge requests: one 64 KiB header, 2,000 small headers, a 1 MiB header, a 64 KiB URL",
		"refused by net/http's MaxHeaderBytes (16 KiB) with 431 before the handler runs; the daemon keeps serving")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	tok := r.agent.AuthToken()
	var many strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&many, "X-H%d: v\r\n", i)
	}
	cases := map[string]string{
		"64 KiB header":      "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + tok + "\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
		"2,000 headers":      "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + tok + "\r\n" + many.String() + "\r\n",
		"1 MiB header":       "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n",
		"64 KiB URL":         "GET /v1/credentials/" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		"64 KiB token value": "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
	}
	var seen []string
	for name, req := range cases {
		status := rawStatusTolerant(t, r.hostPort(), req)
		if status != http.StatusRequestHeaderFieldsTooLarge && status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 431 (or 400)", name, status)
		}
		seen = append(seen, fmt.Sprintf("%s → %d", name, status))
	}
	sort.Strings(seen)
	if res := r.get(); res.status != http.StatusOK {
		t.Errorf("after the huge requests: %d", res.status)
	}
	row.Observe("%s; still serving", strings.Join(seen, ", "))
}

// rawStatusTolerant writes req (the server may stop reading and answer
// early) and returns the status it answered, or 0.
func rawStatusTolerant(t *testing.T, addr, req string) int {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go io.WriteString(c, req) // may fail once the server has answered and closed
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSlowlorisConnectionsAreCutAndOthersServed(t *testing.T) {
	row := record(t, "Endpoint abuse", "05", "slowloris: 200 connections sending request headers one line every 500 ms, never finishing",
		"each cut by ReadHeaderTimeout (5 s); other clients served at normal speed meanwhile")
	r := newRig(t, rigOptions{})
	r.waitServing(5 * time.Second)
	const n = 200
	start := time.Now()
	cut := make(chan time.Duration, n)
	var wg sync.WaitGroup
	for range n {
		c, err := net.Dial("tcp4", r.hostPort())
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			io.WriteString(c, "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\n")
			for i := 0; ; i++ {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := fmt.Fprintf(c, "X-Slow-%d: a\r\n", i); err != nil {
					break
				}
				// A read that ends means the server closed the connection.
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				if _, err := c.Read(make([]byte, 1)); err != nil {
					if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
						break
					}
				}
				if time.Since(start) > 15*time.Second {
					t.Errorf("a slowloris connection was still open after 15s")
					return
				}
			}
			cut <- time.Since(start)
		})
	}
	// Meanwhile, other clients are served quickly.
	var lat []time.Duration
	for time.Since(start) < 4*time.Second {
		res := r.getWith(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, r.agent.URL(), r.agent.AuthToken())
		if res.status != http.StatusOK {
			t.Errorf("a client was answered %d %v during the slowloris", res.status, res.err)
		}
		lat = append(lat, res.recv.Sub(res.sent))
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	close(cut)
	var cuts []time.Duration
	for d := range cut {
		cuts = append(cuts, d)
	}
	slices.Sort(cuts)
	slices.Sort(lat)
	if len(cuts) != n {
		t.Fatalf("%d of %d connections cut", len(cuts), n)
	}
	if cuts[0] < 4*time.Second || cuts[n-1] > 15*time.Second {
		t.Errorf("cut between %v and %v, want about 5s (ReadHeaderTimeout)", cuts[0], cuts[n-1])
	}
	p99 := lat[len(lat)*99/100]
	// Latency is recorded, not asserted (a loaded CI machine is noise); a
	// client starved for whole seconds would be a real failure.
	if p99 > 3*time.Second {
		t.Errorf("other clients' p99 latency %v during the slowloris", p99)
	}
	row.Observe("all %d cut %.1f–%.1f s after they started; %d other requests meanwhile all 200, median %v, p99 %v",
		n, cuts[0].Seconds(), cuts[n-1].Seconds(), len(lat), lat[len(lat)/2].Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
}

func TestThousandsOfIdleConnectionsAreBounded(t *testing.T) {
	row := record(t, "Endpoint abuse", "06", "1,500 idle connections from one process: 750 that never send a byte and 750 keep-alive connections left idle after one request",
		fmt.Sprintf("the silent ones wait in server.LimitConns' queue, with no HTTP goroutine, until they have been silent for %v; at most %d keep-alive ones stay open at the server (the longest-idle are shed); goroutines bounded; another client served at once", server.SilentTimeout, server.DefaultMaxConns))
	r := newRig(t, rigOptions{quiet: true})
	r.waitServing(5 * time.Second)
	before := settledGoroutines(0, time.Second)
	const n = 1500
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	tok := r.agent.AuthToken()
	for i := range n {
		c, err := net.Dial("tcp4", r.hostPort())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 1 {
			br := bufio.NewReader(c)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n\r\n", tok)
			if resp, err := http.ReadResponse(br, nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			c.SetDeadline(time.Time{})
		}
	}
	// Another client, on a new connection, is served at once.
	res := r.getWith(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, r.agent.URL(), tok)
	if res.status != http.StatusOK {
		t.Fatalf("another client: %d %v", res.status, res.err)
	}
	latency := res.recv.Sub(res.sent)
	if latency > 3*time.Second {
		t.Errorf("another client waited %v", latency)
	}
	during := runtime.NumGoroutine()
	// Connections the daemon shed read EOF; the others are still open.
	openSilent, openKept := 0, 0
	for i, c := range conns {
		switch {
		case closedByPeer(c):
		case i%2 == 0:
			openSilent++
		default:
			openKept++
		}
	}
	if openKept > server.DefaultMaxConns {
		t.Errorf("%d keep-alive connections still open at the daemon, more than %d", openKept, server.DefaultMaxConns)
	}
	if extra := during - before; extra > server.DefaultMaxConns+50 {
		t.Errorf("%d more goroutines with %d connections, want ≤ %d", extra, n, server.DefaultMaxConns+50)
	}
	// The silent ones are closed once silent for SilentTimeout.
	silentFor := time.Now()
	for i := 0; i < n; i += 2 {
		conns[i].SetReadDeadline(time.Now().Add(2 * server.SilentTimeout))
		if _, err := conns[i].Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("silent connection %d: read %v, want it closed by the daemon", i, err)
		}
	}
	closedAfter := time.Since(silentFor)
	for _, c := range conns {
		c.Close()
	}
	after := settledGoroutines(before+leakTolerance, 5*time.Second)
	if after > before+leakTolerance {
		t.Errorf("goroutines: %d before, %d after the connections closed", before, after)
	}
	row.Observe("open at the daemon: %d of %d silent, %d of %d keep-alive (%d shed); +%d goroutines at the peak, back to %d after; another client served in %v; the silent ones closed within %.1f s more",
		openSilent, n/2, openKept, n/2, n-openSilent-openKept, during-before, after, latency.Round(10*time.Microsecond), closedAfter.Seconds())
}

// closedByPeer reports, without waiting, whether the other end has closed
// c: a non-blocking peek reads EOF (or an error) instead of EAGAIN.
func closedByPeer(c net.Conn) bool {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), make([]byte, 1), syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN)
		return true
	})
	return closed
}

// fixedProvider always has the same credentials.
type fixedProvider struct{ c *daemon.Credentials }

func (p fixedProvider) Current() *daemon.Credentials              { return p.c }
func (p fixedProvider) Await(context.Context) *daemon.Credentials { return p.c }

// discardWriter is an http.ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// authCases are the Authorization values compared in timing: the right
// token, and wrong ones that share nothing, a 42-byte prefix, or the length.
func authCases(tok string) []struct{ name, value string } {
	flipLast := []byte(tok)
	flipLast[len(flipLast)-1] ^= 1
	flipFirst := []byte(tok)
	flipFirst[0] ^= 1
	return []struct{ name, value string }{
		{"right token", tok},
		{"wrong, same length", randomToken(len(tok))},
		{"wrong, first 42 bytes right", string(flipLast)},
		{"wrong, first byte wrong", string(flipFirst)},
		{"wrong, one byte short", tok[:len(tok)-1]},
		{"wrong, one byte long", tok + "A"},
		{"wrong, 8 bytes", randomToken(8)},
	}
}

func newAuthHandler(tb testing.TB) (*server.Handler, string) {
	tok := randomToken(43)
	h, err := server.New(server.Config{
		Roles: map[string]server.Provider{"default": fixedProvider{&daemon.Credentials{
			AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session", Expiration: time.Now().Add(time.Hour),
		}}},
		Token: tok,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h, tok
}

// BenchmarkAuth measures the endpoint's handling of each kind of
// Authorization value: `go test -bench Auth ./test/reliability`.
func BenchmarkAuth(b *testing.B) {
	h, tok := newAuthHandler(b)
	for _, c := range authCases(tok) {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/v1/credentials", nil)
			req.Header.Set("Authorization", c.value)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

func TestWrongTokensGiveNoTimingSignal(t *testing.T) {
	row := record(t, "Endpoint abuse", "07", "timing of wrong tokens (BenchmarkAuth): same length, 42-byte prefix right, first byte wrong, one byte short/long, 8 bytes",
		"the token is compared as SHA-256 digests in constant time: every wrong value takes the same time (ns/op ratio ≈ 1 to a random same-length value)")
	if testing.Short() {
		t.Skip("timing measurement skipped in -short mode")
	}
	h, tok := newAuthHandler(t)
	cases := authCases(tok)
	// Interleave rounds and keep each case's fastest, which is the least
	// disturbed by the scheduler and the race detector.
	best := make([]float64, len(cases))
	for round := 0; round < 7; round++ {
		for i, c := range cases {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/v1/credentials", nil)
			req.Header.Set("Authorization", c.value)
			w := &discardWriter{h: http.Header{}}
			const iters = 3000
			start := time.Now()
			for range iters {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			ns := float64(time.Since(start).Nanoseconds()) / iters
			if round == 0 || ns < best[i] {
				best[i] = ns
			}
			if want := http.StatusUnauthorized; i == 0 {
				want = http.StatusOK
				if w.status != want {
					t.Fatalf("%s: %d", c.name, w.status)
				}
			} else if w.status != want {
				t.Fatalf("%s: %d", c.name, w.status)
			}
		}
	}
	ref := best[1]
	var parts []string
	for i, c := range cases {
		ratio := best[i] / ref
		parts = append(parts, fmt.Sprintf("%s %.0f ns (%.2f)", c.name, best[i], ratio))
		// Timings on a shared machine are noise, so the ratios are
		// recorded for docs/reliability.md, not asserted; the constant-time
		// property itself is the digest compare, and BenchmarkAuthCheck
		// measures it.
		if i >= 2 && (ratio < 0.8 || ratio > 1.25) {
			t.Logf("%s: %.0f ns/op, %.2f× a random same-length token (noisy machine?)", c.name, best[i], ratio)
		}
	}
	row.Observe("%s", strings.Join(parts, "; "))
}

func TestABurstOfClientsIsServedNotShed(t *testing.T) {
	row := record(t, "Endpoint abuse", "06b", fmt.Sprintf("a burst of 2,000 clients connecting at once, each on a new connection (beyond the %d-connection bound)", server.DefaultMaxConns),
		"every one answered 200: connections waiting for a handler are queued, never shed")
	r := newRig(t, rigOptions{quiet: true})
	r.waitServing(5 * time.Second)
	const n = 2000
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	start := make(chan struct{})
	var wg sync.WaitGroup
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}
	for range n {
		wg.Go(func() {
			<-start
			res := r.getWith(c, r.agent.URL(), r.agent.AuthToken())
			if res.status == http.StatusOK {
				ok.Add(1)
				return
			}
			failed.Add(1)
			firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %v", res.status, res.err))
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(t0)
	if failed.Load() != 0 {
		t.Errorf("%d of %d not served; first: %v", failed.Load(), n, firstErr.Load())
	}
	row.Observe("%d of %d answered 200 in %v", ok.Load(), n, took.Round(10*time.Millisecond))
}

// isTimeout reports whether err is a deadline passing, not a close.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
