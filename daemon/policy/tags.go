package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/credd-dev/credd/daemon/internal/jsonobj"
)

// The rules below are IAM's, from "Pass session tags in AWS STS"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html),
// its section "Passing session tags using AssumeRoleWithWebIdentity" for the
// claim's shape, and the STS API reference's Tag type
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html) for
// the lengths and characters.

// SessionTagsClaim is the claim that carries session tags in a web identity
// token: {"principal_tags": {"KEY": ["VALUE"]}, "transitive_tag_keys": [...]}.
const SessionTagsClaim = "https://aws.amazon.com/tags"

// ActionTagSession is the permissions-only action a trust policy must also
// allow when the token carries session tags ("Permissions required to add
// session tags").
const ActionTagSession = "sts:TagSession"

const (
	maxSessionTags = 50  // "You can pass a maximum of 50 session tags."
	maxTagKeyLen   = 128 // API_Tag: Key, length 1..128
	maxTagValueLen = 256 // API_Tag: Value, length 0..256
	// packedTagBudget is the bytes of tag text credd counts as 100% of the
	// packed size. AWS documents neither the packed format nor its limit,
	// only that the answer is a percentage and that tags can fail it within
	// the other limits; the budget is credd's estimate, sized so that the six
	// EKS Pod Identity tags, all transitive, come to about the 74% reported
	// in aws/containers-roadmap#2413.
	packedTagBudget = 512
)

// tagPattern is API_Tag's pattern for keys and values: letters, spaces,
// numbers and _ . : / = + - @.
var tagPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// Tag is one session tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SessionTags are the session tags of a web identity token.
type SessionTags struct {
	// Tags in the order the token lists them.
	Tags []Tag `json:"tags"`
	// TransitiveKeys are the keys marked transitive, as written.
	TransitiveKeys []string `json:"transitiveKeys,omitempty"`
}

// Value returns the value of the tag key, matched case-insensitively as
// IAM matches tag keys of a session.
func (t SessionTags) Value(key string) (string, bool) {
	for _, tag := range t.Tags {
		if strings.EqualFold(tag.Key, key) {
			return tag.Value, true
		}
	}
	return "", false
}

// Keys returns the tag keys as written, in order.
func (t SessionTags) Keys() []string {
	keys := make([]string, len(t.Tags))
	for i, tag := range t.Tags {
		keys[i] = tag.Key
	}
	return keys
}

// String renders the tags for people: key=value, then the transitive keys.
func (t SessionTags) String() string {
	parts := make([]string, len(t.Tags))
	for i, tag := range t.Tags {
		parts[i] = tag.Key + "=" + tag.Value
	}
	s := strings.Join(parts, ", ")
	if len(t.TransitiveKeys) > 0 {
		s += " (transitive: " + strings.Join(t.TransitiveKeys, ", ") + ")"
	}
	return s
}

// PackedSize estimates AWS's PackedPolicySize for these tags: the
// percentage of the packed space they take, rounded up. Over 100 STS
// refuses them with PackedPolicyTooLarge. See packedTagBudget.
func (t SessionTags) PackedSize() int {
	n := 0
	for _, tag := range t.Tags {
		n += len(tag.Key) + len(tag.Value)
	}
	for _, k := range t.TransitiveKeys {
		n += len(k)
	}
	return (n*100 + packedTagBudget - 1) / packedTagBudget
}

// ErrSessionTags marks every error of ParseSessionTags.
var ErrSessionTags = errors.New("invalid session tags")

func tagError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSessionTags}, args...)...)
}

// ParseSessionTags reads the value of SessionTagsClaim and checks it
// against IAM's rules: at most 50 tags; keys of 1 to 128 and values of up
// to 256 characters from the allowed set; no key or value starting "aws:"
// and no two keys differing only in case (IAM's tag naming rules,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules_creating);
// one value per tag ("Multivalued session tags are not supported"); and
// every transitive key among the tags. The packed size is not checked here
// (see PackedSize). Every error wraps ErrSessionTags and names the rule.
func ParseSessionTags(raw json.RawMessage) (SessionTags, error) {
	var claim struct {
		PrincipalTags     json.RawMessage `json:"principal_tags"`
		TransitiveTagKeys json.RawMessage `json:"transitive_tag_keys"`
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &claim) != nil {
		return SessionTags{}, tagError(`the %s claim is not an object {"principal_tags": {...}, "transitive_tag_keys": [...]}`, SessionTagsClaim)
	}
	var out SessionTags
	members, err := jsonobj.Members(claim.PrincipalTags)
	if err != nil {
		return SessionTags{}, tagError(`principal_tags is not an object of tag keys to ["value"]`)
	}
	if len(members) > maxSessionTags {
		return SessionTags{}, tagError("the token has %d session tags; at most %d are allowed", len(members), maxSessionTags)
	}
	for _, m := range members {
		var values []string
		if json.Unmarshal(m.Value, &values) != nil || bytes.TrimSpace(m.Value)[0] != '[' {
			return SessionTags{}, tagError("session tag %q: its value must be a list holding one string", m.Name)
		}
		if len(values) != 1 {
			return SessionTags{}, tagError("session tag %q has %d values; a session tag has exactly one", m.Name, len(values))
		}
		if err := checkTagText("key", m.Name, 1, maxTagKeyLen); err != nil {
			return SessionTags{}, err
		}
		if err := checkTagText("value of "+m.Name, values[0], 0, maxTagValueLen); err != nil {
			return SessionTags{}, err
		}
		if _, dup := out.Value(m.Name); dup {
			return SessionTags{}, tagError("session tag keys must differ in more than case: %q is there twice", m.Name)
		}
		out.Tags = append(out.Tags, Tag{Key: m.Name, Value: values[0]})
	}
	if len(claim.TransitiveTagKeys) > 0 && string(claim.TransitiveTagKeys) != "null" {
		if json.Unmarshal(claim.TransitiveTagKeys, &out.TransitiveKeys) != nil {
			return SessionTags{}, tagError("transitive_tag_keys is not a list of strings")
		}
	}
	for _, k := range out.TransitiveKeys {
		if _, ok := out.Value(k); !ok {
			return SessionTags{}, tagError("transitive tag key %q is not among the session tags", k)
		}
	}
	return out, nil
}

// checkTagText checks a tag key or value against API_Tag's constraints.
func checkTagText(what, s string, lo, hi int) error {
	n := utf8.RuneCountInString(s)
	switch {
	case n < lo:
		return tagError("session tag %s is empty", what)
	case n > hi:
		return tagError("session tag %s has %d characters; the limit is %d", what, n, hi)
	case !tagPattern.MatchString(s):
		return tagError(`session tag %s %q has a character outside letters, digits, spaces and _ . : / = + - @`, what, s)
	case strings.HasPrefix(strings.ToLower(s), "aws:"):
		return tagError("session tag %s %q starts with aws:, which AWS reserves", what, s)
	}
	return nil
}

// tagContext adds the condition keys a request with session tags has:
// aws:RequestTag/KEY for each tag, aws:TagKeys and sts:TransitiveTagKeys
// ("Permissions required to add session tags").
func tagContext(ctx map[string][]string, t SessionTags) {
	for _, tag := range t.Tags {
		ctx[strings.ToLower("aws:RequestTag/"+tag.Key)] = []string{tag.Value}
	}
	if keys := t.Keys(); len(keys) > 0 {
		ctx["aws:tagkeys"] = keys
	}
	if len(t.TransitiveKeys) > 0 {
		ctx["sts:transitivetagkeys"] = slices.Clone(t.TransitiveKeys)
	}
}
