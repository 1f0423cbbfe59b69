package doctor

import (
	"encoding/json"
	"strings"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
)

// IsBridgeToken reports whether c are the claims of a credd-bridge token:
// it has token_kind and repository_permission, which GitHub's tokens lack,
// and a sub of the form repo:OWNER/REPO:user:LOGIN (the bridge's contract).
func IsBridgeToken(c daemon.Claims) bool {
	return c.Extra["token_kind"] != "" && c.Extra["repository_permission"] != "" && strings.HasPrefix(c.Subject, "repo:")
}

// SessionTagsOf returns the token's session tags and where they come from:
// the token's own claim when the claims carry it as JSON text under
// policy.SessionTagsClaim, or else, for a credd-bridge token, the tags the
// bridge's contract says it sets (github-user, github-repository,
// github-owner, github-permission; the first three transitive), since the
// daemon's status keeps only string claims. It returns nil for a token
// with no known tags.
func SessionTagsOf(c daemon.Claims) (tags *policy.SessionTags, derived bool) {
	if raw := c.Extra[policy.SessionTagsClaim]; raw != "" {
		if t, err := policy.ParseSessionTags(json.RawMessage(raw)); err == nil {
			return &t, false
		}
	}
	if !IsBridgeToken(c) {
		return nil, false
	}
	owner, _, _ := strings.Cut(c.Extra["repository"], "/")
	t := &policy.SessionTags{
		Tags: []policy.Tag{
			{Key: "github-user", Value: c.Extra["actor"]},
			{Key: "github-repository", Value: c.Extra["repository"]},
			{Key: "github-owner", Value: firstNonEmpty(c.Extra["repository_owner"], owner)},
			{Key: "github-permission", Value: c.Extra["repository_permission"]},
		},
		TransitiveKeys: []string{"github-user", "github-repository", "github-owner"},
	}
	return t, true
}

// sessionTagLine renders the token's session tags for the claims check.
func sessionTagLine(c daemon.Claims) (string, bool) {
	tags, derived := SessionTagsOf(c)
	if tags == nil {
		return "", false
	}
	line := "session tags " + tags.String()
	if derived {
		line += ", as credd-bridge sets them"
	}
	return line, true
}

// EvaluateTrust evaluates a trust policy against a token's claims for the
// role roleARN as STS does, session tags and so sts:TagSession included. It
// is what `credd doctor --trust-policy FILE` reports; file names the policy.
func EvaluateTrust(file string, doc *policy.Document, c daemon.Claims, roleARN string) *Trust {
	req := policy.NewRequest(c, policy.AccountOf(roleARN))
	if tags, _ := SessionTagsOf(c); tags != nil {
		req = req.WithSessionTags(*tags)
	}
	res := doc.Evaluate(req)
	return &Trust{File: file, Decision: res.Decision, Failures: res.Failures()}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
