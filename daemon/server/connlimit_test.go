package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/server"
)

// limitedServer serves ok on a loopback listener bounded by limits; see
// serveLimited.
func limitedServer(t *testing.T, limits server.ConnLimits, watch ...http.ConnState) (string, <-chan net.Conn) {
	t.Helper()
	return serveLimited(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), limits, watch...)
}

// serveLimited serves h on a loopback listener bounded by limits. A
// connection entering one of the watched states is sent on the returned
// channel, after the limit has seen the change.
func serveLimited(t *testing.T, h http.Handler, limits server.ConnLimits, watch ...http.ConnState) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewHTTPServer(h, nil)
	events := make(chan net.Conn, 64)
	if len(watch) > 0 {
		// LimitConns chains this hook after its own.
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			if slices.Contains(watch, s) {
				select {
				case events <- c:
				default: // a test that waits for more than fit fails in await
				}
			}
		}
	}
	l := server.LimitConns(srv, ln, limits)
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String(), events
}

// slowHandler answers ok, but holds a request for /slow until release is
// called, telling held first.
func slowHandler() (h http.Handler, held <-chan struct{}, release func()) {
	heldc, released := make(chan struct{}, 16), make(chan struct{})
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			heldc <- struct{}{}
			<-released
		}
		io.WriteString(w, "ok")
	}), heldc, func() { once.Do(func() { close(released) }) }
}

// tokenHandler is the real endpoint handler with testToken and valid
// credentials: it marks the connections that send the token trusted.
func tokenHandler(t *testing.T) http.Handler {
	t.Helper()
	h, err := server.New(server.Config{Roles: map[string]server.Provider{"default": serving(&daemon.Credentials{AccessKeyID: "ASIAEXAMPLE", Expiration: time.Now().Add(time.Hour)})}, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// getWithToken sends one keep-alive credentials request with token on c and
// returns the status.
func getWithToken(c net.Conn, token string) (int, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n\r\n", token)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// await waits for n values on ch, failing the test after 5 seconds.
func await[T any](t *testing.T, ch <-chan T, n int, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for i := range n {
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: saw %d of %d after 5s", what, i, n)
		}
	}
}

// getOn sends one keep-alive GET on c and reads the answer.
func getOn(c net.Conn, br *bufio.Reader) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// closedByPeer reports whether the server has closed c.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestLimitConnsShedsTheLongestIdleConnections(t *testing.T) {
	const max = 8
	addr, idle := limitedServer(t, server.ConnLimits{MaxConns: max}, http.StateIdle)
	var conns []net.Conn
	for i := range max {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := getOn(c, bufio.NewReader(c)); err != nil { // now idle, keep-alive
			t.Fatalf("conn %d: %v", i, err)
		}
		conns = append(conns, c)
		// The server marks c idle after the response, maybe after the next
		// client is served: wait, so that idle order is dial order.
		await(t, idle, 1, fmt.Sprintf("conn %d going idle", i))
	}
	// Three more clients: each is served at once, at the cost of the oldest
	// idle connections.
	for i := range 3 {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := getOn(c, bufio.NewReader(c)); err != nil {
			t.Fatalf("extra client %d not served: %v", i, err)
		}
	}
	for i, c := range conns {
		if want := i < 3; closedByPeer(c) != want {
			t.Errorf("idle conn %d (oldest first): closed = %v, want %v", i, !want, want)
		}
	}
}

func TestLimitConnsWaitsOnlyWhileEveryConnectionIsInAHandler(t *testing.T) {
	const max = 2
	h, held, release := slowHandler()
	defer release()
	addr, _ := serveLimited(t, h, server.ConnLimits{MaxConns: max})

	for range max { // two requests held in the handler fill the limit
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	}
	await(t, held, max, "requests held in the handler")
	c, err := net.Dial("tcp4", addr) // the kernel accepts; the server waits
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	served := make(chan error, 1)
	go func() { served <- getOn(c, bufio.NewReader(c)) }()
	select {
	case err := <-served:
		t.Fatalf("a third connection was served (%v) while both slots were busy", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-served; err != nil {
		t.Fatalf("the third client was not served once a slot freed: %v", err)
	}
}

func TestLimitConnsServesABurstWithoutSheddingAnyone(t *testing.T) {
	const max, clients = 8, 200
	addr, _ := limitedServer(t, server.ConnLimits{MaxConns: max})
	errs := make(chan error, clients)
	start := make(chan struct{})
	for range clients {
		go func() {
			<-start
			c, err := net.Dial("tcp4", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- getOn(c, bufio.NewReader(c))
		}()
	}
	close(start)
	failed := 0
	for range clients {
		if err := <-errs; err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("a client of the burst: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d clients of a burst were not served", failed, clients)
	}
}

func TestLimitConnsSilentConnectionsTakeNoSlot(t *testing.T) {
	const max = 4
	addr, _ := limitedServer(t, server.ConnLimits{MaxConns: max})
	for range 3 * max {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// Connections that have sent nothing wait in the queue, not in the
	// server's slots: a client with a request is served at once, not after
	// SilentTimeout has closed them.
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := getOn(c, bufio.NewReader(c)); err != nil {
		t.Fatalf("not served: %v", err)
	}
	if waited := time.Since(start); waited > server.SilentTimeout/2 {
		t.Errorf("served after %v behind silent connections, want at once", waited)
	}
}

func TestLimitConnsShedsTheLongestSilentWhenTheQueueIsFull(t *testing.T) {
	const queued, grace = 4, 300 * time.Millisecond
	addr, _ := limitedServer(t, server.ConnLimits{MaxConns: 4, MaxQueued: queued, SilentGrace: grace})
	first := time.Now() // the oldest silent connection is accepted after this
	var silent []net.Conn
	for range queued {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	time.Sleep(50 * time.Millisecond) // all four accepted into the queue
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := getOn(c, bufio.NewReader(c)); err != nil {
		t.Fatalf("not served: %v", err)
	}
	// Served once the oldest silent connection had been silent for its
	// grace: not before (it might have been about to send).
	if since := time.Since(first); since < grace {
		t.Errorf("served %v after the oldest silent connection was dialled, want at least its grace %v", since, grace)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("served after %v, want about %v", waited, grace)
	}
	if !closedByPeer(silent[0]) {
		t.Errorf("the longest-silent connection is still open")
	}
	if closedByPeer(silent[queued-1]) {
		t.Errorf("the newest silent connection was closed too")
	}
}

func TestLimitConnsClosesASilentConnectionAfterSilentTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for SilentTimeout")
	}
	t.Parallel()
	addr, _ := limitedServer(t, server.ConnLimits{})
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(start.Add(3 * server.SilentTimeout))
	_, err = c.Read(make([]byte, 1))
	if err == nil || time.Since(start) < server.SilentTimeout-time.Second {
		t.Errorf("read %v after %v, want the connection closed after %v", err, time.Since(start), server.SilentTimeout)
	}
}

func TestLimitConnsShedsAStalledRequestForAWaitingOne(t *testing.T) {
	const stall = 200 * time.Millisecond
	addr, _ := limitedServer(t, server.ConnLimits{MaxConns: 1, StallGrace: stall})
	slow, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprint(slow, "GET / HTTP/1.1\r\n") // and nothing more: a slowloris
	time.Sleep(50 * time.Millisecond)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := getOn(c, bufio.NewReader(c)); err != nil {
		t.Fatalf("not served: %v", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("served after %v, want about %v", waited, stall)
	}
	if !closedByPeer(slow) {
		t.Errorf("the stalled connection is still open")
	}
}

// TestLimitConnsKeepsClientsThatShowedTheToken fills the limit with idle
// keep-alive connections: the older ones sent the right token, the newer
// ones did not. New clients take the places of the ones without the token
// first, however old the trusted ones are.
func TestLimitConnsKeepsClientsThatShowedTheToken(t *testing.T) {
	const max = 4
	addr, idle := serveLimited(t, tokenHandler(t), server.ConnLimits{MaxConns: max}, http.StateIdle)
	send := func(c net.Conn, token string) int {
		t.Helper()
		status, err := getWithToken(c, token)
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	var conns []net.Conn
	for i := range max {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		token, want := testToken, http.StatusOK
		if i >= max/2 {
			token, want = "wrong", http.StatusUnauthorized
		}
		if got := send(c, token); got != want {
			t.Fatalf("conn %d: %d, want %d", i, got, want)
		}
		await(t, idle, 1, fmt.Sprintf("conn %d going idle", i))
		conns = append(conns, c)
	}
	for i := range max / 2 {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := send(c, testToken); got != http.StatusOK {
			t.Fatalf("new client %d: %d", i, got)
		}
	}
	for i, c := range conns {
		if want := i >= max/2; closedByPeer(c) != want {
			t.Errorf("conn %d (trusted: %v): closed = %v, want %v", i, i < max/2, !want, want)
		}
	}
}

// TestLimitConnsServesWholeRequestsBeforePartialOnes queues a slowloris
// before a client whose request is all there, while the only slot is busy:
// the whole request gets the slot when it frees, not the partial one
// (which would hold it for StallGrace).
func TestLimitConnsServesWholeRequestsBeforePartialOnes(t *testing.T) {
	h, held, release := slowHandler()
	defer release()
	addr, _ := serveLimited(t, h, server.ConnLimits{MaxConns: 1, StallGrace: time.Minute})

	busy, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fmt.Fprint(busy, "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	await(t, held, 1, "the request holding the slot")
	slow, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprint(slow, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n") // and nothing more
	time.Sleep(100 * time.Millisecond)                        // queued first
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	served := make(chan error, 1)
	go func() { served <- getOn(c, bufio.NewReader(c)) }()
	time.Sleep(100 * time.Millisecond)
	release()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("the whole request: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the whole request waited behind the partial one")
	}
}

// TestLimitConnsShedsATrustedConnectionOnlyOnceLongIdle fills the limit
// with idle connections that showed the token: a new client waits until
// one has been idle for TrustedIdleGrace, then takes its place.
func TestLimitConnsShedsATrustedConnectionOnlyOnceLongIdle(t *testing.T) {
	const max, grace = 2, 400 * time.Millisecond
	addr, idle := serveLimited(t, tokenHandler(t), server.ConnLimits{MaxConns: max, TrustedIdleGrace: grace}, http.StateIdle)
	get := func(c net.Conn) error {
		status, err := getWithToken(c, testToken)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d", status)
		}
		return err
	}
	first := time.Now() // the first connection goes idle after this
	var trusted []net.Conn
	for i := range max {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := get(c); err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		await(t, idle, 1, fmt.Sprintf("conn %d going idle", i))
		trusted = append(trusted, c)
	}
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := get(c); err != nil {
		t.Fatalf("the new client: %v", err)
	}
	if since := time.Since(first); since < grace {
		t.Errorf("served %v after the first trusted connection was opened, want at least its idle grace %v", since, grace)
	}
	if !closedByPeer(trusted[0]) || closedByPeer(trusted[1]) {
		t.Errorf("closed: longest idle %v, other %v; want only the longest idle", closedByPeer(trusted[0]), closedByPeer(trusted[1]))
	}
}
