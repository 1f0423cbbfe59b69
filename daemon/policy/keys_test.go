package policy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
)

// claimsOf is a token of issuer with sub, audience sts.amazonaws.com and
// the extra string claims.
func claimsOf(issuer, sub string, extra map[string]string) daemon.Claims {
	return daemon.Claims{Issuer: issuer, Subject: sub, Audience: []string{"sts.amazonaws.com"},
		Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Extra: extra}
}

// trusting is a policy allowing AssumeRoleWithWebIdentity to the provider
// of issuer in account under condition, followed by the extra statements.
func trusting(t *testing.T, issuer, condition string, extra ...string) *policy.Document {
	t.Helper()
	stmts := append([]string{`{"Sid":"Trust","Effect":"Allow","Principal":{"Federated":"` + policy.ProviderARN(account, issuer) +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}`}, extra...)
	d, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

// Which claims are condition keys follows the IAM User Guide, "Available
// keys for AWS OIDC federation" (amr, aud, email, oaud, sub for every
// provider;
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif)
// and, for GitHub Actions, the keys of
// https://aws.amazon.com/about-aws/whats-new/2026/01/aws-sts-supports-validation-identity-provider-claims/
// (actor, actor_id, job_workflow_ref, repository, repository_id, workflow,
// ref, environment, enterprise_id). A key IAM does not provide is missing,
// and a missing key fails every operator but the negated ones, IfExists,
// ForAllValues and Null true (IAM User Guide, "Condition operators",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
func TestOnlyTheClaimsIAMProvidesAreConditionKeys(t *testing.T) {
	const (
		ghIss   = "https://" + gh
		ghes    = "https://ghe.example.com/_services/token"
		auth0   = "https://acme.auth0.com/"
		ghSub   = "repo:Acme/app:ref:refs/heads/main"
		auth0Pr = "acme.auth0.com/"
	)
	ghExtra := map[string]string{
		"repository": "Acme/app", "repository_id": "42", "repository_owner": "Acme", "repository_owner_id": "7",
		"actor": "octocat", "actor_id": "9", "workflow": "CI", "ref": "refs/heads/main", "event_name": "push",
		"job_workflow_ref": "Acme/app/.github/workflows/ci.yml@refs/heads/main", "enterprise_id": "3",
	}
	tests := []struct {
		name      string
		issuer    string
		sub       string
		extra     map[string]string
		condition string
		deny      string // an extra Deny statement, or ""
		want      bool
		// unavailable says the refusal names a key IAM does not provide.
		unavailable bool
	}{
		{"GitHub's repository is a key for GitHub Actions", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:repository":"Acme/app"}}`, "", true, false},
		{"GitHub's repository_id, actor_id, workflow and enterprise_id are keys for GitHub Actions", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:repository_id":"42","` + gh + `:actor_id":"9","` + gh + `:workflow":"CI","` + gh + `:enterprise_id":"3"}}`, "", true, false},
		{"GitHub's actor, ref and job_workflow_ref are keys for GitHub Actions", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:actor":"octocat","` + gh + `:ref":"refs/heads/main"},"StringLike":{"` + gh + `:job_workflow_ref":"Acme/app/*"}}`, "", true, false},
		{"GitHub's repository_owner is no key, so STS refuses a token that has it", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:repository_owner":"Acme"}}`, "", false, true},
		{"GitHub's repository_owner_id is no key either", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:repository_owner_id":"7"}}`, "", false, true},
		{"GitHub's event_name is no key", ghIss, ghSub, ghExtra,
			`{"StringLike":{"` + gh + `:event_name":"*"}}`, "", false, true},
		{"a GitHub Enterprise Server issuer has no repository key", ghes, ghSub, ghExtra,
			`{"StringEquals":{"ghe.example.com/_services/token:repository":"Acme/app"}}`, "", false, true},
		{"a GitHub Enterprise Server issuer has sub", ghes, ghSub, ghExtra,
			`{"StringLike":{"ghe.example.com/_services/token:sub":"repo:Acme/*"}}`, "", true, false},
		{"email is a key for any provider", auth0, "auth0|1", map[string]string{"email": "a@acme.com"},
			`{"StringEquals":{"` + auth0Pr + `:email":"a@acme.com"}}`, "", true, false},
		{"amr is a key for any provider", auth0, "auth0|1", map[string]string{"amr": "mfa"},
			`{"StringEquals":{"` + auth0Pr + `:amr":"mfa"}}`, "", true, false},
		{"an IdP's custom claim is no key", auth0, "auth0|1", map[string]string{"org_id": "org_1"},
			`{"StringEquals":{"` + auth0Pr + `:org_id":"org_1"}}`, "", false, true},
		{"Null false on a key IAM does not provide fails", ghIss, ghSub, ghExtra,
			`{"Null":{"` + gh + `:repository_owner":"false"}}`, "", false, true},
		{"StringNotEquals on a key IAM does not provide matches, as on any missing key", ghIss, ghSub, ghExtra,
			`{"StringNotEquals":{"` + gh + `:repository_owner":"Acme"}}`, "", true, false},
		{"IfExists on a key IAM does not provide matches", ghIss, ghSub, ghExtra,
			`{"StringEqualsIfExists":{"` + gh + `:event_name":"pull_request"}}`, "", true, false},
		{"a Deny on a key IAM does not provide never applies", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:aud":"sts.amazonaws.com"}}`,
			`{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringEquals":{"` + gh + `:repository_owner":"Acme"}}}`, true, false},
		{"an absent claim IAM provides is not called unavailable", ghIss, ghSub, ghExtra,
			`{"StringEquals":{"` + gh + `:environment":"prod"}}`, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var extra []string
			if tt.deny != "" {
				extra = append(extra, tt.deny)
			}
			res := trusting(t, tt.issuer, tt.condition, extra...).Evaluate(policy.NewRequest(claimsOf(tt.issuer, tt.sub, tt.extra), account))
			if res.Allowed() != tt.want {
				t.Fatalf("allowed = %v, want %v; failures: %v", res.Allowed(), tt.want, res.Failures())
			}
			unavailable := slices.ContainsFunc(res.Failures(), func(f policy.Failure) bool { return f.KeyUnavailable })
			if unavailable != tt.unavailable {
				t.Errorf("a failure names an unavailable key = %v, want %v; failures: %v", unavailable, tt.unavailable, res.Failures())
			}
		})
	}
}

func TestARefusalOnAKeyIAMDoesNotProvideSaysSoAndSuggestsSub(t *testing.T) {
	const ghIss = "https://" + gh
	tests := []struct {
		name      string
		issuer    string
		sub       string
		condition string
		want      []string
	}{
		{"repository_owner becomes a sub pattern for the owner", ghIss, "repo:Acme/app:ref:refs/heads/main",
			`{"StringEquals":{"` + gh + `:repository_owner":"Acme"}}`,
			[]string{`IAM has no such key for this provider, the policy wants "Acme"`,
				"IAM cannot evaluate this condition for this provider; STS will refuse",
				`StringLike "` + gh + `:sub": "repo:Acme/*"`}},
		{"an immutable sub keeps the owner's ID in the pattern", ghIss, "repo:Acme@123/app@456:ref:refs/heads/main",
			`{"StringEquals":{"` + gh + `:repository_owner":"Acme"}}`,
			[]string{`StringLike "` + gh + `:sub": "repo:Acme@123/*"`}},
		{"a pull_request event_name becomes the pull_request sub", ghIss, "repo:Acme/app:pull_request",
			`{"StringEquals":{"` + gh + `:event_name":"pull_request"}}`,
			[]string{`StringLike "` + gh + `:sub": "repo:Acme/app:pull_request"`}},
		{"several owners become several patterns", ghIss, "repo:Acme/app:ref:refs/heads/main",
			`{"StringEquals":{"` + gh + `:repository_owner":["Acme","Other"]}}`,
			[]string{`StringLike "` + gh + `:sub": one of ["repo:Acme/*", "repo:Other/*"]`}},
		{"another issuer's repository becomes a repository pattern", "https://ghe.example.com/_services/token", "repo:Acme/app:environment:prod",
			`{"StringEquals":{"ghe.example.com/_services/token:repository":"Acme/app"}}`,
			[]string{`StringLike "ghe.example.com/_services/token:sub": "repo:Acme/app:*"`}},
		{"another issuer's environment becomes an environment sub", "https://ghe.example.com/_services/token", "repo:Acme/app:environment:prod",
			`{"StringEquals":{"ghe.example.com/_services/token:environment":"prod"}}`,
			[]string{`StringLike "ghe.example.com/_services/token:sub": "repo:Acme/app:environment:prod"`}},
		{"any other claim becomes the token's exact sub", "https://acme.auth0.com/", "auth0|1",
			`{"StringEquals":{"acme.auth0.com/:org_id":"org_1"}}`,
			[]string{`IAM provides only the keys amr, aud, email, oaud, sub for acme.auth0.com/, whatever the token holds`,
				`StringEquals "acme.auth0.com/:sub": "auth0|1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claimsOf(tt.issuer, tt.sub, map[string]string{"repository_owner": "Acme", "event_name": "pull_request", "org_id": "org_1"})
			fs := trusting(t, tt.issuer, tt.condition).Evaluate(policy.NewRequest(c, account)).Failures()
			if len(fs) != 1 || !fs[0].KeyUnavailable {
				t.Fatalf("failures = %v, want one on an unavailable key", fs)
			}
			for _, w := range tt.want {
				if !strings.Contains(fs[0].String(), w) {
					t.Errorf("%q lacks %q", fs[0].String(), w)
				}
			}
		})
	}
}

// IAM names an OIDC provider by its URL without the scheme, trailing slash
// included, as Auth0's issuer https://TENANT.auth0.com/ has one: its ARN is
// arn:aws:iam::ACCOUNT:oidc-provider/TENANT.auth0.com/ and its keys
// TENANT.auth0.com/:aud (a working policy:
// https://gist.github.com/gene1wood/54611c45a3298504f8e33d95e317ae5c).
func TestTheProviderNameKeepsTheIssuersTrailingSlash(t *testing.T) {
	tests := []struct {
		name, issuer, provider string
	}{
		{"an issuer without a path", "https://token.actions.githubusercontent.com", "token.actions.githubusercontent.com"},
		{"an Auth0 issuer keeps its trailing slash", "https://acme.auth0.com/", "acme.auth0.com/"},
		{"an issuer with a path", "https://login.example.com/realms/dev", "login.example.com/realms/dev"},
		{"an issuer with a path and a trailing slash", "https://login.example.com/realms/dev/", "login.example.com/realms/dev/"},
		{"an issuer with a port", "http://127.0.0.1:8080", "127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.ProviderName(tt.issuer); got != tt.provider {
				t.Errorf("ProviderName = %q, want %q", got, tt.provider)
			}
			arn := "arn:aws:iam::" + account + ":oidc-provider/" + tt.provider
			if got := policy.ProviderARN(account, tt.issuer); got != arn {
				t.Errorf("ProviderARN = %q, want %q", got, arn)
			}
			c := claimsOf(tt.issuer, "user-1", nil)
			r := policy.NewRequest(c, account)
			if r.Federated != arn || r.Provider != tt.provider {
				t.Errorf("request federated %q provider %q, want %q %q", r.Federated, r.Provider, arn, tt.provider)
			}
			if got := r.Lookup(tt.provider + ":sub"); !slices.Equal(got, []string{"user-1"}) {
				t.Errorf("%s:sub = %q, want [user-1]", tt.provider, got)
			}
			s := policy.Suggest(c, account)
			want := map[string]string{tt.provider + ":aud": "sts.amazonaws.com", tt.provider + ":sub": "user-1"}
			if s.Federated != arn || len(s.Condition["StringEquals"]) != 2 ||
				s.Condition["StringEquals"][tt.provider+":aud"] != want[tt.provider+":aud"] || s.Condition["StringEquals"][tt.provider+":sub"] != "user-1" {
				t.Errorf("suggestion = %+v, want %s with %v", s, arn, want)
			}
		})
	}
}

func TestAPolicyWithoutTheIssuersTrailingSlashIsRefusedWithTheReason(t *testing.T) {
	const (
		issuer = "https://acme.auth0.com/"
		withSl = "arn:aws:iam::123456789012:oidc-provider/acme.auth0.com/"
		noSl   = "arn:aws:iam::123456789012:oidc-provider/acme.auth0.com"
	)
	tests := []struct {
		name      string
		federated string
		key       string
		want      bool
		note      string
	}{
		{"the provider and keys with the slash allow the token", withSl, "acme.auth0.com/:sub", true, ""},
		{"a provider without the slash is another provider", noSl, "acme.auth0.com/:sub", false, "differ in a trailing slash"},
		{"a key without the slash is missing", withSl, "acme.auth0.com:sub", false, `so the key is "acme.auth0.com/:sub"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := policy.Parse([]byte(`{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + tt.federated +
				`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + tt.key + `":"auth0|1"}}}}`))
			if err != nil {
				t.Fatal(err)
			}
			res := d.Evaluate(policy.NewRequest(claimsOf(issuer, "auth0|1", nil), account))
			if res.Allowed() != tt.want {
				t.Fatalf("allowed = %v, want %v; failures: %v", res.Allowed(), tt.want, res.Failures())
			}
			var all []string
			for _, f := range res.Failures() {
				all = append(all, f.String())
			}
			if tt.note != "" && !strings.Contains(strings.Join(all, "\n"), tt.note) {
				t.Errorf("failures %q do not mention %q", all, tt.note)
			}
		})
	}
}
