package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// FaultKind names a failure the STS emulator can be told to produce.
type FaultKind string

// The faults, each answered as AWS STS answers it.
const (
	FaultInternalError        FaultKind = "InternalError"        // 500 InternalFailure
	FaultServiceUnavailable   FaultKind = "ServiceUnavailable"   // 503 ServiceUnavailable
	FaultThrottling           FaultKind = "Throttling"           // 400 Throttling "Rate exceeded"
	FaultHang                 FaultKind = "Hang"                 // no answer; see Fault.Delay
	FaultIDPCommunication     FaultKind = "IDPCommunication"     // 400 IDPCommunicationError: the IdP could not be reached
	FaultIDPKeysUnreachable   FaultKind = "IDPKeysUnreachable"   // 400 InvalidIdentityToken "Couldn't retrieve verification key…"
	FaultInvalidIdentityToken FaultKind = "InvalidIdentityToken" // 400 InvalidIdentityToken
	FaultExpiredToken         FaultKind = "ExpiredToken"         // 400 ExpiredTokenException
	FaultAccessDenied         FaultKind = "AccessDenied"         // 403 AccessDenied
	FaultMalformedXML         FaultKind = "MalformedXML"         // 200 with a truncated body
	FaultLatency              FaultKind = "Latency"              // Delay, then the normal answer
)

// Fault is queued with STS.InjectFault and applies to the next Count
// AssumeRoleWithWebIdentity calls (Count ≤ 0: until ClearFaults).
//
// Delay is wall-clock time, not the STS Clock's, so a fake clock does not
// freeze the network. FaultLatency waits Delay and then answers normally.
// FaultHang holds the request until the client goes away, the server closes,
// or Delay (if set) passes, and then drops the connection without an answer.
type Fault struct {
	Kind  FaultKind
	Count int
	Delay time.Duration
}

type queuedFault struct {
	Fault
	left int // calls still to fault; 0 = unlimited
}

// InjectFault queues f behind any faults already queued.
func (s *STS) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &queuedFault{Fault: f, left: max(f.Count, 0)})
	s.log.Info("fault injected", "kind", f.Kind, "count", f.Count, "delay", f.Delay)
}

// ClearFaults drops every queued fault.
func (s *STS) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the fault for this call, if any, and uses it up.
func (s *STS) takeFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	q := s.faults[0]
	if q.left > 0 {
		q.left--
		if q.left == 0 {
			s.faults = s.faults[1:]
		}
	}
	return q.Fault, true
}

// applyFault answers the request as f dictates. It returns false when the
// call should go on to be handled normally (FaultLatency).
func (s *STS) applyFault(w http.ResponseWriter, r *http.Request, reqID string, f Fault) bool {
	s.log.Info("fault applied", "kind", f.Kind, "request_id", reqID)
	now := s.clock.Now()
	switch f.Kind {
	case FaultLatency:
		return !sleep(r.Context(), f.Delay)
	case FaultHang:
		if f.Delay > 0 {
			sleep(r.Context(), f.Delay)
		} else {
			<-r.Context().Done()
		}
		panic(http.ErrAbortHandler) // drops the connection, unlogged
	case FaultMalformedXML:
		body := s.marshal(assumeResponse(reqID, fakeAssumeResult(s, now)))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		return true
	}
	s.writeError(w, reqID, faultError(f.Kind, now))
	return true
}

func faultError(k FaultKind, now time.Time) *apiError {
	switch k {
	case FaultInternalError:
		return &apiError{http.StatusInternalServerError, "InternalFailure", "An internal error occurred."}
	case FaultServiceUnavailable:
		return &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable. Please try again later."}
	case FaultThrottling:
		return &apiError{http.StatusBadRequest, "Throttling", "Rate exceeded"}
	case FaultIDPCommunication:
		return errIDPCommunication
	case FaultIDPKeysUnreachable:
		return errVerificationKey
	case FaultInvalidIdentityToken:
		return &apiError{http.StatusBadRequest, "InvalidIdentityToken", "Couldn't verify the identity token (injected fault)."}
	case FaultExpiredToken:
		return errTokenExpired(now, now.Add(-clockSkew-time.Minute))
	case FaultAccessDenied:
		return errAccessDenied
	}
	return &apiError{http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("unknown injected fault %q", k)}
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
