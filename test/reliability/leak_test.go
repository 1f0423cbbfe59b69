package reliability

import (
	"net"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
)

func TestNoGoroutineLeakWhenStoppedMidFault(t *testing.T) {
	row := record(t, "Leaks", "01", "5 daemons stopped in the middle of trouble: an STS call hanging, a client polling, a silent and an idle keep-alive connection open, a token file being watched",
		"after each stop every goroutine is gone (count before vs after, settled)")
	before := settledGoroutines(0, 2*time.Second)
	peak := 0
	for i := range 5 {
		t.Run("", func(t *testing.T) {
			r := newRig(t, rigOptions{tokenFile: i%2 == 1, before: func(r *rig) {
				r.sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultHang, Count: 1})
			}})
			s := r.sample(20 * time.Millisecond)
			r.waitServing(5 * time.Second) // after the hang timed out
			r.sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultHang})
			r.sb.STS.InjectFault(sandbox.Fault{Kind: sandbox.FaultHang}) // the next refresh hangs
			silent, err := net.Dial("tcp4", r.hostPort())
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			time.Sleep(time.Duration(300+i*200) * time.Millisecond) // stop at varied points
			peak = max(peak, settledGoroutines(0, 0))
			s.end()
		})
	}
	after := settledGoroutines(before+leakTolerance, 10*time.Second)
	if after > before+leakTolerance {
		t.Errorf("goroutines: %d before, %d after:\n%s", before, after, goroutineDump())
	}
	row.Observe("%d goroutines before, up to %d while running, %d after", before, peak, after)
}
