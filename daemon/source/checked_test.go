package source_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/source"
	"github.com/credd-dev/credd/daemon/token"
)

// tokens is a Func that returns the given results in turn.
func tokens(name string, results ...any) source.Func {
	var mu sync.Mutex
	i := 0
	return source.Func{SourceName: name, Fn: func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		r := results[min(i, len(results)-1)]
		i++
		if err, ok := r.(error); ok {
			return "", err
		}
		return r.(string), nil
	}}
}

func TestCheckedPassesGoodTokensAndRemembersTheirClaims(t *testing.T) {
	first, second := validJWT(t, 1), validJWT(t, 2)
	c := source.NewChecked(tokens("sandbox", first, second), token.Checks{Audience: "sts.amazonaws.com"})
	if c.LastClaims() != nil {
		t.Fatal("LastClaims before any token is not nil")
	}
	for _, want := range []string{first, second} {
		got, err := c.Token(context.Background())
		if err != nil || got != want {
			t.Fatalf("Token = %q, %v", got, err)
		}
	}
	claims := c.LastClaims()
	if claims == nil || claims.Subject != "repo:octo/app:ref:refs/heads/main" || claims.Audience[0] != "sts.amazonaws.com" {
		t.Fatalf("LastClaims = %+v", claims)
	}
	claims.Audience[0] = "changed by the caller"
	if c.LastClaims().Audience[0] != "sts.amazonaws.com" {
		t.Error("LastClaims shares its slices with the caller")
	}
	if c.Name() != "sandbox" {
		t.Errorf("Name = %q", c.Name())
	}
}

func TestCheckedRejectsBadTokens(t *testing.T) {
	good := validJWT(t, 1)
	expired := jwt(t, map[string]any{"aud": "sts.amazonaws.com", "exp": time.Now().Add(-time.Hour).Unix()})
	wrongAud := jwt(t, map[string]any{"aud": "https://github.com/octo", "exp": time.Now().Add(time.Hour).Unix()})
	sourceErr := &daemon.Error{Kind: daemon.KindNewToken, Code: source.CodeFileMissing, Message: "gone"}
	tests := []struct {
		name      string
		next      any
		wantCode  daemon.Code
		wantKind  daemon.Kind
		wantStage daemon.Stage
		wantMsg   string
	}{
		{"an expired token needs a new one", expired, token.CodeExpired, daemon.KindNewToken, daemon.StageTokenCheck, "sandbox source: the token expired"},
		{"a token for another audience is permanent", wrongAud, token.CodeAudience, daemon.KindPermanent, daemon.StageTokenCheck, `sandbox source: the token's audience is "https://github.com/octo"`},
		{"a token that is not a JWT is malformed", "not-a-jwt", token.CodeMalformed, daemon.KindPermanent, daemon.StageTokenCheck, "sandbox source:"},
		{"the source's own error passes through unchanged, its stage left to the caller", sourceErr, source.CodeFileMissing, daemon.KindNewToken, "", "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := source.NewChecked(tokens("sandbox", good, tt.next), token.Checks{Audience: "sts.amazonaws.com"})
			if _, err := c.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, err := c.Token(context.Background())
			e := wantError(t, err, tt.wantCode, tt.wantKind)
			wantContains(t, "message", e.Message, tt.wantMsg)
			if e.Stage != tt.wantStage {
				t.Errorf("Stage = %q, want %q", e.Stage, tt.wantStage)
			}
			if got != "" {
				t.Errorf("Token returned %q with an error", got)
			}
			if s, ok := tt.next.(string); ok && len(s) > 20 {
				wantNotContains(t, "error", err.Error(), s)
			}
			if claims := c.LastClaims(); claims == nil || claims.Audience[0] != "sts.amazonaws.com" {
				t.Errorf("LastClaims after a failure = %+v, want the last good token's", claims)
			}
		})
	}
}

func TestCheckedIsSafeForConcurrentUse(t *testing.T) {
	c := source.NewChecked(tokens("sandbox", validJWT(t, 1)), token.Checks{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := c.Token(context.Background()); err != nil {
					t.Error(err)
				}
				_ = c.LastClaims()
			}
		})
	}
	wg.Wait()
}

func TestCheckedPassesChangedThrough(t *testing.T) {
	f := source.NewFile(filepath.Join(t.TempDir(), "token"), nil)
	if got := source.NewChecked(f, token.Checks{}).Changed(); got != f.Changed() {
		t.Error("Changed of a checked file is not the file's")
	}
	if got := source.NewChecked(tokens("sandbox", "x"), token.Checks{}).Changed(); got != nil {
		t.Error("Changed of a source without one is not nil")
	}
}

func TestFunc(t *testing.T) {
	plain := errors.New("issuer is down")
	classified := &daemon.Error{Kind: daemon.KindPermanent, Code: "SandboxStopped"}
	tests := []struct {
		name     string
		fn       source.Func
		want     string
		wantCode daemon.Code
		wantKind daemon.Kind
		wantName string
	}{
		{name: "a token is returned as is", fn: source.Func{SourceName: "sandbox", Fn: func(context.Context) (string, error) { return "a.b.c", nil }}, want: "a.b.c", wantName: "sandbox"},
		{name: "a plain error is classified as retryable", fn: source.Func{Fn: func(context.Context) (string, error) { return "", plain }},
			wantCode: source.CodeFailed, wantKind: daemon.KindRetryable, wantName: "func"},
		{name: "a classified error passes through", fn: source.Func{SourceName: "sandbox", Fn: func(context.Context) (string, error) { return "", classified }},
			wantCode: "SandboxStopped", wantKind: daemon.KindPermanent, wantName: "sandbox"},
		{name: "a missing function is a permanent error", fn: source.Func{SourceName: "sandbox"},
			wantCode: source.CodeFailed, wantKind: daemon.KindPermanent, wantName: "sandbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fn.Name() != tt.wantName {
				t.Errorf("Name = %q, want %q", tt.fn.Name(), tt.wantName)
			}
			got, err := tt.fn.Token(context.Background())
			if tt.wantCode == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Token = %q, %v", got, err)
				}
				return
			}
			wantError(t, err, tt.wantCode, tt.wantKind)
			if tt.wantCode == source.CodeFailed && tt.fn.Fn != nil && !errors.Is(err, plain) {
				t.Errorf("error %v does not wrap the function's", err)
			}
		})
	}
}
