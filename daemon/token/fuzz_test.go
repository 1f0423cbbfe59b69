package token_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/token"
)

// FuzzParse checks that no input panics Parse, that every error is a
// *daemon.Error, and that a long input never comes back inside the error.
func FuzzParse(f *testing.F) {
	f.Add(jwt(f, githubClaims()))
	f.Add(rawJWT(`{"alg":"RS256"}`, `{"exp":1700000000.5,"aud":["a","b"]}`))
	f.Add(rawJWT(`{"alg":"RS256"}`, `{"exp":"1700000000","iat":"x"}`))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := token.Parse(raw)
		if err != nil {
			var e *daemon.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *daemon.Error", err, err)
			}
			if e.Code != token.CodeMalformed || e.Kind != daemon.KindPermanent {
				t.Fatalf("error %v is %s/%s", err, e.Code, e.Kind)
			}
			if s := strings.TrimSpace(raw); len(s) >= 32 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		if claims.Expiry.IsZero() {
			t.Fatal("Parse accepted a token without exp")
		}
	})
}
