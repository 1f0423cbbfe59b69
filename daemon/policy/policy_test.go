package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
)

const (
	gh      = "token.actions.githubusercontent.com"
	account = "123456789012"
	ghARN   = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
)

func ghClaims(sub string, extra map[string]string) daemon.Claims {
	c := daemon.Claims{
		Issuer: "https://" + gh, Subject: sub, Audience: []string{"sts.amazonaws.com"},
		Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Extra: map[string]string{
			"repository": "Acme/app", "repository_owner": "Acme", "actor": "octocat",
			"ref": "refs/heads/main", "job_workflow_ref": "Acme/app/.github/workflows/ci.yml@refs/heads/main",
		},
	}
	for k, v := range extra {
		if v == "" {
			delete(c.Extra, k)
			continue
		}
		c.Extra[k] = v
	}
	return c
}

// doc wraps conditions in an Allow statement trusting GitHub.
func doc(t *testing.T, condition string) *policy.Document {
	t.Helper()
	d, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"Federated":"` + ghARN + `"},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":` + condition + `}]}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestConditionOperators(t *testing.T) {
	main := "repo:Acme/app:ref:refs/heads/main"
	env := "repo:Acme/app:environment:prod"
	tests := []struct {
		name      string
		condition string
		sub       string
		extra     map[string]string
		aud       []string
		want      bool
	}{
		{"StringEquals matches the exact value", `{"StringEquals":{"` + gh + `:sub":"` + main + `"}}`, main, nil, nil, true},
		{"StringEquals is case-sensitive in values", `{"StringEquals":{"` + gh + `:sub":"repo:acme/app:ref:refs/heads/main"}}`, main, nil, nil, false},
		{"StringEquals treats * literally", `{"StringEquals":{"` + gh + `:sub":"repo:Acme/app:*"}}`, main, nil, nil, false},
		{"keys are case-insensitive", `{"StringEquals":{"TOKEN.actions.githubusercontent.com:SUB":"` + main + `"}}`, main, nil, nil, true},
		{"several values are OR", `{"StringEquals":{"` + gh + `:sub":["x","` + main + `"]}}`, main, nil, nil, true},
		{"several keys are AND", `{"StringEquals":{"` + gh + `:sub":"` + main + `","` + gh + `:actor":"someone"}}`, main, nil, nil, false},
		{"several operators are AND", `{"StringEquals":{"` + gh + `:sub":"` + main + `"},"StringLike":{"` + gh + `:ref":"refs/tags/*"}}`, main, nil, nil, false},
		{"StringEquals on a missing key fails", `{"StringEquals":{"` + gh + `:environment":"prod"}}`, main, nil, nil, false},
		{"StringNotEquals matches another value", `{"StringNotEquals":{"` + gh + `:actor":"mallory"}}`, main, nil, nil, true},
		{"StringNotEquals fails on a listed value", `{"StringNotEquals":{"` + gh + `:actor":["mallory","octocat"]}}`, main, nil, nil, false},
		{"StringNotEquals on a missing key matches", `{"StringNotEquals":{"` + gh + `:environment":"prod"}}`, main, nil, nil, true},
		{"StringEqualsIgnoreCase ignores case", `{"StringEqualsIgnoreCase":{"` + gh + `:repository":"acme/APP"}}`, main, nil, nil, true},
		{"StringNotEqualsIgnoreCase ignores case", `{"StringNotEqualsIgnoreCase":{"` + gh + `:repository":"ACME/app"}}`, main, nil, nil, false},
		{"StringLike expands *", `{"StringLike":{"` + gh + `:sub":"repo:Acme/app:*"}}`, main, nil, nil, true},
		{"StringLike expands ?", `{"StringLike":{"` + gh + `:sub":"repo:Acme/ap?:ref:refs/heads/main"}}`, main, nil, nil, true},
		{"StringLike is case-sensitive", `{"StringLike":{"` + gh + `:sub":"repo:acme/app:*"}}`, main, nil, nil, false},
		{"StringLike refuses an environment sub for a ref pattern", `{"StringLike":{"` + gh + `:sub":"repo:Acme/app:ref:*"}}`, env, map[string]string{"environment": "prod"}, nil, false},
		{"StringNotLike matches a non-matching value", `{"StringNotLike":{"` + gh + `:sub":"*:pull_request"}}`, main, nil, nil, true},
		{"StringNotLike fails a matching value", `{"StringNotLike":{"` + gh + `:sub":"*:pull_request"}}`, "repo:Acme/app:pull_request", nil, nil, false},
		{"IfExists matches a missing key", `{"StringEqualsIfExists":{"` + gh + `:environment":"prod"}}`, main, nil, nil, true},
		{"IfExists checks a present key", `{"StringEqualsIfExists":{"` + gh + `:environment":"prod"}}`, env, map[string]string{"environment": "staging"}, nil, false},
		{"StringLikeIfExists checks a present key", `{"StringLikeIfExists":{"` + gh + `:environment":"pr*"}}`, env, map[string]string{"environment": "prod"}, nil, true},
		{"Null true wants the key absent", `{"Null":{"` + gh + `:environment":"true"}}`, main, nil, nil, true},
		{"Null true fails a present key", `{"Null":{"` + gh + `:environment":true}}`, env, map[string]string{"environment": "prod"}, nil, false},
		{"Null false wants the key present", `{"Null":{"` + gh + `:environment":"false"}}`, main, nil, nil, false},
		{"ForAnyValue matches one of several audiences", `{"ForAnyValue:StringEquals":{"` + gh + `:aud":"sts.amazonaws.com"}}`, main, nil, []string{"other", "sts.amazonaws.com"}, true},
		{"ForAnyValue on a missing key fails", `{"ForAnyValue:StringLike":{"` + gh + `:amr":"*"}}`, main, nil, nil, false},
		{"ForAllValues needs every value listed", `{"ForAllValues:StringEquals":{"` + gh + `:aud":"sts.amazonaws.com"}}`, main, nil, []string{"other", "sts.amazonaws.com"}, false},
		{"ForAllValues passes when all are listed", `{"ForAllValues:StringLike":{"` + gh + `:aud":["sts.*","other"]}}`, main, nil, []string{"other", "sts.amazonaws.com"}, true},
		{"ForAllValues on a missing key matches", `{"ForAllValues:StringEquals":{"` + gh + `:amr":"x"}}`, main, nil, nil, true},
		{"ForAnyValue:StringNotEquals needs one unlisted value", `{"ForAnyValue:StringNotEquals":{"` + gh + `:aud":"sts.amazonaws.com"}}`, main, nil, []string{"other", "sts.amazonaws.com"}, true},
		{"ForAllValues:StringNotLike needs no value to match", `{"ForAllValues:StringNotLike":{"` + gh + `:aud":"sts.*"}}`, main, nil, []string{"other", "sts.amazonaws.com"}, false},
		{"an unknown operator does not match", `{"NumericEquals":{"` + gh + `:sub":"1"}}`, main, nil, nil, false},
		{"an operator in the wrong case does not match", `{"stringequals":{"` + gh + `:sub":"` + main + `"}}`, main, nil, nil, false},
		{"GitHub claim keys: job_workflow_ref", `{"StringLike":{"` + gh + `:job_workflow_ref":"Acme/app/.github/workflows/*@refs/heads/main"}}`, main, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ghClaims(tt.sub, tt.extra)
			if tt.aud != nil {
				c.Audience = tt.aud
			}
			res := doc(t, tt.condition).Evaluate(policy.NewRequest(c, account))
			if res.Allowed() != tt.want {
				t.Errorf("allowed = %v, want %v; failures: %v", res.Allowed(), tt.want, res.Failures())
			}
			if !tt.want && len(res.Failures()) == 0 {
				t.Errorf("refused without a named failure")
			}
		})
	}
}

func TestPrincipalActionAndEffect(t *testing.T) {
	main := "repo:Acme/app:ref:refs/heads/main"
	tests := []struct {
		name   string
		policy string
		want   policy.Decision
		note   string
	}{
		{"the federated provider and action match", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + ghARN + `"},"Action":"sts:AssumeRoleWithWebIdentity"}}`, policy.Allow, ""},
		{"a provider in another account does not match", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::999999999999:oidc-provider/` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity"}}`, policy.ImplicitDeny, "account 999999999999"},
		{"another issuer does not match", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}`, policy.ImplicitDeny, "issuer"},
		{"an AWS principal does not match", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRoleWithWebIdentity"}}`, policy.ImplicitDeny, "no Federated"},
		{"Principal * matches", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}}`, policy.Allow, ""},
		{"a list of actions with wildcards, in any case", `{"Statement":{"Effect":"Allow","Principal":{"Federated":["x","` + ghARN + `"]},"Action":["s3:GetObject","STS:AssumeRoleWith*"]}}`, policy.Allow, ""},
		{"sts:AssumeRole is not enough", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + ghARN + `"},"Action":"sts:AssumeRole"}}`, policy.ImplicitDeny, "sts:AssumeRole is for IAM"},
		{"NotAction excluding it refuses", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + ghARN + `"},"NotAction":"sts:AssumeRoleWithWebIdentity"}}`, policy.ImplicitDeny, "NotAction"},
		{"an explicit Deny wins", `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + ghARN + `"},"Action":"sts:*"},
			{"Sid":"NoPRs","Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + gh + `:sub":"repo:Acme/*"}}}]}`, policy.ExplicitDeny, "explicit Deny"},
		{"a Deny whose condition fails does not apply", `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + ghARN + `"},"Action":"sts:*"},
			{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + gh + `:sub":"*:pull_request"}}}]}`, policy.Allow, ""},
		{"only Deny statements refuse implicitly", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + gh + `:sub":"*:pull_request"}}}]}`, policy.ImplicitDeny, "no Allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := policy.Parse([]byte(tt.policy))
			if err != nil {
				t.Fatal(err)
			}
			res := d.Evaluate(policy.NewRequest(ghClaims(main, nil), account))
			if res.Decision != tt.want {
				t.Fatalf("decision = %s, want %s; %v", res.Decision, tt.want, res.Failures())
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

func TestFailuresNameTheConditionWithBothValues(t *testing.T) {
	tests := []struct {
		name      string
		condition string
		sub       string
		extra     map[string]string
		aud       string
		want      []string
	}{
		{"environment sub against a ref pattern", `{"StringLike":{"` + gh + `:sub":"repo:Acme/app:ref:refs/heads/*"}}`,
			"repo:Acme/app:environment:prod", map[string]string{"environment": "prod"}, "",
			[]string{`StringLike "token.actions.githubusercontent.com:sub"`, `"repo:Acme/app:environment:prod"`, `"repo:Acme/app:ref:refs/heads/*"`, "names the environment"}},
		{"pull_request sub", `{"StringEquals":{"` + gh + `:sub":"repo:Acme/app:ref:refs/heads/main"}}`,
			"repo:Acme/app:pull_request", nil, "", []string{"pull_request workflow"}},
		// Repositories created, renamed or transferred on or after 15 July
		// 2026 get the immutable sub with IDs (configure-aws-credentials
		// README), so a policy written for one form refuses the other.
		{"an immutable sub against a classic pattern", `{"StringLike":{"` + gh + `:sub":"repo:Acme/app:*"}}`,
			"repo:Acme@1234567/app@7654321:ref:refs/heads/main", nil, "", []string{"immutable form", `allow "repo:Acme@1234567/app@7654321:ref:refs/heads/main"`}},
		{"a classic sub against an immutable pattern", `{"StringEquals":{"` + gh + `:sub":"repo:Acme@1234567/app@7654321:ref:refs/heads/main"}}`,
			"repo:Acme/app:ref:refs/heads/main", nil, "", []string{"carry the classic one"}},
		{"owner case", `{"StringLike":{"` + gh + `:sub":"repo:acme/app:*"}}`,
			"repo:Acme/app:ref:refs/heads/main", nil, "", []string{"differ only in case"}},
		{"wildcard under StringEquals", `{"StringEquals":{"` + gh + `:sub":"repo:Acme/app:*"}}`,
			"repo:Acme/app:ref:refs/heads/main", nil, "", []string{"use StringLike"}},
		{"audience", `{"StringEquals":{"` + gh + `:aud":"sts.amazonaws.com"}}`,
			"repo:Acme/app:ref:refs/heads/main", nil, "https://github.com/Acme", []string{`"https://github.com/Acme"`, "another audience"}},
		{"missing environment", `{"StringEquals":{"` + gh + `:environment":"prod"}}`,
			"repo:Acme/app:ref:refs/heads/main", nil, "", []string{"absent", "no environment claim"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ghClaims(tt.sub, tt.extra)
			if tt.aud != "" {
				c.Audience = []string{tt.aud}
			}
			res := doc(t, tt.condition).Evaluate(policy.NewRequest(c, account))
			fs := res.Failures()
			if len(fs) != 1 {
				t.Fatalf("failures = %v, want exactly one", fs)
			}
			for _, w := range tt.want {
				if !strings.Contains(fs[0].String(), w) {
					t.Errorf("%q lacks %q", fs[0].String(), w)
				}
			}
		})
	}
}

func TestAudienceKeyIsAzpWhenPresent(t *testing.T) {
	c := ghClaims("x", map[string]string{"azp": "client-1"})
	c.Audience = []string{"api://thing"}
	r := policy.NewRequest(c, account)
	if got := r.Lookup(gh + ":aud"); len(got) != 1 || got[0] != "client-1" {
		t.Errorf("aud = %v, want [client-1]", got)
	}
	if got := r.Lookup(gh + ":oaud"); len(got) != 1 || got[0] != "api://thing" {
		t.Errorf("oaud = %v, want [api://thing]", got)
	}
}

func TestParseRefusesWhatIAMRefuses(t *testing.T) {
	for _, p := range []string{
		`[]`,
		`{"Version":"2012-10-17"}`,
		`{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"someone","Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"k":{"nested":1}}}}}`,
	} {
		if _, err := policy.Parse([]byte(p)); err == nil {
			t.Errorf("Parse(%s) succeeded, want an error", p)
		}
	}
}

func TestSuggestionMatchesTheToken(t *testing.T) {
	c := ghClaims("repo:Acme/app:environment:prod", map[string]string{"environment": "prod"})
	s := policy.Suggest(c, account)
	if s.Federated != ghARN {
		t.Errorf("federated = %s", s.Federated)
	}
	for _, cond := range []map[string]map[string]string{s.Condition, s.Broader} {
		var b strings.Builder
		b.WriteString("{")
		first := true
		for op, kv := range cond {
			if len(kv) == 0 {
				continue
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(`"` + op + `":{`)
			i := 0
			for k, v := range kv {
				if i > 0 {
					b.WriteString(",")
				}
				i++
				b.WriteString(`"` + k + `":"` + v + `"`)
			}
			b.WriteString("}")
		}
		b.WriteString("}")
		if res := doc(t, b.String()).Evaluate(policy.NewRequest(c, account)); !res.Allowed() {
			t.Errorf("suggested %s does not allow the token: %v", b.String(), res.Failures())
		}
	}
}

func TestLike(t *testing.T) {
	for _, tt := range []struct {
		p, v string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"*", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abbb", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*b*", "aaabaaa", true}, {"**", "x", true},
		{"a*b*c", "aXbYbZc", true}, {"a*b*c", "aXbYbZ", false}, {"?", "é", true},
	} {
		if got := policy.Like(tt.p, tt.v, false); got != tt.want {
			t.Errorf("Like(%q, %q) = %v, want %v", tt.p, tt.v, got, tt.want)
		}
	}
}
