package login

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/credd-dev/credd/daemon"
)

func TestRenewalComesAt80PercentOrAMinuteBeforeButNotBeforeHalfLife(t *testing.T) {
	iat := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		life time.Duration
		want time.Duration
	}{
		{"an hour-long token at 80%", time.Hour, 48 * time.Minute},
		{"a five-minute token a minute before expiry", 5 * time.Minute, 4 * time.Minute},
		{"a two-minute token at half-life", 2 * time.Minute, time.Minute},
		{"a 50-second token at half-life", 50 * time.Second, 25 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renewAt(iat, iat.Add(tt.life), DefaultRenewBefore).Sub(iat); got != tt.want {
				t.Errorf("renewAt = +%s, want +%s", got, tt.want)
			}
		})
	}
}

func TestTokenWithoutALoginSaysRunCreddLogin(t *testing.T) {
	s, err := New(Options{Issuer: "http://127.0.0.1:1", ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Source().Token(context.Background())
	var e *daemon.Error
	if !errors.As(err, &e) || e.Code != CodeLoginRequired || e.Kind != daemon.KindPermanent || e.Hint != "run `credd login`" {
		t.Fatalf("Token = %v, want a permanent LoginRequired with the hint to run credd login", err)
	}
	if st := s.State(); st.Status != StatusLoggedOut || st.Login != nil {
		t.Errorf("state = %+v", st)
	}
}

func TestScopesAlwaysIncludeOpenID(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, "[openid offline_access]"},
		{[]string{"email"}, "[openid email]"},
		{[]string{"openid", "offline_access", "openid"}, "[openid offline_access]"},
	} {
		s, _ := New(Options{Issuer: "http://x", ClientID: "c", Scopes: tc.in})
		if got := fmtScopes(s.scopes); got != tc.want {
			t.Errorf("scopes %v = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func fmtScopes(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

func TestStartNeedsARunningSession(t *testing.T) {
	s, _ := New(Options{Issuer: "http://127.0.0.1:1", ClientID: "c"})
	if _, err := s.Start(context.Background()); err == nil {
		t.Fatal("Start before Run succeeded")
	}
}

func TestNewRefusesAMissingIssuerOrClient(t *testing.T) {
	if _, err := New(Options{ClientID: "c"}); err == nil {
		t.Error("no issuer: no error")
	}
	if _, err := New(Options{Issuer: "http://x"}); err == nil {
		t.Error("no client ID: no error")
	}
}

// OpenID Connect Core 1.0 §12.2: a refresh answer "is the Token Response
// of Section 3.1.3.3 except that it might not contain an id_token". The
// current ID token then serves until it expires; only a refresh that
// still brings none once it has expired ends the login.
func TestARefreshWithoutAnIDTokenKeepsTheCurrentOneUntilItExpires(t *testing.T) {
	f := newFixture(t)
	f.idp.setRotate(true)
	f.keep(f.idp.issue())
	s, logs := f.session(f.store())
	run(t, s)
	first := waitFor(t, s, "the kept login is resumed", loggedIn)
	idToken, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.idp.setNoIDTokenOnRefresh(true)

	// At 80% of the ID token's life, then MinValidity before it expires:
	// renewed without an ID token, so the same one is served and the new
	// refresh token kept.
	for i, wantNext := range []time.Time{first.IDTokenExpires.Add(-DefaultMinValidity), first.IDTokenExpires} {
		kept := f.keptToken()
		f.advanceToRenewal(s)
		st := waitFor(t, s, "the rotated refresh token is kept", func(State) bool { return f.keptToken() != kept })
		st = waitFor(t, s, "the next renewal is scheduled", func(st State) bool { return st.NextRenewal.Equal(wantNext) })
		if st.Status != StatusLoggedIn || !st.CanRenew || st.LastError != nil || !st.IDTokenExpires.Equal(first.IDTokenExpires) {
			t.Fatalf("renewal %d without an ID token: state %+v, want logged in with the same ID token", i+1, st)
		}
		if got, err := s.Token(context.Background()); err != nil || got != idToken {
			t.Fatalf("renewal %d: Token = %.12q…, %v; want the current ID token", i+1, got, err)
		}
	}

	// At expiry, still no ID token: a new login is needed.
	f.advanceToRenewal(s)
	st := waitFor(t, s, "the login is required", func(st State) bool { return st.Status == StatusLoginRequired })
	if e := st.LastError; e == nil || e.Code != CodeLoginRequired || !strings.Contains(e.Message, "without an ID token") || !strings.Contains(e.Hint, "credd login") {
		t.Errorf("last error %+v, want LoginRequired saying the IdP renews without an ID token, and to run credd login", st.LastError)
	}
	_, err = s.Token(context.Background())
	var de *daemon.Error
	if !errors.As(err, &de) || de.Code != CodeLoginRequired || de.Kind != daemon.KindPermanent || !strings.Contains(de.Hint, "credd login") {
		t.Errorf("Token after expiry = %v, want a permanent LoginRequired", err)
	}
	if f.keptToken() != "" {
		t.Error("the ended login is still kept")
	}
	if n := len(f.idp.grantTypes()); n != 4 {
		t.Errorf("the IdP saw %d token requests, want 4 (resume and three renewals)", n)
	}
	if strings.Contains(logs.String(), idToken) {
		t.Errorf("the ID token reached the log:\n%s", logs)
	}
}

func TestARefreshWithoutAnIDTokenThenWithOneRenewsTheIDToken(t *testing.T) {
	f := newFixture(t)
	f.keep(f.idp.issue())
	s, _ := f.session(f.store())
	run(t, s)
	first := waitFor(t, s, "the kept login is resumed", loggedIn)
	f.idp.setNoIDTokenOnRefresh(true)
	f.advanceToRenewal(s)
	waitFor(t, s, "the renewal without an ID token", func(st State) bool {
		return st.NextRenewal.Equal(first.IDTokenExpires.Add(-DefaultMinValidity))
	})
	f.idp.setNoIDTokenOnRefresh(false)
	f.advanceToRenewal(s)
	st := waitFor(t, s, "a new ID token", func(st State) bool { return st.IDTokenExpires.After(first.IDTokenExpires) })
	if st.Status != StatusLoggedIn || st.Renewals != 2 {
		t.Errorf("state %+v, want logged in after the resume and one real renewal", st)
	}
}

func TestAResumedLoginWhoseRefreshHasNoIDTokenAsksForANewLogin(t *testing.T) {
	f := newFixture(t)
	f.keep(f.idp.issue())
	f.idp.setNoIDTokenOnRefresh(true)
	s, _ := f.session(f.store())
	run(t, s)
	st := waitFor(t, s, "the login is required", func(st State) bool { return st.Status == StatusLoginRequired })
	if e := st.LastError; e == nil || e.Code != CodeLoginRequired || !strings.Contains(e.Hint, "credd login") {
		t.Errorf("last error %+v, want LoginRequired with the hint to run credd login", st.LastError)
	}
	if f.keptToken() != "" {
		t.Error("a login that cannot give an ID token is still kept")
	}
}

// An IdP's error_description can echo what it was sent: the refresh token,
// the client secret. Neither may reach the error (and so the log and
// status); the OAuth error itself must.
func TestAnIdPErrorIsRedacted(t *testing.T) {
	const rt, cs = "rt-8f7a6b5c4d3e2f1a0b9c", "cs-0a1b2c3d4e5f"
	for _, err := range []error{
		&oauth2.RetrieveError{ErrorCode: "invalid_grant", ErrorDescription: "refresh_token=" + rt + " is not valid for client_secret: " + cs},
		&oauth2.RetrieveError{ErrorCode: "invalid_client", ErrorDescription: `{"client_secret":"` + cs + `","refresh_token":"` + rt + `"}`},
		errors.New(`oauth2: cannot parse json: invalid character; body: refresh_token=` + rt + `&client_secret=` + cs),
	} {
		e := classify("the IdP did not renew the login", err)
		msg := e.Error()
		if strings.Contains(msg, rt) || strings.Contains(msg, cs) {
			t.Errorf("the error holds a secret: %s", msg)
		}
		if !strings.Contains(msg, "[redacted]") || !strings.Contains(msg, "the IdP did not renew the login") {
			t.Errorf("the error lost its meaning: %s", msg)
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && !strings.Contains(msg, re.ErrorCode) {
			t.Errorf("the error lacks the OAuth error %s: %s", re.ErrorCode, msg)
		}
	}
}
