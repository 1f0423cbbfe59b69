package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// TestDoctorNamesTheTrustPolicyConditionThatFails runs the classic case:
// the job runs in an environment, so its sub is ...:environment:prod, and
// the role trusts only refs. The emulator refuses with AccessDenied (by the
// same evaluator), and doctor, given the policy, names the condition.
func TestDoctorNamesTheTrustPolicyConditionThatFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{Issuer: sandbox.IssuerOptions{Subject: "repo:credd-dev/demo:environment:prod"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	prov := policy.ProviderName(sb.IssuerURL)
	trust := `{"Version":"2012-10-17","Statement":[{"Sid":"MainOnly","Effect":"Allow",
	  "Principal":{"Federated":"` + policy.ProviderARN(sandbox.DefaultAccountID, sb.IssuerURL) + `"},
	  "Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"},
	               "StringLike":{"` + prov + `:sub":"repo:credd-dev/demo:ref:refs/heads/*"}}}]}`
	if err := sb.STS.SetTrustPolicy(sandbox.DefaultRoleARN, trust); err != nil {
		t.Fatal(err)
	}
	policyFile := writePolicy(t, trust)
	d := actionsDaemon(t, sb)
	awaitAccessDenied(t, d)

	out, stderr, code := binary.Run(t, d.Env, "doctor", "--state-dir", d.StateDir, "--trust-policy", policyFile)
	if code != 1 {
		t.Errorf("doctor exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{
		`StringLike "` + prov + `:sub"`,
		`the token has "repo:credd-dev/demo:environment:prod"`,
		`the policy wants "repo:credd-dev/demo:ref:refs/heads/*"`,
		"What to do, most likely cause first:\n  1. in statement 1 (MainOnly) of the trust policy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}

	// Without the policy: the claims STS saw and a statement that fits them.
	out, _, code = binary.Run(t, d.Env, "doctor", "--state-dir", d.StateDir, "--json")
	var rep struct {
		ExitCode   int
		Claims     struct{ Sub string }
		Suggestion struct {
			Federated string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("doctor --json exit %d, err %v:\n%s", code, err, out)
	}
	if got := rep.Suggestion.Condition["StringEquals"][prov+":sub"]; got != "repo:credd-dev/demo:environment:prod" || rep.Claims.Sub != got {
		t.Errorf("suggested sub %q, claims sub %q", got, rep.Claims.Sub)
	}
	// The suggestion, put in place, is accepted by the emulator.
	fixed := strings.Replace(trust, "repo:credd-dev/demo:ref:refs/heads/*", "repo:credd-dev/demo:environment:prod", 1)
	if err := sb.STS.SetTrustPolicy(sandbox.DefaultRoleARN, fixed); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policyFile, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ = binary.Run(t, d.Env, "doctor", "--state-dir", d.StateDir, "--trust-policy", policyFile)
	if !strings.Contains(out, "p.json allows this token") {
		t.Errorf("doctor does not agree with the emulator on the fixed policy:\n%s", out)
	}
	authToken, err := os.ReadFile(filepath.Join(d.StateDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{sb.Issuer.RequestToken(), string(authToken)} {
		if strings.Contains(out, secret) {
			t.Errorf("doctor printed a secret")
		}
	}
}

// TestDoctorAndTheEmulatorRefuseAConditionIAMCannotEvaluate: the sandbox
// token carries GitHub's repository_owner claim, but IAM makes only amr,
// aud, email, oaud and sub into condition keys for a provider other than
// GitHub Actions' (IAM User Guide, "Available keys for AWS OIDC federation",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif;
// and even GitHub Actions has no repository_owner key:
// https://aws.amazon.com/about-aws/whats-new/2026/01/aws-sts-supports-validation-identity-provider-claims/).
// A policy conditioned on it is refused by the emulator, doctor says why
// and suggests a sub condition, which both then accept.
func TestDoctorAndTheEmulatorRefuseAConditionIAMCannotEvaluate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	prov := policy.ProviderName(sb.IssuerURL)
	trust := func(condition string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"OwnerOnly","Effect":"Allow",
		  "Principal":{"Federated":"` + policy.ProviderARN(sandbox.DefaultAccountID, sb.IssuerURL) + `"},
		  "Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}]}`
	}
	byOwner := trust(`{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com","` + prov + `:repository_owner":"credd-dev"}}`)
	if err := sb.STS.SetTrustPolicy(sandbox.DefaultRoleARN, byOwner); err != nil {
		t.Fatal(err)
	}
	if code := assumeStatus(t, sb); code != http.StatusForbidden {
		t.Errorf("the emulator answered %d to a policy on repository_owner, want 403 AccessDenied", code)
	}
	policyFile := writePolicy(t, byOwner)
	d := actionsDaemon(t, sb)
	awaitAccessDenied(t, d)
	out, stderr, code := binary.Run(t, d.Env, "doctor", "--state-dir", d.StateDir, "--trust-policy", policyFile)
	if code != 1 {
		t.Errorf("doctor exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	suggested := `StringLike "` + prov + `:sub": "repo:credd-dev/*"`
	for _, want := range []string{
		`StringEquals "` + prov + `:repository_owner": IAM has no such key for this provider`,
		"What to do, most likely cause first:\n  1. in statement 1 (OwnerOnly) of the trust policy, replace",
		"IAM cannot evaluate this condition for this provider; STS will refuse",
		suggested,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}

	// The suggested sub condition, put in place, is accepted by both.
	bySub := trust(`{"StringEquals":{"` + prov + `:aud":"sts.amazonaws.com"},"StringLike":{"` + prov + `:sub":"repo:credd-dev/*"}}`)
	if err := sb.STS.SetTrustPolicy(sandbox.DefaultRoleARN, bySub); err != nil {
		t.Fatal(err)
	}
	if code := assumeStatus(t, sb); code != http.StatusOK {
		t.Errorf("the emulator answered %d to the suggested sub condition, want 200", code)
	}
	if err := os.WriteFile(policyFile, []byte(bySub), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ = binary.Run(t, d.Env, "doctor", "--state-dir", d.StateDir, "--trust-policy", policyFile)
	if !strings.Contains(out, "p.json allows this token") {
		t.Errorf("doctor does not agree with the emulator on the sub condition:\n%s", out)
	}
}

// assumeStatus is the emulator's HTTP status for AssumeRoleWithWebIdentity
// of the default role with a fresh sandbox token (the call is unsigned, as
// at STS).
// writePolicy writes a trust policy for doctor --trust-policy to read.
func writePolicy(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// awaitAccessDenied waits until the daemon's status reports STS's refusal.
func awaitAccessDenied(t *testing.T, d *harness.Daemon) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _, _ := binary.Run(t, d.Env, "status", "--state-dir", d.StateDir)
		if strings.Contains(out, "AccessDenied") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never reported AccessDenied:\n%s", out)
		}
	}
}

func assumeStatus(t *testing.T, sb *sandbox.Sandbox) int {
	t.Helper()
	tok, err := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(sb.STSURL, url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {sandbox.DefaultRoleARN}, "RoleSessionName": {"e2e"}, "WebIdentityToken": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
