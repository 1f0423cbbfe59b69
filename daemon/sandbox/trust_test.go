package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/policy"
)

func TestTrustPolicyDecidesAccess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	prov := policy.ProviderName(sb.IssuerURL)

	// The default role's policy is Audience + SubjectPattern, and it
	// round-trips through JSON.
	js, err := sb.STS.TrustPolicy(DefaultRoleARN)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"StringLike"`, prov + `:sub`, `"repo:credd-dev/*"`, `oidc-provider/` + prov} {
		if !strings.Contains(string(js), want) {
			t.Errorf("default trust policy lacks %s:\n%s", want, js)
		}
	}
	if _, err := policy.Parse(js); err != nil {
		t.Fatalf("default trust policy does not parse: %v", err)
	}
	if _, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0); err != nil {
		t.Fatalf("default policy refused the default token: %v", err)
	}
	if _, err := assumeRole(t.Context(), sb, mintToken(t, sb, map[string]any{"sub": "repo:someone/else:ref:refs/heads/main"}), 0); errorCode(err) != "AccessDenied" {
		t.Fatalf("another repository: err = %v, want AccessDenied", err)
	}

	// A policy with a GitHub claim condition and an explicit deny.
	custom := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"Federated":"` + policy.ProviderARN(DefaultAccountID, sb.IssuerURL) + `"},"Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com","` + prov + `:repository_owner":"credd-dev"}}},
	 {"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringEquals":{"` + prov + `:actor":"mallory"}}}]}`
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, custom); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		overrides map[string]any
		want      string
	}{
		{"an allowed owner", nil, ""},
		{"another owner", map[string]any{"repository_owner": "Credd-Dev"}, "AccessDenied"},
		{"a denied actor", map[string]any{"actor": "mallory"}, "AccessDenied"},
	} {
		_, err := assumeRole(t.Context(), sb, mintToken(t, sb, tt.overrides), 0)
		if errorCode(err) != tt.want {
			t.Errorf("%s: err = %v, want code %q", tt.name, err, tt.want)
		}
	}
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, `{"Statement":"nope"}`); err == nil {
		t.Error("SetTrustPolicy accepted a malformed policy")
	}
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := assumeRole(t.Context(), sb, mintToken(t, sb, map[string]any{"repository_owner": "x"}), 0); err != nil {
		t.Errorf("after restoring the default policy: %v", err)
	}
}

func TestRoleTrustPolicyMustParse(t *testing.T) {
	iss, err := NewIssuer(IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSTS(STSOptions{Issuer: iss, Roles: []Role{{ARN: DefaultRoleARN, TrustPolicy: `{"Statement":[]}`}}})
	if err != nil {
		t.Errorf("an empty statement list should parse (and deny everything): %v", err)
	}
	_, err = NewSTS(STSOptions{Issuer: iss, Roles: []Role{{ARN: DefaultRoleARN, TrustPolicy: `not json`}}})
	if err == nil {
		t.Error("NewSTS accepted a role with a malformed trust policy")
	}
}
