package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
)

// FuzzEvaluate feeds arbitrary trust policies and claims to the evaluator:
// Parse never panics; a parsed policy evaluates without panicking to Allow
// or not, a denial always names at least one failure, and the document
// marshals to JSON that parses again.
func FuzzEvaluate(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+ghARN+`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"`+gh+`:aud":"sts.amazonaws.com"},"StringLike":{"`+gh+`:sub":"repo:Acme/*"}}}]}`,
		"repo:Acme/app:ref:refs/heads/main", "sts.amazonaws.com", "Acme/app")
	f.Add(`{"Statement":{"Effect":"Deny","Principal":"*","Action":["sts:*"],"Condition":{"ForAnyValue:StringLike":{"`+gh+`:aud":["a*","?b"]},"Null":{"`+gh+`:environment":"true"}}}}`,
		"x", "ab", "")
	f.Add(`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"NotAction":"s3:*","Condition":{"StringNotEqualsIgnoreCase":{"`+gh+`:sub":"REPO"}}}]}`, "repo", "", "")
	f.Add(`{}`, "", "", "")
	f.Add(`[`, "", "", "")
	f.Fuzz(func(t *testing.T, doc, sub, aud, repo string) {
		d, err := policy.Parse([]byte(doc))
		if err != nil {
			if d != nil {
				t.Fatalf("Parse returned a document and an error %v", err)
			}
			return
		}
		claims := daemon.Claims{
			Issuer: "https://" + gh, Subject: sub, Audience: []string{aud},
			Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
			Extra:  map[string]string{"repository": repo},
		}
		res := d.Evaluate(policy.NewRequest(claims, account))
		if !res.Allowed() && len(res.Failures()) == 0 {
			t.Fatalf("denied (%s) without naming a failure", res.Decision)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal a parsed document: %v", err)
		}
		if _, err := policy.Parse(out); err != nil {
			t.Fatalf("the marshalled document %s does not parse again: %v", out, err)
		}
	})
}
