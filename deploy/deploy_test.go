// Package deploy_test holds the CloudFormation template a platform team
// applies to its standard: it reads, it lints, and its example role trusts
// exactly the bridge tokens it should.
package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/credd-dev/credd/daemon/doctor"
	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/token"
)

const templateFile = "credd-bridge.yaml"

func readTemplate(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseYAML(string(b))
	if err != nil {
		t.Fatalf("%s: %v", templateFile, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a mapping", templateFile)
	}
	return m
}

// at walks a path of mapping keys and sequence indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %v is not a mapping", path, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("at %v: no %q", path, k)
			}
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				t.Fatalf("at %v: no item %d", path, k)
			}
			v = s[k]
		}
	}
	return v
}

func TestTemplatePassesCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed, so the template is not linted: install it (see deploy/README.md, Linting the template)")
	}
	out, err := exec.Command(lint, "--", templateFile).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", templateFile, err, out)
	}
}

// The template has what deploy/README.md and the bridge need, spelled as
// CloudFormation spells it.
func TestTemplateHasTheBridgeItsKeyItsProviderAndARole(t *testing.T) {
	tpl := readTemplate(t)
	res := at(t, tpl, "Resources").(map[string]any)
	wantTypes := map[string]string{
		"SigningKey": "AWS::KMS::Key", "FunctionRole": "AWS::IAM::Role", "FunctionKeyPolicy": "AWS::IAM::RolePolicy",
		"BridgeFunction": "AWS::Lambda::Function", "BridgeUrl": "AWS::Lambda::Url",
		"PublicInvokeUrl": "AWS::Lambda::Permission", "PublicInvokeViaUrl": "AWS::Lambda::Permission",
		"BridgeProvider": "AWS::IAM::OIDCProvider", "CodespacesRole": "AWS::IAM::Role",
	}
	for name, typ := range wantTypes {
		if got := at(t, res, name, "Type"); got != typ {
			t.Errorf("%s is %v, want %s", name, got, typ)
		}
	}
	for _, c := range []struct {
		path []any
		want string
	}{
		{[]any{"SigningKey", "Properties", "KeySpec"}, "RSA_2048"},
		{[]any{"SigningKey", "Properties", "KeyUsage"}, "SIGN_VERIFY"},
		{[]any{"BridgeFunction", "Properties", "Runtime"}, "provided.al2023"},
		{[]any{"BridgeFunction", "Properties", "Handler"}, "bootstrap"},
		{[]any{"BridgeFunction", "Properties", "Architectures", 0}, "arm64"},
		{[]any{"BridgeUrl", "Properties", "AuthType"}, "NONE"},
		{[]any{"PublicInvokeUrl", "Properties", "Action"}, "lambda:InvokeFunctionUrl"},
		{[]any{"PublicInvokeUrl", "Properties", "FunctionUrlAuthType"}, "NONE"},
		{[]any{"PublicInvokeViaUrl", "Properties", "Action"}, "lambda:InvokeFunction"},
		{[]any{"PublicInvokeViaUrl", "Properties", "InvokedViaFunctionUrl"}, "true"},
		{[]any{"BridgeProvider", "Properties", "ClientIdList", 0}, "sts.amazonaws.com"},
		{[]any{"CodespacesRole", "Properties", "MaxSessionDuration"}, "3600"},
	} {
		if got := at(t, res, c.path...); got != c.want {
			t.Errorf("%v = %v, want %s", c.path, got, c.want)
		}
	}
	// The function may only sign and read the public key.
	stmts := at(t, res, "SigningKey", "Properties", "KeyPolicy", "Statement").([]any)
	if got := at(t, stmts[1], "Action"); !slices.Equal(got.([]any), []any{"kms:Sign", "kms:GetPublicKey"}) {
		t.Errorf("the function's key statement allows %v", got)
	}
	env := at(t, res, "BridgeFunction", "Properties", "Environment", "Variables").(map[string]any)
	for _, k := range []string{"CREDD_BRIDGE_KMS_KEY_ID", "CREDD_BRIDGE_ALLOW", "CREDD_BRIDGE_MIN_PERMISSION"} {
		if _, ok := env[k]; !ok {
			t.Errorf("the function's environment lacks %s", k)
		}
	}
	if _, ok := env["CREDD_BRIDGE_ISSUER"]; ok {
		t.Error("CREDD_BRIDGE_ISSUER is set: the function URL cannot be in its own function's environment")
	}
	for _, out := range []string{"BridgeUrl", "Issuer", "RoleArn", "DevcontainerSnippet"} {
		at(t, tpl, "Outputs", out, "Value")
	}
	// Every Ref and GetAtt names a parameter, a resource or a pseudo parameter.
	names := map[string]bool{"AWS::AccountId": true, "AWS::Partition": true, "AWS::Region": true, "AWS::StackName": true}
	for n := range at(t, tpl, "Parameters").(map[string]any) {
		names[n] = true
	}
	for n := range res {
		names[n] = true
	}
	walk(tpl, func(m map[string]any) {
		if ref, ok := m["Ref"].(string); ok && !names[ref] {
			t.Errorf("!Ref %s names nothing", ref)
		}
		if ga, ok := m["Fn::GetAtt"].([]any); ok && !names[ga[0].(string)] {
			t.Errorf("!GetAtt %v names nothing", ga)
		}
	})
}

func walk(v any, visit func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		visit(v)
		for _, x := range v {
			walk(x, visit)
		}
	case []any:
		for _, x := range v {
			walk(x, visit)
		}
	}
}

// The provider's URL is the function URL's domain after https://, without
// the trailing slash FunctionUrl has: IAM matches the token's iss exactly.
func TestTheProviderURLIsTheIssuerWithoutATrailingSlash(t *testing.T) {
	tpl := readTemplate(t)
	url := at(t, tpl, "Resources", "BridgeProvider", "Properties", "Url")
	domain := map[string]any{"Fn::Select": []any{"2", map[string]any{"Fn::Split": []any{"/", map[string]any{"Fn::GetAtt": []any{"BridgeUrl", "FunctionUrl"}}}}}}
	want := map[string]any{"Fn::Join": []any{"", []any{"https://", domain}}}
	if !equalJSON(url, want) {
		t.Errorf("provider Url = %v, want %v", url, want)
	}
	if issuer := at(t, tpl, "Outputs", "Issuer", "Value"); !equalJSON(issuer, want) {
		t.Errorf("the Issuer output %v is not the provider's Url", issuer)
	}
	// What the !Select/!Split yields for a real function URL.
	const fnURL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/"
	if got := "https://" + strings.Split(fnURL, "/")[2]; got != strings.TrimSuffix(fnURL, "/") {
		t.Errorf("split gives %s", got)
	}
}

func equalJSON(a, b any) bool { return strings.EqualFold(dump(a), dump(b)) }

func dump(v any) string {
	var buf bytes.Buffer
	var rec func(any)
	rec = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			buf.WriteString("{")
			for _, k := range keys {
				buf.WriteString(k + ":")
				rec(v[k])
				buf.WriteString(",")
			}
			buf.WriteString("}")
		case []any:
			buf.WriteString("[")
			for _, x := range v {
				rec(x)
				buf.WriteString(",")
			}
			buf.WriteString("]")
		default:
			buf.WriteString(v.(string))
		}
	}
	rec(v)
	return buf.String()
}

const (
	account = "123456789012"
	org     = "Acme"
)

// examplePolicy is the example role's trust policy as CloudFormation
// would make it for a bridge at issuerURL: the template's Fn::Sub string
// with the provider's ARN and name and the organization filled in.
func examplePolicy(t *testing.T, issuerURL string) string {
	t.Helper()
	sub := at(t, readTemplate(t), "Resources", "CodespacesRole", "Properties", "AssumeRolePolicyDocument", "Fn::Sub").([]any)
	text := sub[0].(string)
	if _, ok := at(t, sub[1], "Provider").(map[string]any); !ok {
		t.Fatal("the trust policy's ${Provider} is not derived from the function URL")
	}
	vars := map[string]string{
		"BridgeProvider":     policy.ProviderARN(account, issuerURL), // Ref of an AWS::IAM::OIDCProvider is its ARN
		"Provider":           policy.ProviderName(issuerURL),
		"GitHubOrganization": org,
	}
	for k, v := range vars {
		text = strings.ReplaceAll(text, "${"+k+"}", v)
	}
	if strings.Contains(text, "${") {
		t.Fatalf("the trust policy has a variable the test does not fill:\n%s", text)
	}
	return text
}

// bridgeClaims are the claims credd-bridge puts in a token (the contract),
// for LOGIN on OWNER/REPO with push.
func bridgeClaims(owner, repo, login string) map[string]any {
	full := owner + "/" + repo
	return map[string]any{
		"sub": "repo:" + full + ":user:" + login, "actor": login, "actor_id": "583231",
		"repository": full, "repository_id": "42", "repository_owner": owner, "repository_owner_id": "7",
		"repository_permission": "push", "token_kind": "app-user",
		// Claims of GitHub Actions tokens the sandbox issuer adds, which a
		// bridge token has not.
		"ref": nil, "ref_type": nil, "workflow": nil, "workflow_ref": nil, "event_name": nil, "run_id": nil,
		"run_number": nil, "run_attempt": nil, "repository_visibility": nil, "job_workflow_ref": nil,
		"sha": nil, "runner_environment": nil, "head_ref": nil, "base_ref": nil,
		policy.SessionTagsClaim: map[string]any{
			"principal_tags": map[string]any{"github-user": []string{login}, "github-repository": []string{full},
				"github-owner": []string{owner}, "github-permission": []string{"push"}},
			"transitive_tag_keys": []string{"github-user", "github-repository", "github-owner"},
		},
	}
}

// The example role's trust policy, filled in as CloudFormation fills it,
// is read from a file and evaluated by the doctor's trust-policy
// evaluation, the one behind `credd doctor --trust-policy`, against
// bridge-shaped tokens from the sandbox issuer; the sandbox STS, which
// reads the session tags from the token itself, agrees.
func TestTheExampleRoleTrustsTheOrganizationsBridgeTokensOnly(t *testing.T) {
	sb, err := sandbox.Start(t.Context(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	roleARN := "arn:aws:iam::" + account + ":role/credd-codespaces"
	file := filepath.Join(t.TempDir(), "trust.json")
	if err := os.WriteFile(file, []byte(examplePolicy(t, sb.IssuerURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := policy.Parse(b)
	if err != nil {
		t.Fatalf("the example trust policy does not parse: %v", err)
	}
	if err := sb.STS.AddRole(sandbox.Role{ARN: roleARN, TrustPolicy: string(b), MaxSessionDuration: 3600e9}); err != nil {
		t.Fatal(err)
	}
	prov := policy.ProviderName(sb.IssuerURL)
	tests := []struct {
		name     string
		audience string
		claims   map[string]any
		wantWhat string // the failing condition; "" = allowed
	}{
		{"a user of the organization's repository", sandbox.DefaultAudience, bridgeClaims(org, "app", "octocat"), ""},
		{"a repository of another organization", sandbox.DefaultAudience, bridgeClaims("Other", "app", "octocat"), `StringLike "` + prov + `:sub"`},
		{"the organization spelt in another case", sandbox.DefaultAudience, bridgeClaims("acme", "app", "octocat"), `StringLike "` + prov + `:sub"`},
		{"a token for another audience", "https://github.com/Acme", bridgeClaims(org, "app", "octocat"), `StringEquals "` + prov + `:aud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := sb.Issuer.Mint(tt.audience, tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := token.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			trust := doctor.EvaluateTrust(file, doc, claims, roleARN)
			if tt.wantWhat == "" {
				if trust.Decision != policy.Allow {
					t.Fatalf("refused: %v", trust.Failures)
				}
			} else if trust.Decision == policy.Allow || len(trust.Failures) == 0 || trust.Failures[0].What != tt.wantWhat {
				t.Fatalf("decision %s, failures %v; want refused naming %s", trust.Decision, trust.Failures, tt.wantWhat)
			}
			if tt.audience != sandbox.DefaultAudience {
				return // STS refuses an audience that is no client ID before any policy
			}
			out, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(sb.STSURL), Retryer: aws.NopRetryer{}}).
				AssumeRoleWithWebIdentity(t.Context(), &sts.AssumeRoleWithWebIdentityInput{
					RoleArn: aws.String(roleARN), RoleSessionName: aws.String("octocat@codespace"), WebIdentityToken: aws.String(raw),
				})
			switch {
			case tt.wantWhat == "" && err != nil:
				t.Errorf("the sandbox STS refused what the doctor allows: %v", err)
			case tt.wantWhat == "" && *out.AssumedRoleUser.Arn != "arn:aws:sts::"+account+":assumed-role/credd-codespaces/octocat@codespace":
				t.Errorf("assumed %s", *out.AssumedRoleUser.Arn)
			case tt.wantWhat != "" && (err == nil || !strings.Contains(err.Error(), "AccessDenied")):
				t.Errorf("the sandbox STS answered %v to what the doctor refuses", err)
			}
		})
	}
}

// Without sts:TagSession the same role refuses the bridge's tokens, and
// the doctor says what to add.
func TestTheExampleRoleNeedsTagSession(t *testing.T) {
	sb, err := sandbox.Start(t.Context(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	text := strings.Replace(examplePolicy(t, sb.IssuerURL), `, "sts:TagSession"`, "", 1)
	doc, err := policy.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sb.Issuer.Mint(sandbox.DefaultAudience, bridgeClaims(org, "app", "octocat"))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := token.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	trust := doctor.EvaluateTrust("trust.json", doc, claims, "arn:aws:iam::"+account+":role/credd-codespaces")
	if trust.Decision == policy.Allow || len(trust.Failures) == 0 || !strings.Contains(trust.Failures[0].Note, "does not allow sts:TagSession") {
		t.Errorf("decision %s, failures %v; want a refusal naming sts:TagSession", trust.Decision, trust.Failures)
	}
}
