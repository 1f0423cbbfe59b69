package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/bench/loaddoc"
)

func TestWorstRun(t *testing.T) {
	run := func(coldOK, warmOK int, coldP99 float64) loaddoc.StormRun {
		return loaddoc.StormRun{
			Cold: loaddoc.Wave{Requests: 100, OK: coldOK, P99Ms: coldP99},
			Warm: loaddoc.Wave{Requests: 100, OK: warmOK},
		}
	}
	for _, tc := range []struct {
		name string
		runs []loaddoc.StormRun
		want int
	}{
		{"a single run is the worst", []loaddoc.StormRun{run(100, 100, 5)}, 0},
		{"the run that lost most requests over both waves", []loaddoc.StormRun{run(99, 100, 50), run(100, 97, 5), run(98, 100, 9)}, 1},
		{"among equal losses, the slower cold wave", []loaddoc.StormRun{run(100, 100, 5), run(100, 100, 30), run(100, 100, 20)}, 1},
		{"a loss outweighs any latency", []loaddoc.StormRun{run(100, 100, 900), run(100, 99, 1)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := worstRun(tc.runs); got != tc.want {
				t.Errorf("worstRun = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestFreshTokenWaitsForANewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tgt := target{tokenFile: path}

	t.Run("the previous run's file is not taken", func(t *testing.T) {
		_, err := tgt.freshToken(stale, time.Now().Add(50*time.Millisecond))
		if err == nil || !strings.Contains(err.Error(), "--keep-token") {
			t.Fatalf("err = %v, want one naming --keep-token", err)
		}
	})
	t.Run("the file the new run writes is", func(t *testing.T) {
		go func() {
			time.Sleep(20 * time.Millisecond)
			// As credd writes it: a new file renamed over the old one.
			tmp := filepath.Join(dir, ".token-new")
			if err := os.WriteFile(tmp, []byte("new\n"), 0o600); err == nil {
				_ = os.Rename(tmp, path)
			}
		}()
		tok, err := tgt.freshToken(stale, time.Now().Add(5*time.Second))
		if err != nil || tok != "new" {
			t.Fatalf("freshToken = %q, %v; want new", tok, err)
		}
	})
}
