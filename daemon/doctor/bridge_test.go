package doctor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/sts"
)

const (
	bridgeIssuer   = "https://abc123.lambda-url.eu-west-1.on.aws"
	bridgeProvider = "abc123.lambda-url.eu-west-1.on.aws"
	bridgeARN      = "arn:aws:iam::123456789012:oidc-provider/" + bridgeProvider
)

// fromBridge gives the role a credd-bridge token's claims (the contract's).
func fromBridge(f *Facts) {
	r := &f.Status.Roles[0]
	r.TokenSource = "github"
	r.Claims = &daemon.Claims{Issuer: bridgeIssuer, Subject: "repo:Acme/app:user:octocat", Audience: []string{"sts.amazonaws.com"},
		Expiry: now.Add(4 * time.Minute), Extra: map[string]string{
			"actor": "octocat", "actor_id": "583231", "repository": "Acme/app", "repository_id": "42",
			"repository_owner": "Acme", "repository_owner_id": "7", "repository_permission": "push", "token_kind": "app-user",
		}}
}

func bridgePolicy(actions, condition string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"Bridge","Effect":"Allow",
	 "Principal":{"Federated":"` + bridgeARN + `"},"Action":` + actions + `,"Condition":` + condition + `}]}`
}

func TestABridgeTokensClaimsShowItsRepositoryPermissionAndSessionTags(t *testing.T) {
	f := facts(fromBridge)
	rep := Diagnose(f)
	i := slices.IndexFunc(rep.Checks, func(c Check) bool { return c.Name == "token claims" })
	if i < 0 {
		t.Fatal("no token claims check")
	}
	got := strings.Join(rep.Checks[i].Detail, "\n")
	for _, want := range []string{
		"sub repo:Acme/app:user:octocat",
		"repository Acme/app, actor octocat, repository_permission push, token_kind app-user",
		"session tags github-user=octocat, github-repository=Acme/app, github-owner=Acme, github-permission=push (transitive: github-user, github-repository, github-owner), as credd-bridge sets them",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("claims lack %q:\n%s", want, got)
		}
	}
}

func TestAGitHubActionsTokenHasNoSessionTags(t *testing.T) {
	if tags, _ := SessionTagsOf(*healthy().Status.Roles[0].Claims); tags != nil {
		t.Errorf("tags = %v, want none", tags)
	}
}

func TestSessionTagsComeFromTheTokenWhenTheClaimsCarryThem(t *testing.T) {
	c := daemon.Claims{Subject: "x", Extra: map[string]string{policy.SessionTagsClaim: `{"principal_tags":{"team":["dev"]}}`}}
	tags, derived := SessionTagsOf(c)
	if tags == nil || derived || tags.String() != "team=dev" {
		t.Errorf("tags = %v (derived %v), want the token's team=dev", tags, derived)
	}
}

func TestTrustPolicyForABridgeTokenChecksTagSession(t *testing.T) {
	denied := failing(sts.CodeAccessDenied, daemon.StageSTS, "the role's trust policy does not accept this token")
	subLike := `{"StringEquals":{"` + bridgeProvider + `:aud":"sts.amazonaws.com"},"StringLike":{"` + bridgeProvider + `:sub":"repo:Acme/*:user:*"}}`
	tests := []struct {
		name      string
		doc       string
		wantTrust policy.Decision
		wantFix   string
	}{
		{"a policy with both actions allows it", bridgePolicy(`["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`, subLike), policy.Allow, ""},
		{"a policy without sts:TagSession says to add it", bridgePolicy(`"sts:AssumeRoleWithWebIdentity"`, subLike), policy.ImplicitDeny,
			"in statement 1 (Bridge) of the trust policy, change Action to match the token: the trust policy does not allow sts:TagSession, which AWS requires when the token carries session tags: add it to the statement's Action"},
		{"a condition on the bridge's repository claim can never match", bridgePolicy(`["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`,
			`{"StringEquals":{"`+bridgeProvider+`:repository":"Acme/app"}}`), policy.ImplicitDeny,
			`replace StringEquals "` + bridgeProvider + `:repository": IAM cannot evaluate this condition for this provider; STS will refuse: IAM provides only the keys amr, aud, email, oaud, sub for ` + bridgeProvider},
		{"a condition on a session tag works", bridgePolicy(`["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`,
			`{"StringEquals":{"aws:RequestTag/github-repository":"Acme/app"}}`), policy.Allow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Diagnose(facts(fromBridge, denied, notServing, withPolicy(t, tt.doc)))
			if rep.TrustPolicy == nil || rep.TrustPolicy.Decision != tt.wantTrust {
				t.Fatalf("trust policy = %+v, want %s", rep.TrustPolicy, tt.wantTrust)
			}
			if tt.wantFix == "" {
				return
			}
			if len(rep.Actions) == 0 || !strings.Contains(rep.Actions[0], tt.wantFix) {
				t.Errorf("first action:\n got %q\nwant it to contain %q", rep.Actions, tt.wantFix)
			}
		})
	}
}
