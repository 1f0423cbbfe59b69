package regularfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A read stuck on a hung file system holds its path's turn: later reads
// of that path wait for it or for their own context, rather than each
// leaving a goroutine stuck in the kernel.
func TestReadWaitsForAStuckReadOfThePathOrItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("ok"), 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := acquire(context.Background(), path) // the stuck read
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = Read(ctx, path, Options{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "an earlier read has not returned") {
		t.Fatalf("Read behind a stuck read = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := Read(context.Background(), path, Options{})
		done <- err
	}()
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Read after the stuck read returned = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not take its turn")
	}
}

func TestConcurrentReadsOfOnePathAllSucceed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("ok"), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if b, _, err := Read(context.Background(), path, Options{Max: 10}); err != nil || string(b) != "ok" {
				t.Errorf("Read = %q, %v", b, err)
			}
		})
	}
	wg.Wait()
	busy.Lock()
	defer busy.Unlock()
	if len(busy.m) != 0 {
		t.Errorf("%d paths still marked busy", len(busy.m))
	}
}
