package policy

import (
	"slices"
	"strconv"
	"strings"
)

// GitHubActionsProvider is the IAM name of GitHub Actions' OIDC provider,
// the only provider for which credd knows IAM's provider-specific keys.
const GitHubActionsProvider = "token.actions.githubusercontent.com"

// providerClaims is the one place that says which claims of a token IAM
// turns into condition keys <provider>:<claim>. A condition on any other
// claim meets a missing key, whatever the token holds, so a positive
// operator fails and STS refuses.
//
// Every OIDC provider has amr, aud, email, oaud and sub (IAM User Guide,
// "Available keys for AWS OIDC federation",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif);
// NewRequest fills aud and oaud from azp and aud as that page says.
//
// GitHub Actions also has the keys of "AWS STS now supports validation of
// select identity provider specific claims from Google, GitHub, CircleCI and
// Oracle Cloud Infrastructure",
// https://aws.amazon.com/about-aws/whats-new/2026/01/aws-sts-supports-validation-identity-provider-claims/
// (linked from aws-actions/configure-aws-credentials' README, "Claims and
// scoping permissions"), whose GitHub table, as quoted in
// https://cageyv.dev/posts/aws-sts-oidc-claim-validation, maps each key to
// the claim of the same name: actor, actor_id, job_workflow_ref, repository,
// repository_id, workflow, ref, environment, enterprise_id. GitHub's other
// claims (repository_owner, repository_owner_id, event_name, sha, ...) are
// not keys; neither are Google's, CircleCI's or OCI's provider-specific
// ones, which credd does not list yet.
func providerClaims(provider string) []string {
	claims := []string{"amr", "aud", "email", "oaud", "sub"}
	if strings.EqualFold(provider, GitHubActionsProvider) {
		claims = append(claims, "actor", "actor_id", "enterprise_id", "environment",
			"job_workflow_ref", "ref", "repository", "repository_id", "workflow")
	}
	return claims
}

// ProvidesClaim reports whether IAM has a condition key for claim in
// requests from the OIDC provider named provider (see ProviderName).
func ProvidesClaim(provider, claim string) bool {
	return slices.Contains(providerClaims(provider), strings.ToLower(claim))
}

// splitKey splits a condition key "<provider>:<claim>" at its last colon: a
// provider name may hold a port's colon.
func splitKey(key string) (provider, claim string) {
	i := strings.LastIndex(key, ":")
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// lacksKey reports whether key names a claim of r's provider that IAM
// provides no key for, so that no token can ever give it a value.
func (r Request) lacksKey(key string) bool {
	prov, claim := splitKey(key)
	return r.Provider != "" && strings.EqualFold(prov, r.Provider) && !ProvidesClaim(r.Provider, claim)
}

// unavailableNote explains a failing condition on a key IAM does not
// provide for the request's provider, and says it with sub instead.
func (r Request) unavailableNote(c Condition) string {
	_, claim := splitKey(c.Key)
	var sub string
	if v := r.Lookup(r.Provider + ":sub"); len(v) > 0 {
		sub = v[0]
	}
	note := "IAM cannot evaluate this condition for this provider; STS will refuse: IAM provides only the keys " +
		strings.Join(slices.Sorted(slices.Values(providerClaims(r.Provider))), ", ") + " for " + r.Provider +
		", whatever the token holds; say it with sub or aud instead, e.g. " + subInstead(r.Provider, claim, c.Values, sub)
	if r.SessionTags != nil && len(r.SessionTags.Tags) > 0 {
		// The request context has aws:RequestTag/KEY for each session tag
		// (id_session-tags.html, "Permissions required to add session tags").
		note += ", or with the token's session tags as aws:RequestTag/KEY (its keys: " + strings.Join(r.SessionTags.Keys(), ", ") + ")"
	}
	return note
}

// subInstead is a condition on the sub key that says what a condition on
// claim meant. GitHub's sub is "repo:OWNER/REPO:" followed by
// "environment:NAME", "ref:REF" or "pull_request" (for the job that runs;
// https://docs.github.com/en/actions/reference/security/oidc), so owner,
// repository, ref, environment and a pull_request event_name translate; for
// any other claim, or another kind of sub, it is the token's exact sub.
func subInstead(prov, claim string, want []string, sub string) string {
	key := strconv.Quote(prov + ":sub")
	owner, repo, github := githubRepo(sub)
	var patterns []string
	for _, w := range want {
		if !github {
			break
		}
		switch strings.ToLower(claim) {
		case "repository_owner":
			patterns = append(patterns, "repo:"+sameName(owner, w)+"/*")
		case "repository":
			patterns = append(patterns, "repo:"+sameName(repo, w)+":*")
		case "ref":
			patterns = append(patterns, "repo:"+repo+":ref:"+w)
		case "environment":
			patterns = append(patterns, "repo:"+repo+":environment:"+w)
		case "event_name":
			if w == "pull_request" {
				patterns = append(patterns, "repo:"+repo+":pull_request")
			}
		}
	}
	if len(patterns) == 0 {
		return "StringEquals " + key + ": " + strconv.Quote(sub)
	}
	return "StringLike " + key + ": " + quoteList(patterns)
}

// githubRepo reads OWNER and OWNER/REPO from a GitHub sub,
// repo:OWNER/REPO:..., where each name may carry its immutable @ID.
func githubRepo(sub string) (owner, repo string, ok bool) {
	rest, ok := strings.CutPrefix(sub, "repo:")
	if !ok {
		return "", "", false
	}
	repo, _, _ = strings.Cut(rest, ":")
	owner, _, ok = strings.Cut(repo, "/")
	return owner, repo, ok
}

// sameName is the token's name (with its immutable @IDs, as an immutable
// sub has them) when it names want, and otherwise want.
func sameName(token, want string) string {
	var plain []string
	for _, part := range strings.Split(token, "/") {
		name, _, _ := strings.Cut(part, "@")
		plain = append(plain, name)
	}
	if strings.Join(plain, "/") == want {
		return token
	}
	return want
}
