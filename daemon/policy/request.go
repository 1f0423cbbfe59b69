package policy

import (
	"maps"
	"slices"
	"strings"

	"github.com/credd-dev/credd/daemon"
)

// Request is what IAM evaluates a trust policy against: the action, the
// federated principal (the token issuer's OIDC provider ARN) and the
// condition keys the token provides.
type Request struct {
	Action string
	// Federated is arn:aws:iam::ACCOUNT:oidc-provider/<issuer host and path>.
	Federated string
	// Context maps lower-cased condition keys to their values; a key with
	// no values is absent.
	Context map[string][]string
}

// Lookup returns the values of a condition key, matched case-insensitively
// as IAM matches keys.
func (r Request) Lookup(key string) []string { return r.Context[strings.ToLower(key)] }

// ProviderName is the OIDC provider's name in IAM: the issuer URL without
// its scheme and trailing slash, e.g. token.actions.githubusercontent.com.
// It prefixes the provider's condition keys.
func ProviderName(issuer string) string {
	if _, rest, ok := strings.Cut(issuer, "://"); ok {
		issuer = rest
	}
	return strings.TrimSuffix(issuer, "/")
}

// ProviderARN is the ARN of the IAM OIDC provider for issuer in account.
func ProviderARN(account, issuer string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + ProviderName(issuer)
}

// NewRequest builds the request AssumeRoleWithWebIdentity makes with a
// token carrying claims, for a role in account. As IAM does, <provider>:aud
// holds azp when the token has one (and <provider>:oaud then holds aud);
// sub and, when present, amr are keys too. Every other string claim (GitHub's
// repository, actor, ref, environment, job_workflow_ref, repository_owner,
// ...) is offered as <provider>:<claim>: IAM provides such keys for the
// providers it knows, and a key it does not provide behaves as a missing one.
func NewRequest(c daemon.Claims, account string) Request {
	prov := strings.ToLower(ProviderName(c.Issuer))
	ctx := map[string][]string{}
	set := func(claim string, values ...string) {
		if len(values) > 0 && !(len(values) == 1 && values[0] == "") {
			ctx[prov+":"+strings.ToLower(claim)] = values
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Extra)) {
		set(k, c.Extra[k])
	}
	set("sub", c.Subject)
	if azp := c.Extra["azp"]; azp != "" {
		set("aud", azp)
		set("oaud", c.Audience...)
	} else {
		set("aud", c.Audience...)
	}
	return Request{Action: ActionAssumeRoleWithWebIdentity, Federated: ProviderARN(account, c.Issuer), Context: ctx}
}

// AccountOf returns the account of an ARN such as arn:aws:iam::123456789012:role/x.
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
