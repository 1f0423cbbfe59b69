package login

import (
	"context"
	"errors"
	"testing"
	"time"

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
