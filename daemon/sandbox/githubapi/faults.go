package githubapi

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Fault is what InjectFault makes the next requests suffer. Delay (wall
// clock, so a fake clock does not freeze the network) comes first; then
// RateLimited answers with GitHub's rate-limit error (status 403, or Status
// if set, e.g. 429), else a non-zero Status answers with a basic-error of
// that status (500, 502, 503 ...); with neither, the request is then
// handled normally. A client that gives up during the delay gets nothing.
type Fault struct {
	Status      int
	RateLimited bool
	Delay       time.Duration
}

type queuedFault struct {
	prefix string
	fault  Fault
	left   int // 0 = every matching request from now on
}

// InjectFault makes the next n requests to paths with the given prefix (""
// = any; GHES paths match with or without /api/v3) get the fault; n ≤ 0
// means every matching request from now on. Faults queue in order.
func (s *Server) InjectFault(pathPrefix string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &queuedFault{prefix: pathPrefix, fault: f, left: max(n, 0)})
	s.log.Info("fault injected", "prefix", pathPrefix, "status", f.Status, "rate_limited", f.RateLimited, "delay", f.Delay, "count", n)
}

// takeFault returns the first queued fault for path and uses it up.
func (s *Server) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.faults {
		if !pathMatches(path, q.prefix) {
			continue
		}
		if q.left > 0 {
			q.left--
			if q.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return q.fault, true
	}
	return Fault{}, false
}

// applyFault answers r as f dictates and reports whether it did; false
// means go on and handle the request normally.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 && !sleep(r.Context(), f.Delay) {
		return true // the client went away; there is no one to answer
	}
	switch {
	case f.RateLimited:
		status := http.StatusForbidden
		if f.Status != 0 {
			status = f.Status
		}
		b := bucket{limit: userLimit, remaining: 0, reset: s.clock.Now().Add(rateWindow).Truncate(time.Second)}
		rateHeaders(w.Header(), b)
		if status == http.StatusTooManyRequests {
			w.Header().Set("retry-after", strconv.Itoa(int(rateWindow.Seconds())))
		}
		writeRateLimited(w, status, s.rateWho(r))
		return true
	case f.Status != 0:
		s.anonymousHeaders(w, r)
		writeError(w, f.Status, http.StatusText(f.Status), docsRoot)
		return true
	}
	return false
}

// sleep waits d of wall-clock time and reports whether it did so before ctx
// was done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
