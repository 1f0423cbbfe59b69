package login

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// startGitHub asks GitHub for a device code (step 1 of GitHub's device
// flow) and polls for the user's approval under runCtx.
func (s *Session) startGitHub(ctx, runCtx context.Context) (State, error) {
	form := url.Values{"client_id": {s.opts.ClientID}}
	if len(s.scopes) > 0 {
		form.Set("scope", strings.Join(s.scopes, " ")) // "A space-delimited list of the scopes"
	}
	ans, err := s.githubPost(ctx, s.github.deviceCode, form)
	if err != nil {
		return State{}, classifyGitHub("GitHub refused to start a device login", err)
	}
	if ans.DeviceCode == "" || ans.UserCode == "" || ans.VerificationURI == "" {
		return State{}, &daemon.Error{Kind: daemon.KindPermanent, Code: CodeIdPError,
			Message: "GitHub's answer to the device code request lacks the device code, the user code or the verification URI",
			Hint:    "check --github-url: it is GitHub's web host (https://github.com, or https://HOST for GitHub Enterprise Server), not its API"}
	}
	interval := seconds(ans.Interval, githubInterval, githubMaxInterval)
	a := Attempt{
		UserCode:        ans.UserCode,
		VerificationURI: ans.VerificationURI,
		Expires:         s.clock.Now().Add(seconds(ans.ExpiresIn, githubCodeLife, githubMaxLife)),
	}
	deviceCode, expires := ans.DeviceCode, a.Expires
	return s.beginAttempt(runCtx, a, func(ctx context.Context, id int) {
		s.pollGitHub(ctx, deviceCode, interval, expires, id)
	}), nil
}

// pollGitHub polls GitHub's token endpoint (step 3) every interval until
// the user approves or denies, or the code expires. The interval grows on
// slow_down to what GitHub says ("The error response includes the new
// interval that you must use"), and by 5 s when it says none.
func (s *Session) pollGitHub(ctx context.Context, deviceCode string, interval time.Duration, expires time.Time, id int) {
	form := url.Values{"client_id": {s.opts.ClientID}, "device_code": {deviceCode}, "grant_type": {githubDeviceGrant}}
	expired := &daemon.Error{Kind: daemon.KindPermanent, Code: CodeExpired,
		Message: "the code expired before the login was approved", Hint: "run `credd login` again and approve it sooner"}
	for {
		if !s.sleep(ctx, interval) {
			return // the daemon is stopping, or a logout canceled the attempt
		}
		if !s.clock.Now().Before(expires) {
			s.endGitHubAttempt(id, AttemptExpired, expired, nil)
			return
		}
		ans, err := s.githubPost(ctx, s.github.token, form)
		if ctx.Err() != nil {
			return
		}
		if err == nil && ans.AccessToken == "" {
			err = errGitHubAnswer
		}
		if err == nil {
			s.endGitHubAttempt(id, AttemptApproved, nil, ans)
			return
		}
		var ge *githubError
		code := ""
		if errors.As(err, &ge) {
			code = ge.Code
		}
		switch code {
		case "authorization_pending":
			continue
		case "slow_down":
			interval = max(interval+githubSlowDown, seconds(ge.Interval, 0, githubMaxInterval))
			s.log.Info("GitHub asked to poll more slowly", "attempt", id, "interval", interval)
			continue
		case "access_denied":
			s.endGitHubAttempt(id, AttemptDenied, &daemon.Error{Kind: daemon.KindPermanent, Code: CodeDenied,
				Message: "the login was denied at GitHub", Hint: "run `credd login` again and authorize the app"}, nil)
			return
		case "expired_token", "token_expired": // the docs name both
			s.endGitHubAttempt(id, AttemptExpired, expired, nil)
			return
		}
		e := classifyGitHub("the device login failed", err)
		if e.Kind == daemon.KindRetryable {
			// The code is still valid: poll on until it expires.
			s.log.Warn("device login poll failed; polling on", "attempt", id, "err", e.Error())
			continue
		}
		s.endGitHubAttempt(id, AttemptFailed, e, nil)
		return
	}
}

// sleep waits d on the session's clock; false when ctx ended first.
func (s *Session) sleep(ctx context.Context, d time.Duration) bool {
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// endGitHubAttempt ends attempt id with status: with the token in ans when
// approved, else with e.
func (s *Session) endGitHubAttempt(id int, status string, e *daemon.Error, ans *githubAnswer) {
	now := s.clock.Now()
	s.mu.Lock()
	if s.attempt == nil || s.attempt.ID != id || s.attempt.Status != AttemptPending {
		s.mu.Unlock()
		return // a logout canceled it while the answer was on its way
	}
	s.attempt.Status, s.attempt.EndedAt = status, now
	if e != nil {
		s.attempt.Error = errorStatus(e, now)
	} else {
		s.setGitHubTokenLocked(ans)
		s.lastErr = nil
	}
	s.changedLocked(e == nil)
	expires, renewable := s.expires, s.refresh != ""
	s.mu.Unlock()
	if e != nil {
		s.log.Warn("device login ended", "attempt", id, "result", status, "err", e.Error())
		return
	}
	s.log.Info("device login approved", "attempt", id, "token_expires", expires, "renewable", renewable)
	s.keep()
	s.wake()
}

// setGitHubTokenLocked takes a token answer. An expiring token (expires_in,
// 8 hours) comes with a refresh token, renewed like an ID token. GitHub
// rotates refresh tokens: "Once you use a refresh token, that refresh
// token and the old user access token will no longer work", so the new one
// replaces it, and an answer without one leaves none.
func (s *Session) setGitHubTokenLocked(ans *githubAnswer) {
	now := s.clock.Now()
	s.idToken, s.subject = ans.AccessToken, ""
	s.issuedAt, s.expires = now, time.Time{}
	if ans.ExpiresIn > 0 {
		s.expires = now.Add(seconds(ans.ExpiresIn, 0, githubMaxLife))
	}
	s.refresh = ans.RefreshToken
	s.status = StatusLoggedIn
	s.nextRenewal = time.Time{}
	if s.refresh != "" && !s.expires.IsZero() {
		s.nextRenewal = renewAt(s.issuedAt, s.expires, s.opts.RenewBefore)
	}
}

// renewGitHub trades the refresh token rt for a new token and refresh token
// (grant_type=refresh_token; no client secret: "Required unless the user
// access token was generated using the device flow"). A refusal
// (bad_refresh_token: expired after six months, or revoked) ends the login;
// a transient failure is retried by Run. renew calls it holding renewMu.
func (s *Session) renewGitHub(ctx context.Context, rt string, resuming bool) error {
	ans, err := s.githubPost(ctx, s.github.token, url.Values{
		"client_id": {s.opts.ClientID}, "grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err == nil && ans.AccessToken == "" {
		err = errGitHubAnswer
	}
	if err != nil {
		e := classifyGitHub("GitHub did not renew the login", err)
		if e.Kind != daemon.KindPermanent {
			return s.renewFailed(rt, e)
		}
		why := strings.TrimPrefix(e.Message, "GitHub did not renew the login: ")
		ended := loginRequired("GitHub refused to renew the login ("+why+")", err)
		if resuming {
			ended = loginRequired("GitHub refused the kept login ("+why+")", err)
		}
		s.end(rt, ended)
		s.log.Warn("login renewal refused; run credd login", "resuming", resuming, "err", e.Error())
		return ended
	}
	now := s.clock.Now()
	s.mu.Lock()
	if s.refresh != rt {
		s.mu.Unlock()
		return nil // a logout or a new login replaced this one meanwhile
	}
	s.setGitHubTokenLocked(ans)
	s.renewals++
	s.lastRenewal = now
	s.lastErr = nil
	s.changedLocked(true)
	expires, renewable := s.expires, s.refresh != ""
	s.mu.Unlock()
	s.keep()
	msg := "GitHub token renewed"
	if resuming {
		msg = "kept login resumed"
	}
	s.log.Info(msg, "token_expires", expires, "renewable", renewable, "refresh_token_rotated", renewable && ans.RefreshToken != rt)
	return nil
}

// resumeGitHubToken takes a kept token that does not expire. Whether
// GitHub still honours it shows at its first use (TokenRefused).
func (s *Session) resumeGitHubToken(token, kept string) {
	s.mu.Lock()
	resumed := s.idToken == "" && s.refresh == "" // no device login finished before Run
	if resumed {
		s.idToken, s.kept = token, kept
		s.issuedAt, s.expires, s.nextRenewal = s.clock.Now(), time.Time{}, time.Time{}
		s.status = StatusLoggedIn
		s.changedLocked(true)
	}
	s.mu.Unlock()
	if resumed {
		s.log.Info("kept login resumed", "token_expires", "never")
	}
}

// TokenRefused tells a GitHub login that token, which Token returned, was
// refused as no longer valid (credd-bridge's 401 github_token_refused:
// GitHub answered 401 for it). An expiring token is renewed once, in case
// it lapsed early; otherwise, or when its renewal's token is refused too,
// the login ends with LoginRequired ("run `credd login`") and its kept
// file is erased. A token the session no longer holds is ignored, and so
// is every call on an OIDC login. ctx bounds the renewal.
func (s *Session) TokenRefused(ctx context.Context, token string) {
	if !s.opts.GitHub || token == "" {
		return
	}
	s.mu.Lock()
	current, renewable := s.idToken == token, s.refresh != "" && s.refusedRenewal != token
	if current && renewable {
		s.nextRenewal = s.clock.Now()
	}
	s.mu.Unlock()
	if !current {
		return
	}
	if renewable {
		s.log.Warn("GitHub refused the login's token; renewing it")
		if s.renew(ctx) == nil {
			s.mu.Lock()
			if s.idToken != token {
				s.refusedRenewal = s.idToken
			}
			s.mu.Unlock()
		}
		s.wake() // Run reschedules its renewal
		return
	}
	s.mu.Lock()
	if s.idToken == token {
		s.endLocked(loginRequired("GitHub refused the login's token: it was revoked, it expired, or the app's authorization was withdrawn", nil))
	}
	s.mu.Unlock()
	s.keep()
	s.wake()
	s.log.Warn("GitHub refused the login's token; run credd login")
}

// TokenRefused is Session.TokenRefused.
func (src *Source) TokenRefused(ctx context.Context, token string) { src.s.TokenRefused(ctx, token) }

// providerName is State.Provider.
func (s *Session) providerName() string {
	if s.opts.GitHub {
		return ProviderGitHub
	}
	return ""
}
