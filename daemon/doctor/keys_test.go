package doctor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sts"
)

// The doctor agrees with STS on which claims a trust policy can name and on
// how IAM names an issuer's provider; the sources are cited where
// daemon/policy decides both (keys.go, request.go): the IAM User Guide's
// "Available keys for AWS OIDC federation"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif),
// AWS's announcement of GitHub's keys
// (https://aws.amazon.com/about-aws/whats-new/2026/01/aws-sts-supports-validation-identity-provider-claims/),
// and an Auth0 provider named with its issuer's trailing slash
// (https://gist.github.com/gene1wood/54611c45a3298504f8e33d95e317ae5c).
func TestDoctorAgreesWithIAMOnKeysAndProviderNames(t *testing.T) {
	const auth0 = "https://acme.auth0.com/"
	denied := failing(sts.CodeAccessDenied, daemon.StageSTS, "the role's trust policy does not accept this token")
	withOwner := func(f *Facts) { f.Status.Roles[0].Claims.Extra["repository_owner"] = "acme" }
	fromAuth0 := func(f *Facts) {
		f.Status.Roles[0].Claims = &daemon.Claims{Issuer: auth0, Subject: "auth0|42", Audience: []string{"sts.amazonaws.com"},
			Expiry: now.Add(4 * time.Minute), Extra: map[string]string{"org_id": "org_1"}}
	}
	auth0Policy := func(federated, condition string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"Auth0","Effect":"Allow",
		 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/` + federated + `"},
		 "Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}]}`
	}
	tests := []struct {
		name       string
		facts      Facts
		wantTrust  string // the trust policy check's result
		wantDetail []string
		// wantFix is contained in the first action.
		wantFix []string
	}{
		{
			name: "a condition on a GitHub claim IAM does not provide is one STS will refuse, with a sub form instead",
			facts: facts(denied, notServing, withOwner, withPolicy(t, `{"Version":"2012-10-17","Statement":[{"Sid":"OwnerOnly","Effect":"Allow",
			 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
			 "Action":"sts:AssumeRoleWithWebIdentity",
			 "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:repository_owner":"acme"}}}]}`)),
			wantTrust:  "fail",
			wantDetail: []string{`statement 1 (OwnerOnly): StringEquals "token.actions.githubusercontent.com:repository_owner": IAM has no such key for this provider, the policy wants "acme"`},
			wantFix: []string{`in statement 1 (OwnerOnly) of the trust policy, replace StringEquals "token.actions.githubusercontent.com:repository_owner": ` +
				"IAM cannot evaluate this condition for this provider; STS will refuse",
				`e.g. StringLike "token.actions.githubusercontent.com:sub": "repo:acme/*"`},
		},
		{
			name: "a condition on an IdP's custom claim is one STS will refuse, with the exact sub instead",
			facts: facts(denied, notServing, fromAuth0,
				withPolicy(t, auth0Policy("acme.auth0.com/", `{"StringEquals":{"acme.auth0.com/:org_id":"org_1"}}`))),
			wantTrust: "fail",
			wantFix: []string{"IAM cannot evaluate this condition for this provider; STS will refuse",
				`e.g. StringEquals "acme.auth0.com/:sub": "auth0|42"`},
		},
		{
			name: "an Auth0 provider and keys named with the issuer's trailing slash allow the token",
			facts: facts(denied, notServing, fromAuth0,
				withPolicy(t, auth0Policy("acme.auth0.com/", `{"StringEquals":{"acme.auth0.com/:aud":"sts.amazonaws.com","acme.auth0.com/:sub":"auth0|42"}}`))),
			wantTrust:  "warn",
			wantDetail: []string{"trust.json allows this token"},
		},
		{
			name: "an Auth0 provider named without the issuer's trailing slash is another provider",
			facts: facts(denied, notServing, fromAuth0,
				withPolicy(t, auth0Policy("acme.auth0.com", `{"StringEquals":{"acme.auth0.com/:sub":"auth0|42"}}`))),
			wantTrust: "fail",
			wantFix: []string{"change Principal.Federated to match the token",
				"the provider names differ in a trailing slash", "arn:aws:iam::123456789012:oidc-provider/acme.auth0.com/"},
		},
		{
			name: "an Auth0 key named without the issuer's trailing slash is missing",
			facts: facts(denied, notServing, fromAuth0,
				withPolicy(t, auth0Policy("acme.auth0.com/", `{"StringEquals":{"acme.auth0.com:sub":"auth0|42"}}`))),
			wantTrust: "fail",
			wantFix:   []string{`change StringEquals "acme.auth0.com:sub" to match the token`, `so the key is "acme.auth0.com/:sub"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Diagnose(tt.facts)
			i := slices.IndexFunc(rep.Checks, func(c Check) bool { return c.Name == "trust policy" })
			if i < 0 {
				t.Fatalf("no trust policy check in %q", results(rep.Checks))
			}
			c := rep.Checks[i]
			if string(c.Result) != tt.wantTrust {
				t.Errorf("trust policy %s, want %s: %q", c.Result, tt.wantTrust, c.Detail)
			}
			for _, w := range tt.wantDetail {
				if !slices.ContainsFunc(c.Detail, func(d string) bool { return strings.HasPrefix(d, w) }) {
					t.Errorf("details %q lack a line starting %q", c.Detail, w)
				}
			}
			if len(tt.wantFix) > 0 && len(rep.Actions) == 0 {
				t.Fatalf("no action, want one with %q", tt.wantFix)
			}
			for _, w := range tt.wantFix {
				if !strings.Contains(rep.Actions[0], w) {
					t.Errorf("first action %q lacks %q", rep.Actions[0], w)
				}
			}
		})
	}
}
