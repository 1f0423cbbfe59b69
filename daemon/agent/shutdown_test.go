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
	time.Sleep(50 * time.Millisecond) // let the server accept it
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
