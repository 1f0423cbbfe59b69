package source_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// jwt builds a token shaped like a signed JWT with the given claims.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString([]byte("signature"))
}

// validJWT is a token for sts.amazonaws.com that expires in an hour; n makes
// tokens differ.
func validJWT(t *testing.T, n int) string {
	t.Helper()
	return jwt(t, map[string]any{
		"iss": "https://token.actions.githubusercontent.com",
		"sub": "repo:octo/app:ref:refs/heads/main",
		"aud": "sts.amazonaws.com",
		"exp": time.Now().Add(time.Hour).Unix(),
		"jti": n,
	})
}

func wantError(t *testing.T, err error, code daemon.Code, kind daemon.Kind) *daemon.Error {
	t.Helper()
	var e *daemon.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *daemon.Error", err, err)
	}
	if e.Code != code || e.Kind != kind {
		t.Fatalf("error = %s/%s (%v), want %s/%s", e.Code, e.Kind, err, code, kind)
	}
	return e
}

func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}

func wantNotContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s %q contains %q", what, s, sub)
		}
	}
}
