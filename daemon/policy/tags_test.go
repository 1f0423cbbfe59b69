package policy_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
)

// bridgeTags is the session-tags claim credd-bridge puts in its tokens, in
// the shape of the IAM User Guide's example ("Passing session tags using
// AssumeRoleWithWebIdentity", id_session-tags.html).
const bridgeTags = `{"principal_tags":{"github-user":["octocat"],"github-repository":["Acme/app"],
	"github-owner":["Acme"],"github-permission":["push"]},
	"transitive_tag_keys":["github-user","github-repository","github-owner"]}`

func TestParseSessionTagsReadsTheClaimInOrder(t *testing.T) {
	tags, err := policy.ParseSessionTags(json.RawMessage(bridgeTags))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tags.String(), "github-user=octocat, github-repository=Acme/app, github-owner=Acme, github-permission=push (transitive: github-user, github-repository, github-owner)"; got != want {
		t.Errorf("tags = %s\nwant %s", got, want)
	}
	if v, ok := tags.Value("GitHub-User"); !ok || v != "octocat" {
		t.Errorf("Value is case-insensitive in the key: got %q, %v", v, ok)
	}
	if n := tags.PackedSize(); n <= 0 || n > 100 {
		t.Errorf("PackedSize = %d, want a percentage well within 100", n)
	}
}

// The rules are IAM's ("Pass session tags in AWS STS", the STS API
// reference's Tag type, and "Rules for tagging in IAM and AWS STS").
func TestParseSessionTagsRefusesWhatIAMRefuses(t *testing.T) {
	many := map[string][]string{}
	for i := range 51 {
		many[strings.Repeat("k", 1)+string(rune('A'+i%26))+strings.Repeat("x", i/26)] = []string{"v"}
	}
	manyJSON, _ := json.Marshal(map[string]any{"principal_tags": many})
	tests := []struct {
		name, claim, want string
	}{
		{"a claim that is not an object", `["x"]`, "not an object"},
		{"principal_tags that is not an object", `{"principal_tags":["a"]}`, "principal_tags"},
		{"more than 50 tags", string(manyJSON), "51 session tags"},
		{"a value that is not a list", `{"principal_tags":{"team":"dev"}}`, "list holding one string"},
		{"a multivalued tag", `{"principal_tags":{"team":["dev","ops"]}}`, "2 values"},
		{"an empty key", `{"principal_tags":{"":["x"]}}`, "empty"},
		{"a key over 128 characters", `{"principal_tags":{"` + strings.Repeat("k", 129) + `":["x"]}}`, "129 characters"},
		{"a value over 256 characters", `{"principal_tags":{"k":["` + strings.Repeat("v", 257) + `"]}}`, "257 characters"},
		{"a character outside the allowed set", `{"principal_tags":{"k":["a#b"]}}`, "character outside"},
		{"the reserved aws: prefix", `{"principal_tags":{"aws:team":["x"]}}`, "aws:"},
		{"keys that differ only in case", `{"principal_tags":{"Team":["a"],"team":["b"]}}`, "more than case"},
		{"a key written twice", `{"principal_tags":{"team":["a"],"team":["b"]}}`, "more than case"},
		{"a transitive key that is not a tag", `{"principal_tags":{"team":["a"]},"transitive_tag_keys":["project"]}`, `"project" is not among`},
		{"transitive keys that are not strings", `{"principal_tags":{"team":["a"]},"transitive_tag_keys":"team"}`, "list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.ParseSessionTags(json.RawMessage(tt.claim))
			if !errors.Is(err, policy.ErrSessionTags) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrSessionTags mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("the limits themselves are allowed", func(t *testing.T) {
		claim := `{"principal_tags":{"` + strings.Repeat("k", 128) + `":["` + strings.Repeat("v", 256) + `"],"e":[""],"Dép art_.:/=+-@1":["Ünïcode ok"]}}`
		if _, err := policy.ParseSessionTags(json.RawMessage(claim)); err != nil {
			t.Error(err)
		}
	})
}

func TestPackedSizeGrowsWithTheTagsAndPassesOneHundred(t *testing.T) {
	small, _ := policy.ParseSessionTags(json.RawMessage(`{"principal_tags":{"a":["b"]}}`))
	tags := map[string][]string{}
	for _, k := range []string{"one", "two", "three", "four", "five"} {
		tags[k] = []string{strings.Repeat("v", 200)}
	}
	b, _ := json.Marshal(map[string]any{"principal_tags": tags})
	big, err := policy.ParseSessionTags(b)
	if err != nil {
		t.Fatal(err)
	}
	if small.PackedSize() >= big.PackedSize() || big.PackedSize() <= 100 {
		t.Errorf("PackedSize: small %d, big %d; want small < big and big > 100", small.PackedSize(), big.PackedSize())
	}
}

const (
	bridgeIssuer = "https://bridge.example.com"
	bridgeProv   = "bridge.example.com"
	bridgeARN    = "arn:aws:iam::123456789012:oidc-provider/bridge.example.com"
)

func bridgeRequest(t *testing.T) policy.Request {
	t.Helper()
	tags, err := policy.ParseSessionTags(json.RawMessage(bridgeTags))
	if err != nil {
		t.Fatal(err)
	}
	c := daemon.Claims{Issuer: bridgeIssuer, Subject: "repo:Acme/app:user:octocat", Audience: []string{"sts.amazonaws.com"},
		Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Extra:  map[string]string{"repository": "Acme/app", "actor": "octocat", "token_kind": "app-user", "repository_permission": "push"}}
	return policy.NewRequest(c, account).WithSessionTags(tags)
}

func bridgeDoc(t *testing.T, actions, condition string) *policy.Document {
	t.Helper()
	d, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Bridge","Effect":"Allow",
		"Principal":{"Federated":"` + bridgeARN + `"},"Action":` + actions + `,"Condition":` + condition + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSessionTagsNeedTagSessionToo(t *testing.T) {
	both := `["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`
	subOK := `{"StringEquals":{"` + bridgeProv + `:aud":"sts.amazonaws.com"},"StringLike":{"` + bridgeProv + `:sub":"repo:Acme/*:user:*"}}`
	tests := []struct {
		name, actions, condition string
		want                     policy.Decision
		wantWhat, wantNote       string
	}{
		{"both actions allowed", both, subOK, policy.Allow, "", ""},
		{"sts:* covers both", `"sts:*"`, subOK, policy.Allow, "", ""},
		{"without sts:TagSession the request is refused, saying what to add", `"sts:AssumeRoleWithWebIdentity"`, subOK, policy.ImplicitDeny,
			"Action", "the trust policy does not allow sts:TagSession, which AWS requires when the token carries session tags: add it to the statement's Action"},
		{"aws:RequestTag is a condition key", both, `{"StringEquals":{"aws:RequestTag/github-repository":"Acme/app"}}`, policy.Allow, "", ""},
		{"a tag key in the condition is case-insensitive", both, `{"StringEquals":{"aws:requesttag/GitHub-Owner":"Acme"}}`, policy.Allow, "", ""},
		{"a wrong tag value is named", both, `{"StringEquals":{"aws:RequestTag/github-owner":"Other"}}`, policy.ImplicitDeny,
			`StringEquals "aws:RequestTag/github-owner"`, ""},
		{"a tag the token lacks is named", both, `{"StringEquals":{"aws:RequestTag/team":"dev"}}`, policy.ImplicitDeny,
			`StringEquals "aws:RequestTag/team"`, `the token carries no session tag "team"`},
		{"aws:TagKeys lists the keys", both, `{"ForAllValues:StringEquals":{"aws:TagKeys":["github-user","github-repository","github-owner","github-permission"]}}`, policy.Allow, "", ""},
		{"aws:TagKeys refuses an unlisted key", both, `{"ForAllValues:StringEquals":{"aws:TagKeys":["github-user"]}}`, policy.ImplicitDeny, `ForAllValues:StringEquals "aws:TagKeys"`, ""},
		{"sts:TransitiveTagKeys lists the transitive keys", both, `{"ForAllValues:StringEquals":{"sts:TransitiveTagKeys":["github-user","github-repository","github-owner"]}}`, policy.Allow, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := bridgeDoc(t, tt.actions, tt.condition).Evaluate(bridgeRequest(t))
			if res.Decision != tt.want {
				t.Fatalf("decision = %s, want %s; failures %v", res.Decision, tt.want, res.Failures())
			}
			if res.TagSession == nil {
				t.Fatal("no sts:TagSession evaluation for a request with tags")
			}
			fs := res.Failures()
			if tt.wantWhat == "" {
				if len(fs) != 0 {
					t.Errorf("failures = %v, want none", fs)
				}
				return
			}
			if len(fs) == 0 || fs[0].What != tt.wantWhat || !strings.Contains(fs[0].Note, tt.wantNote) {
				t.Errorf("failures = %v, want first %q with note %q", fs, tt.wantWhat, tt.wantNote)
			}
		})
	}
}

func TestAnExplicitDenyOfTagSessionWins(t *testing.T) {
	d, err := policy.Parse([]byte(`{"Statement":[
		{"Effect":"Allow","Principal":{"Federated":"` + bridgeARN + `"},"Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"]},
		{"Sid":"NoTags","Effect":"Deny","Principal":"*","Action":"sts:TagSession"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := d.Evaluate(bridgeRequest(t))
	if res.Decision != policy.ExplicitDeny {
		t.Fatalf("decision = %s, want ExplicitDeny", res.Decision)
	}
	if fs := res.Failures(); len(fs) != 1 || fs[0].Statement != "statement 2 (NoTags)" {
		t.Errorf("failures = %v, want the Deny statement", fs)
	}
}

func TestWithoutTagsTagSessionIsNotEvaluated(t *testing.T) {
	req := bridgeRequest(t)
	req.SessionTags = nil
	res := bridgeDoc(t, `"sts:AssumeRoleWithWebIdentity"`, `{}`).Evaluate(req)
	if !res.Allowed() || res.TagSession != nil {
		t.Errorf("decision %s, TagSession %v; want Allow without a TagSession evaluation", res.Decision, res.TagSession)
	}
}

// A generic OIDC provider such as the bridge has only the keys amr, aud,
// email, oaud and sub (see keys.go): a condition on its repository claim
// can never match, and the note points to sub and to the session tags.
func TestABridgeConditionOnAClaimKeyPointsToSubAndTheTags(t *testing.T) {
	res := bridgeDoc(t, `["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`,
		`{"StringEquals":{"`+bridgeProv+`:repository":"Acme/app"}}`).Evaluate(bridgeRequest(t))
	fs := res.Failures()
	if len(fs) != 1 || !fs[0].KeyUnavailable {
		t.Fatalf("failures = %v, want one on an unavailable key", fs)
	}
	for _, want := range []string{`"repo:Acme/app:*"`, "aws:RequestTag/KEY", "github-repository"} {
		if !strings.Contains(fs[0].Note, want) {
			t.Errorf("note %q lacks %q", fs[0].Note, want)
		}
	}
}
