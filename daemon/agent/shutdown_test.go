package agent

import (
	"context"
	"net"
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
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if code, body := get(t, a.URL(), a.AuthToken()); code != 200 {
		t.Fatalf("GET: %d %s", code, body)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(a.URL(), "http://"), "/v1/credentials")
	c, err := net.Dial("tcp4", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The silent connection waits in the limiter's queue for its request.
	counts := a.listener.(interface{ Counts() (active, queued int) })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, queued := counts.Counts(); queued == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon did not accept the silent connection")
		}
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
