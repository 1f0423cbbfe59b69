package policy

import (
	"strings"

	"github.com/credd-dev/credd/daemon"
)

// Request is what IAM evaluates a trust policy against: the action, the
// federated principal (the token issuer's OIDC provider ARN) and the
// condition keys the token provides.
type Request struct {
	Action string
	// Federated is arn:aws:iam::ACCOUNT:oidc-provider/<Provider>.
	Federated string
	// Provider is the token issuer's OIDC provider name (see ProviderName),
	// the prefix of its condition keys.
	Provider string
	// Context maps lower-cased condition keys to their values; a key with
	// no values is absent.
	Context map[string][]string
	// SessionTags are the token's session tags, nil when it carries none.
	// With them IAM also evaluates sts:TagSession (see Evaluate).
	SessionTags *SessionTags
}

// WithSessionTags returns r for a token that carries tags: it has the
// condition keys aws:RequestTag/KEY, aws:TagKeys and sts:TransitiveTagKeys,
// and Evaluate checks sts:TagSession too.
func (r Request) WithSessionTags(t SessionTags) Request {
	ctx := make(map[string][]string, len(r.Context)+len(t.Tags)+2)
	for k, v := range r.Context {
		ctx[k] = v
	}
	tagContext(ctx, t)
	r.Context, r.SessionTags = ctx, &t
	return r
}

// Lookup returns the values of a condition key, matched case-insensitively
// as IAM matches keys.
func (r Request) Lookup(key string) []string { return r.Context[strings.ToLower(key)] }

// ProviderName is the OIDC provider's name in IAM: the issuer URL without
// its scheme, e.g. token.actions.githubusercontent.com. It prefixes the
// provider's condition keys. A trailing slash stays: IAM matches the
// provider URL to the token's iss exactly, so Auth0's issuer
// https://TENANT.auth0.com/ is the provider TENANT.auth0.com/, with the ARN
// arn:aws:iam::ACCOUNT:oidc-provider/TENANT.auth0.com/ and the keys
// TENANT.auth0.com/:aud and TENANT.auth0.com/:sub (a working trust policy
// for an Auth0 issuer: https://gist.github.com/gene1wood/54611c45a3298504f8e33d95e317ae5c;
// the URL must match iss: IAM User Guide, "Create an OpenID Connect (OIDC)
// identity provider in IAM",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html).
func ProviderName(issuer string) string {
	if _, rest, ok := strings.Cut(issuer, "://"); ok {
		return rest
	}
	return issuer
}

// ProviderARN is the ARN of the IAM OIDC provider for issuer in account.
func ProviderARN(account, issuer string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + ProviderName(issuer)
}

// NewRequest builds the request AssumeRoleWithWebIdentity makes with a
// token carrying claims, for a role in account. Only the keys IAM provides
// for the issuer's provider exist (see providerClaims): <provider>:sub;
// <provider>:aud, which holds azp when the token has one (and then
// <provider>:oaud holds aud); amr and email when present; and, for GitHub
// Actions, the GitHub claims IAM lists. A condition on any other claim
// meets a missing key, as at STS.
func NewRequest(c daemon.Claims, account string) Request {
	name := ProviderName(c.Issuer)
	prov := strings.ToLower(name)
	ctx := map[string][]string{}
	set := func(claim string, values ...string) {
		if len(values) > 0 && !(len(values) == 1 && values[0] == "") {
			ctx[prov+":"+claim] = values
		}
	}
	for _, claim := range providerClaims(prov) {
		switch claim {
		case "sub", "aud", "oaud":
		default:
			set(claim, c.Extra[claim])
		}
	}
	set("sub", c.Subject)
	if azp := c.Extra["azp"]; azp != "" {
		set("aud", azp)
		set("oaud", c.Audience...)
	} else {
		set("aud", c.Audience...)
	}
	return Request{Action: ActionAssumeRoleWithWebIdentity, Federated: ProviderARN(account, c.Issuer), Provider: name, Context: ctx}
}

// AccountOf returns the account of an ARN such as arn:aws:iam::123456789012:role/x.
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
