package server

import "testing"

func TestTheQueueFitsTheOpenFileLimit(t *testing.T) {
	for _, c := range []struct {
		openFiles uint64
		want      int
	}{
		{0, DefaultMaxQueued},       // unknown
		{1 << 20, DefaultMaxQueued}, // Docker's usual limit
		{4096, 4096 - DefaultMaxConns - fdReserve},
		{1024, 1024 - DefaultMaxConns - fdReserve},
		{256, minQueued},
	} {
		if got := (ConnLimits{}).withDefaults(c.openFiles).MaxQueued; got != c.want {
			t.Errorf("open files %d: MaxQueued %d, want %d", c.openFiles, got, c.want)
		}
	}
	// A queue asked for is kept.
	if got := (ConnLimits{MaxQueued: 10}).withDefaults(256).MaxQueued; got != 10 {
		t.Errorf("MaxQueued 10 became %d", got)
	}
}
