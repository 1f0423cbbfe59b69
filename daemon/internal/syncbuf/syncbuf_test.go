package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWritesAreAllKeptAndTakeEmpties(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
		wg.Go(func() { _ = b.String() })
	}
	wg.Wait()
	if got := strings.Count(b.Take(), "\n"); got != 50 {
		t.Errorf("Take returned %d lines, want 50", got)
	}
	if b.String() != "" {
		t.Errorf("after Take the buffer holds %q", b.String())
	}
}
