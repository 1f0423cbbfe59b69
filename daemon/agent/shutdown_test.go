package agent

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression: a connection that never sent a request made net/http's
// Shutdown wait 5s and Run return "context deadline exceeded", so SIGTERM
// was slow and `credd daemon` exited 1.
func TestStopIsQuickAndCleanWithASilentConnectionOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, Options{Config: sandboxConfig(t, sandboxRole("default"))})
	if err != nil {
		t.Fatal(err)
	}
	// Told when the server accepts a connection; set before Run serves.
	accepted := make(chan struct{}, 16)
	connState := a.httpServer.ConnState
	a.httpServer.ConnState = func(c net.Conn, s http.ConnState) {
		connState(c, s)
		if s == http.StateNew {
			accepted <- struct{}{}
		}
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if code, body := get(t, a.URL(), a.AuthToken()); code != 200 {
		t.Fatalf("GET: %d %s", code, body)
	}
	for len(accepted) > 0 {
		<-accepted // the GET's own connection
	}
	host := strings.TrimSuffix(strings.TrimPrefix(a.URL(), "http://"), "/v1/credentials")
	c, err := net.Dial("tcp4", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not accept the silent connection")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("stop took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// Issue 13: a role goroutine stuck in a call that ignores its context (the
// token file watch in open(2) on a FIFO) kept Run, and so SIGTERM, from
// ever returning.
func TestStopDoesNotWaitForeverForAStuckRoleGoroutine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, Options{Config: sandboxConfig(t, sandboxRole("default"))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if code, body := get(t, a.URL(), a.AuthToken()); code != 200 {
		t.Fatalf("GET: %d %s", code, body)
	}
	stuck := make(chan struct{})
	defer close(stuck)
	a.mu.Lock()
	a.goRole(func() { <-stuck })
	a.mu.Unlock()
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > shutdownGrace+roleStopGrace+500*time.Millisecond {
			t.Errorf("stop took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return with a role goroutine stuck")
	}
}
