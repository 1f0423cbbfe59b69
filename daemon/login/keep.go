package login

import (
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/redact"
)

// resume loads a kept refresh token and schedules its renewal at once, so a
// restarted daemon serves again with no new device login. Token waits for
// the outcome (StatusResuming) rather than failing the first STS attempt.
func (s *Session) resume() {
	if s.opts.Store == nil {
		return
	}
	s.storeMu.Lock()
	rt, err := s.opts.Store.Load()
	s.storeMu.Unlock()
	if err != nil {
		// The error names the file and why; it never holds the token.
		s.log.Warn("kept login ignored; a new `credd login` replaces it", "err", err)
		s.mu.Lock()
		s.keepErr = notKept(err, "", s.clock.Now())
		s.changedLocked(false)
		s.mu.Unlock()
		return
	}
	if rt == "" {
		return
	}
	if token, ok := keptGitHubToken(rt); ok && s.opts.GitHub {
		s.resumeGitHubToken(token, rt)
		return
	}
	s.mu.Lock()
	if s.refresh == "" { // no device login finished before Run
		s.refresh, s.kept = rt, rt
		s.status = StatusResuming
		s.nextRenewal = s.clock.Now()
		s.lastErr = errorStatus(&daemon.Error{Kind: daemon.KindRetryable, Code: CodeResuming,
			Message: "resuming the kept login to " + s.opts.Issuer, Hint: "wait a moment; `credd status` shows the outcome"}, s.clock.Now())
		s.changedLocked(false)
	}
	s.mu.Unlock()
	s.log.Info("resuming the kept login")
}

// keep brings the Store in line with the login held now (keptLocked): saved when
// new or rotated, erased when the login ended. It compares with what it
// last wrote rather than replaying events, so calls may come in any order
// and a failed write is retried at the next change. A failure is logged and
// shown in State; the login goes on in memory.
func (s *Session) keep() {
	if s.opts.Store == nil {
		return
	}
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	s.mu.Lock()
	rt, kept := s.keptLocked(), s.kept
	s.mu.Unlock()
	if rt == kept {
		return
	}
	var err error
	if rt == "" {
		err = s.opts.Store.Erase()
	} else {
		err = s.opts.Store.Save(rt)
	}
	s.mu.Lock()
	if err == nil {
		s.kept, s.keepErr = rt, nil
	} else {
		s.keepErr = notKept(err, "the login works until the daemon stops; fix the state dir (owner, mode, free space) to keep it", s.clock.Now())
	}
	s.changedLocked(false)
	s.mu.Unlock()
	switch {
	case err != nil:
		s.log.Warn("the login could not be kept", "err", err)
	case rt == "":
		s.log.Info("kept login erased")
	default:
		s.log.Debug("login kept")
	}
}

// keptLocked is what the Store should hold now: the refresh token, or
// with GitHub, for a token that never expires and so comes without one,
// the token itself (see keptGitHubToken); "" when there is no login.
func (s *Session) keptLocked() string {
	if s.refresh == "" && s.opts.GitHub && s.idToken != "" && s.expires.IsZero() {
		return keepGitHubToken(s.idToken)
	}
	return s.refresh
}

// notKept is a KeepError: the Store's errors name the file and say what to
// do, and never hold the token.
func notKept(err error, hint string, at time.Time) *daemon.ErrorStatus {
	return &daemon.ErrorStatus{Kind: daemon.KindRetryable, Code: CodeNotKept, Message: redact.String(err.Error()), Hint: hint, At: at}
}

// Logout ends the login at the user's request: the tokens are dropped, the
// kept one is erased, and a pending device login is canceled. The roles it
// fed then get LoginRequired until the next `credd login`. The IdP is not
// told; the refresh token dies with the daemon's memory and the file. The
// error, if any, says that the kept file could not be erased.
func (s *Session) Logout() error {
	now := s.clock.Now()
	s.mu.Lock()
	s.idToken, s.refresh, s.subject = "", "", ""
	s.issuedAt, s.expires, s.nextRenewal = time.Time{}, time.Time{}, time.Time{}
	s.status = StatusLoggedOut
	s.lastErr = errorStatus(loginRequired("logged out of "+s.opts.Issuer+" by `credd logout`", nil), now)
	if s.attempt != nil && s.attempt.Status == AttemptPending {
		s.attempt.Status, s.attempt.EndedAt = AttemptCanceled, now
		s.attempt.Error = errorStatus(&daemon.Error{Kind: daemon.KindPermanent, Code: CodeCanceled,
			Message: "`credd logout` canceled this login", Hint: "run `credd login` again"}, now)
	}
	cancel := s.cancelPoll
	s.cancelPoll = nil
	s.changedLocked(true)
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wake() // Run drops its renewal timer
	s.log.Info("logged out")
	return s.erase()
}

// erase removes the kept login whatever this session believes it holds: a
// logout must not leave a file behind, even one it could not load.
func (s *Session) erase() error {
	if s.opts.Store == nil {
		return nil
	}
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	err := s.opts.Store.Erase()
	s.mu.Lock()
	if err == nil {
		s.kept, s.keepErr = "", nil
	} else {
		s.keepErr = notKept(err, "", s.clock.Now())
	}
	s.changedLocked(false)
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("the kept login could not be erased", "err", err)
	}
	return err
}
