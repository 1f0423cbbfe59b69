package sandbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/credd-dev/credd/daemon/policy"
)

// bridgeTagsClaim is credd-bridge's session-tags claim, in the format of
// the IAM User Guide's "Passing session tags using AssumeRoleWithWebIdentity"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_adding-assume-role-idp).
func bridgeTagsClaim() map[string]any {
	return map[string]any{
		"principal_tags": map[string]any{
			"github-user": []string{"octocat"}, "github-repository": []string{"credd-dev/demo"},
			"github-owner": []string{"credd-dev"}, "github-permission": []string{"push"},
		},
		"transitive_tag_keys": []string{"github-user", "github-repository", "github-owner"},
	}
}

// tagTrust is a trust policy for the sandbox issuer allowing actions, with
// extra conditions merged into its StringLike sub condition's block.
func tagTrust(sb *Sandbox, actions, extraConditions string) string {
	prov := policy.ProviderName(sb.IssuerURL)
	cond := `"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"},"StringLike":{"` + prov + `:sub":"repo:credd-dev/*"}`
	if extraConditions != "" {
		cond += "," + extraConditions
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	 "Principal":{"Federated":"` + policy.ProviderARN(DefaultAccountID, sb.IssuerURL) + `"},
	 "Action":` + actions + `,"Condition":{` + cond + `}}]}`
}

func TestSessionTagsAreAcceptedWithTagSessionAndKeptWithTheSession(t *testing.T) {
	sb := startSandbox(t, Options{})
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, tagTrust(sb, `["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`,
		`"ForAllValues:StringEquals":{"aws:TagKeys":["github-user","github-repository","github-owner","github-permission"]}`)); err != nil {
		t.Fatal(err)
	}
	out, err := assumeRole(t.Context(), sb, mintToken(t, sb, map[string]any{policy.SessionTagsClaim: bridgeTagsClaim()}), 0)
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	if packedPolicySize(out) == nil || *packedPolicySize(out) <= 0 || *packedPolicySize(out) > 100 {
		t.Errorf("PackedPolicySize = %v, want a percentage for the tags", packedPolicySize(out))
	}
	c := out.Credentials
	id, err := stsClient(sb, credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)).
		GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || *id.Arn != *out.AssumedRoleUser.Arn {
		t.Fatalf("GetCallerIdentity = %v, %v; want the assumed role", id, err)
	}
	sb.STS.mu.Lock()
	sess := sb.STS.sessions[*c.AccessKeyId]
	sb.STS.mu.Unlock()
	if sess == nil || sess.tags == nil || sess.tags.String() != "github-owner=credd-dev, github-permission=push, github-repository=credd-dev/demo, github-user=octocat (transitive: github-user, github-repository, github-owner)" {
		t.Errorf("the session keeps tags %v", sess.tags)
	}
}

func TestATokenWithoutTagsHasNoPackedPolicySize(t *testing.T) {
	sb := startSandbox(t, Options{})
	out, err := assumeRole(t.Context(), sb, mintToken(t, sb, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if packedPolicySize(out) != nil {
		t.Errorf("PackedPolicySize = %d, want none without tags or a session policy", *packedPolicySize(out))
	}
}

// "The AssumeRole operation will fail for any role connected to an IdP
// that is passing session tags without [sts:TagSession]" (id_session-tags.html,
// "Permissions required to add session tags"); STS says only AccessDenied.
func TestSessionTagsWithoutTagSessionAreAccessDenied(t *testing.T) {
	sb := startSandbox(t, Options{})
	tagged := mintToken(t, sb, map[string]any{policy.SessionTagsClaim: bridgeTagsClaim()})
	t.Run("the default role allows only sts:AssumeRoleWithWebIdentity", func(t *testing.T) {
		_, err := assumeRole(t.Context(), sb, tagged, 0)
		if errorCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "Not authorized to perform sts:AssumeRoleWithWebIdentity") {
			t.Errorf("err = %v, want AccessDenied", err)
		}
	})
	for _, tt := range []struct {
		name, actions, extra, want string
	}{
		{"a condition on aws:RequestTag that matches", `["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`, `"StringEqualsIgnoreCase":{"aws:RequestTag/github-permission":"PUSH"}`, ""},
		{"a condition on aws:RequestTag that does not", `["sts:AssumeRoleWithWebIdentity","sts:TagSession"]`, `"StringEqualsIgnoreCase":{"aws:RequestTag/github-permission":"admin"}`, "AccessDenied"},
		{"a wildcard action covers sts:TagSession", `"sts:*"`, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := sb.STS.SetTrustPolicy(DefaultRoleARN, tagTrust(sb, tt.actions, tt.extra)); err != nil {
				t.Fatal(err)
			}
			if _, err := assumeRole(t.Context(), sb, tagged, 0); errorCode(err) != tt.want {
				t.Errorf("err = %v, want code %q", err, tt.want)
			}
		})
	}
}

func TestSessionTagsThatBreakIAMsRulesAreRefusedAsAWSDoes(t *testing.T) {
	sb := startSandbox(t, Options{})
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, tagTrust(sb, `"sts:*"`, "")); err != nil {
		t.Fatal(err)
	}
	longTags := map[string]any{}
	for _, k := range []string{"one", "two", "three", "four", "five"} {
		longTags[k] = []string{strings.Repeat("v", 250)}
	}
	for _, tt := range []struct {
		name      string
		claim     any
		code, msg string
	}{
		// ValidationError "Unable to validate tags": hashicorp/terraform-provider-aws#44712
		// (AssumeRoleWithWebIdentity); that every rule gets these words is credd's reading.
		{"a value over 256 characters", map[string]any{"principal_tags": map[string]any{"team": []string{strings.Repeat("x", 257)}}}, "ValidationError", "Unable to validate tags"},
		{"a multivalued tag", map[string]any{"principal_tags": map[string]any{"team": []string{"a", "b"}}}, "ValidationError", "Unable to validate tags"},
		{"a transitive key that is no tag", map[string]any{"principal_tags": map[string]any{"team": []string{"a"}}, "transitive_tag_keys": []string{"x"}}, "ValidationError", "Unable to validate tags"},
		{"a claim that is not an object", "team=a", "ValidationError", "Unable to validate tags"},
		// aws-actions/configure-aws-credentials#1803 and #1898.
		{"tags too large when packed", map[string]any{"principal_tags": longTags}, "PackedPolicyTooLarge", "Packed size of session tags consumes 248% of allotted space."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := assumeRole(t.Context(), sb, mintToken(t, sb, map[string]any{policy.SessionTagsClaim: tt.claim}), 0)
			if errorCode(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %s: %s", err, tt.code, tt.msg)
			}
		})
	}
}

// The packed size the answer reports is the one PackedPolicyTooLarge
// would report, so both come from one estimate.
func TestPackedPolicySizeIsTheTagsEstimate(t *testing.T) {
	raw, _ := json.Marshal(bridgeTagsClaim())
	tags, err := policy.ParseSessionTags(raw)
	if err != nil {
		t.Fatal(err)
	}
	sb := startSandbox(t, Options{})
	if err := sb.STS.SetTrustPolicy(DefaultRoleARN, tagTrust(sb, `"sts:*"`, "")); err != nil {
		t.Fatal(err)
	}
	out, err := assumeRole(t.Context(), sb, mintToken(t, sb, map[string]any{policy.SessionTagsClaim: bridgeTagsClaim()}), 0)
	if err != nil {
		t.Fatal(err)
	}
	if *packedPolicySize(out) != int32(tags.PackedSize()) {
		t.Errorf("PackedPolicySize = %d, want %d", *packedPolicySize(out), tags.PackedSize())
	}
}

// packedPolicySize reads the answer's PackedPolicySize. aws-sdk-go-v2's
// STS model (service/sts v1.52.0) marks it deprecated in favour of
// SessionTokenUtilization; the API reference still documents it, and it is
// the field this emulator reports.
func packedPolicySize(out *sts.AssumeRoleWithWebIdentityOutput) *int32 {
	//lint:ignore SA1019 the emulator reports PackedPolicySize for session tags, as STS documents it
	return out.PackedPolicySize
}
