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

	// A policy with a sub condition and an explicit deny. The sandbox
	// issuer is not GitHub's, so sub and aud are the keys it has (see
	// TestTheSandboxProvidesOnlyTheKeysIAMDoes).
	custom := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"Federated":"` + policy.ProviderARN(DefaultAccountID, sb.IssuerURL) + `"},"Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"},"StringLike":{"` + prov + `:sub":"repo:credd-dev/*"}}},
	 {"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + prov + `:sub":"repo:credd-dev/mallory:*"}}}]}`
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, custom); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		overrides map[string]any
		want      string
	}{
		{"an allowed owner", nil, ""},
		{"another owner", map[string]any{"sub": "repo:Credd-Dev/demo:ref:refs/heads/main"}, "AccessDenied"},
		{"a denied repository", map[string]any{"sub": "repo:credd-dev/mallory:ref:refs/heads/main"}, "AccessDenied"},
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

// TestTheSandboxProvidesOnlyTheKeysIAMDoes holds the emulator to IAM: for a
// provider other than GitHub Actions' (the sandbox issuer's), only amr, aud,
// email, oaud and sub are condition keys (IAM User Guide, "Available keys for
// AWS OIDC federation",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif),
// so a condition on the token's repository_owner claim meets a missing key:
// a positive operator fails and a negated one holds (IAM User Guide,
// "Condition operators",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
func TestTheSandboxProvidesOnlyTheKeysIAMDoes(t *testing.T) {
	sb := startSandbox(t, Options{})
	prov := policy.ProviderName(sb.IssuerURL)
	for _, tt := range []struct {
		name      string
		condition string
		want      string
	}{
		{"a condition on sub is evaluated", `{"StringLike":{"` + prov + `:sub":"repo:credd-dev/*"}}`, ""},
		{"a condition on aud is evaluated", `{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"}}`, ""},
		{"a condition on repository_owner is refused though the token has that claim",
			`{"StringEquals":{"` + prov + `:repository_owner":"credd-dev"}}`, "AccessDenied"},
		{"a condition on repository is refused for an issuer other than GitHub's",
			`{"StringEquals":{"` + prov + `:repository":"credd-dev/demo"}}`, "AccessDenied"},
		{"a negated condition on repository_owner holds, as on any missing key",
			`{"StringNotEquals":{"` + prov + `:repository_owner":"credd-dev"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` +
				policy.ProviderARN(DefaultAccountID, sb.IssuerURL) + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + tt.condition + `}]}`
			if err := sb.STS.SetTrustPolicy(DefaultRoleARN, doc); err != nil {
				t.Fatal(err)
			}
			_, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
			if errorCode(err) != tt.want {
				t.Errorf("err = %v, want code %q", err, tt.want)
			}
		})
	}
}

// An issuer with a trailing slash, as Auth0's https://TENANT.auth0.com/,
// is the IAM provider TENANT.auth0.com/, slash included, in its ARN and its
// keys (https://gist.github.com/gene1wood/54611c45a3298504f8e33d95e317ae5c).
func TestTheDefaultTrustPolicyNamesTheProviderAsIAMDoes(t *testing.T) {
	for _, tt := range []struct {
		name, issuer, provider string
	}{
		{"an issuer without a trailing slash", "https://login.example.com", "login.example.com"},
		{"an Auth0 issuer with its trailing slash", "https://acme.auth0.com/", "acme.auth0.com/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := DefaultTrustPolicy(DefaultAccountID, tt.issuer, DefaultAudience, "*").Statements[0]
			if want := "arn:aws:iam::" + DefaultAccountID + ":oidc-provider/" + tt.provider; len(st.Principal.Federated) != 1 || st.Principal.Federated[0] != want {
				t.Errorf("Federated = %q, want %q", st.Principal.Federated, want)
			}
			for _, c := range st.Conditions {
				if !strings.HasPrefix(c.Key, tt.provider+":") || strings.Count(c.Key[len(tt.provider):], ":") != 1 {
					t.Errorf("condition key %q is not %s:<claim>", c.Key, tt.provider)
				}
			}
		})
	}
}
