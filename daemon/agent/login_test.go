package agent

import (
	"slices"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
)

// loginRole is a role that signs in with a device login at issuer; the
// issuer is never called, as no test here starts a login.
func loginRole(name, issuer string) config.Role {
	r := sandboxRole(name)
	r.TokenSource, r.Issuer, r.ClientID = config.SourceLogin, issuer, "credd-test"
	r.RoleARN = "arn:aws:iam::123456789012:role/" + name
	return r
}

func TestPickLoginSaysWhyARoleCannotSignIn(t *testing.T) {
	mixed := startAgent(t, Options{Config: sandboxConfig(t, sandboxRole("default"), sandboxRole("ops"), loginRole("dev", "http://127.0.0.1:1/a"))})
	none := startAgent(t, Options{Config: sandboxConfig(t, sandboxRole("default"), sandboxRole("ops"))})
	two := startAgent(t, Options{Config: sandboxConfig(t, loginRole("dev", "http://127.0.0.1:1/a"), loginRole("prod", "http://127.0.0.1:1/b"))})
	tests := []struct {
		name     string
		agent    *Agent
		profile  string
		wantRole string // the role whose login is picked; "" = a refusal
		wantCode string
		wantMsg  string
	}{
		{"the only login, unnamed", mixed, "", "dev", "", ""},
		{"a role that signs in", mixed, "dev", "dev", "", ""},
		{"a role that does not exist", mixed, "nope", "", string(control.CodeUnknownLogin),
			`no role named "nope"; roles: default, ops, dev: pass --profile with one of them`},
		{"a role that does not sign in, beside one that does", mixed, "ops", "", string(control.CodeUnknownLogin),
			`role "ops" does not use --token-source login: pass --profile with a role that uses --token-source login: dev`},
		{"no role signs in", none, "", "", string(control.CodeNoLogin), "no role uses --token-source login: "},
		{"a role, when none signs in", none, "ops", "", string(control.CodeNoLogin), `role "ops" does not use --token-source login, and no other role does`},
		{"a missing role, when none signs in", none, "nope", "", string(control.CodeUnknownLogin), `no role named "nope"; roles: default, ops`},
		{"several logins, unnamed, and no default", two, "", "", string(control.CodeUnknownLogin),
			"several roles sign in to different IdPs and the default role is none of them: pass --profile with a role that uses --token-source login: dev, prod"},
		{"several logins, one named", two, "prod", "prod", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, derr := tt.agent.pickLogin(tt.profile)
			if tt.wantRole != "" {
				if derr != nil || e == nil || !slices.Contains(e.roles, tt.wantRole) {
					t.Fatalf("pickLogin(%q) = %v, %v; want the login of %s", tt.profile, e, derr, tt.wantRole)
				}
				return
			}
			if derr == nil {
				t.Fatalf("pickLogin(%q) picked the login of %v; want a refusal", tt.profile, e.roles)
			}
			if got := derr.Message + ": " + derr.Hint; string(derr.Code) != tt.wantCode || !strings.HasPrefix(got, tt.wantMsg) {
				t.Errorf("pickLogin(%q) = %s %q; want %s starting %q", tt.profile, derr.Code, got, tt.wantCode, tt.wantMsg)
			}
		})
	}
}
