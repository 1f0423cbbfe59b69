package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decision is the outcome of an evaluation.
type Decision string

// The three outcomes IAM knows: an explicit Deny beats any Allow, and with
// neither the request is denied implicitly.
const (
	Allow        Decision = "Allow"
	ImplicitDeny Decision = "ImplicitDeny"
	ExplicitDeny Decision = "ExplicitDeny"
)

// Result is an evaluation with the reasons for it.
type Result struct {
	// Decision is the request's: with session tags, Allow only when both
	// actions are allowed.
	Decision Decision `json:"decision"`
	// Action is the action the statements were evaluated for.
	Action     string            `json:"action"`
	Statements []StatementResult `json:"statements"`
	// TagSession is the evaluation of sts:TagSession, which IAM also
	// requires when the token carries session tags; nil without tags.
	TagSession *Result `json:"tagSession,omitempty"`

	// own is the decision for Action alone.
	own Decision
}

// Allowed reports whether the request is allowed.
func (r Result) Allowed() bool { return r.Decision == Allow }

// StatementResult says whether one statement applies, and why not.
type StatementResult struct {
	// Index is the statement's position, from 1.
	Index  int    `json:"index"`
	Sid    string `json:"sid,omitempty"`
	Effect string `json:"effect"`
	// Applies is true when principal, action and every condition match.
	Applies    bool              `json:"applies"`
	Principal  Match             `json:"principal"`
	Action     Match             `json:"action"`
	Conditions []ConditionResult `json:"conditions,omitempty"`
}

// Match is the principal or action check of a statement.
type Match struct {
	OK   bool     `json:"ok"`
	Got  string   `json:"got"`
	Want []string `json:"want,omitempty"`
	Note string   `json:"note,omitempty"`
}

// ConditionResult is one condition's outcome.
type ConditionResult struct {
	Condition
	OK bool `json:"ok"`
	// Actual are the request's values for Key; none when it is absent.
	Actual []string `json:"actual,omitempty"`
	// Note explains a failure in terms of its usual cause.
	Note string `json:"note,omitempty"`
	// KeyUnavailable is set when the condition failed on a key IAM does not
	// provide for the token's provider: no token can satisfy it.
	KeyUnavailable bool `json:"keyUnavailable,omitempty"`
}

// Name names the statement for people: its Sid, or its position.
func (s StatementResult) Name() string {
	if s.Sid != "" {
		return fmt.Sprintf("statement %d (%s)", s.Index, s.Sid)
	}
	return fmt.Sprintf("statement %d", s.Index)
}

// Evaluate decides r against d as IAM does for AssumeRoleWithWebIdentity.
// A request with session tags needs sts:TagSession too: "the role trust
// policies for all roles connected to an identity provider (IdP) must have
// the sts:TagSession permission" ("Permissions required to add session
// tags", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required),
// evaluated with the same condition keys.
func (d *Document) Evaluate(r Request) Result {
	res := d.evaluateAction(r, r.Action)
	if r.SessionTags == nil || r.Action == ActionTagSession {
		return res
	}
	tag := d.evaluateAction(r, ActionTagSession)
	res.TagSession = &tag
	switch {
	case res.own == ExplicitDeny || tag.own == ExplicitDeny:
		res.Decision = ExplicitDeny
	case res.own == Allow && tag.own == Allow:
		res.Decision = Allow
	default:
		res.Decision = ImplicitDeny
	}
	return res
}

// evaluateAction decides r for one action.
func (d *Document) evaluateAction(r Request, action string) Result {
	res := Result{Decision: ImplicitDeny, Action: action}
	allowed, denied := false, false
	for i, st := range d.Statements {
		sr := StatementResult{Index: i + 1, Sid: st.Sid, Effect: st.Effect}
		sr.Principal = matchPrincipal(st, r.Federated)
		sr.Action = matchAction(st, action)
		sr.Applies = sr.Principal.OK && sr.Action.OK
		for _, c := range st.Conditions {
			cr := evalCondition(c, r)
			sr.Conditions = append(sr.Conditions, cr)
			sr.Applies = sr.Applies && cr.OK
		}
		if sr.Applies {
			switch st.Effect {
			case "Allow":
				allowed = true
			case "Deny":
				denied = true
			}
		}
		res.Statements = append(res.Statements, sr)
	}
	switch {
	case denied:
		res.Decision = ExplicitDeny
	case allowed:
		res.Decision = Allow
	}
	res.own = res.Decision
	return res
}

func matchPrincipal(st Statement, federated string) Match {
	m := Match{Got: federated}
	switch {
	case st.Principal != nil:
		m.Want = principalList(st.Principal)
		m.OK = st.Principal.Any || slices.Contains(st.Principal.Federated, federated)
		if !m.OK {
			m.Note = principalNote(st.Principal.Federated, federated)
		}
	case st.NotPrincipal != nil:
		m.OK = !st.NotPrincipal.Any && !slices.Contains(st.NotPrincipal.Federated, federated)
		if !m.OK {
			m.Note = "NotPrincipal excludes this provider"
		}
	default:
		m.Note = "the statement has no Principal; a trust policy statement needs one"
	}
	return m
}

func principalList(p *Principal) []string {
	if p.Any {
		return []string{"*"}
	}
	out := slices.Clone(p.Federated)
	for k, v := range p.Others {
		for _, s := range v {
			out = append(out, k+": "+s)
		}
	}
	slices.Sort(out)
	return out
}

func principalNote(want []string, got string) string {
	if len(want) == 0 {
		return "the statement has no Federated principal: a web-identity caller is only matched by {\"Federated\": \"" + got + "\"}"
	}
	gotAcct, gotProv := splitProvider(got)
	for _, w := range want {
		acct, prov := splitProvider(w)
		switch {
		case strings.EqualFold(w, got):
			return "the ARNs differ only in case; IAM compares them exactly"
		case acct == gotAcct && prov != gotProv && strings.TrimSuffix(prov, "/") == strings.TrimSuffix(gotProv, "/"):
			return "the provider names differ in a trailing slash: IAM names the provider by the token's iss exactly, so trust " + got
		case prov == gotProv && acct != gotAcct:
			return fmt.Sprintf("the provider is in account %s, but the role is in account %s: each account needs its own OIDC provider", acct, gotAcct)
		case acct == gotAcct && prov != "" && strings.TrimPrefix(prov, "https://") != prov:
			return "the provider name must not include https://"
		}
	}
	return "the token's issuer is " + gotProv + ": the trust policy must name that issuer's OIDC provider"
}

// splitProvider splits arn:aws:iam::ACCT:oidc-provider/NAME.
func splitProvider(arn string) (account, name string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "", arn
	}
	return parts[4], strings.TrimPrefix(parts[5], "oidc-provider/")
}

// tagSessionNote explains a statement that allows the role but not the
// session tags.
const tagSessionNote = "the trust policy does not allow " + ActionTagSession +
	", which AWS requires when the token carries session tags: add it to the statement's Action"

func matchAction(st Statement, action string) Match {
	m := Match{Got: action}
	if st.Action != nil {
		m.Want = st.Action
		m.OK = slices.ContainsFunc(st.Action, func(p string) bool { return Like(p, action, true) })
		if !m.OK {
			m.Note = "the statement does not allow " + action
			switch {
			case action == ActionTagSession:
				m.Note = tagSessionNote
			case slices.ContainsFunc(st.Action, func(p string) bool { return strings.EqualFold(p, "sts:AssumeRole") }):
				m.Note = "sts:AssumeRole is for IAM principals; a federated token needs " + action
			}
		}
		return m
	}
	m.Want = st.NotAction
	m.OK = !slices.ContainsFunc(st.NotAction, func(p string) bool { return Like(p, action, true) })
	if !m.OK {
		m.Note = "NotAction excludes " + action
	}
	return m
}

// operator is a parsed condition operator.
type operator struct {
	set      string // "", "ForAnyValue", "ForAllValues"
	base     string // e.g. "StringEquals"
	ifExists bool
	negated  bool
	match    func(value, pattern string) bool
}

// stringOps are the base operators this package evaluates.
var stringOps = map[string]struct {
	negated bool
	match   func(value, pattern string) bool
}{
	"StringEquals":              {false, func(v, p string) bool { return v == p }},
	"StringNotEquals":           {true, func(v, p string) bool { return v == p }},
	"StringEqualsIgnoreCase":    {false, strings.EqualFold},
	"StringNotEqualsIgnoreCase": {true, strings.EqualFold},
	"StringLike":                {false, func(v, p string) bool { return Like(p, v, false) }},
	"StringNotLike":             {true, func(v, p string) bool { return Like(p, v, false) }},
	"Null":                      {},
}

// parseOperator reads "[ForAnyValue:|ForAllValues:]Base[IfExists]". Set
// and operator names are case-sensitive in IAM.
func parseOperator(s string) (operator, bool) {
	var op operator
	if set, rest, ok := strings.Cut(s, ":"); ok {
		if set != "ForAnyValue" && set != "ForAllValues" {
			return op, false
		}
		op.set, s = set, rest
	}
	if base, ok := strings.CutSuffix(s, "IfExists"); ok && base != "Null" {
		op.ifExists, s = true, base
	}
	def, ok := stringOps[s]
	if !ok {
		return op, false
	}
	op.base, op.negated, op.match = s, def.negated, def.match
	return op, true
}

func evalCondition(c Condition, r Request) ConditionResult {
	cr := ConditionResult{Condition: c, Actual: r.Lookup(c.Key)}
	op, ok := parseOperator(c.Operator)
	if !ok {
		cr.Note = "credd does not evaluate the operator " + strconv.Quote(c.Operator) + " (only the String* operators and Null); counted as not matching"
		return cr
	}
	present := len(cr.Actual) > 0
	if op.base == "Null" {
		// "true": the key must be absent; "false": present. Several values OR.
		for _, v := range c.Values {
			if b, err := strconv.ParseBool(v); err == nil && b == !present {
				cr.OK = true
			}
		}
		if !cr.OK {
			cr.Note = nullNote(present)
			missingKeyNote(&cr, r)
		}
		return cr
	}
	anyPattern := func(v string) bool {
		return slices.ContainsFunc(c.Values, func(p string) bool { return op.match(v, p) })
	}
	switch {
	case !present:
		// A missing key: IfExists and ForAllValues match, as do negated
		// operators; everything else does not.
		cr.OK = op.ifExists || op.set == "ForAllValues" || (op.set == "" && op.negated)
	case op.set == "ForAllValues":
		cr.OK = !slices.ContainsFunc(cr.Actual, func(v string) bool { return anyPattern(v) == op.negated })
	case op.set == "ForAnyValue":
		cr.OK = slices.ContainsFunc(cr.Actual, func(v string) bool { return anyPattern(v) != op.negated })
	case op.negated:
		// A single-valued key (or several values, as aud can be): the
		// negated operator matches when no value matches any pattern.
		cr.OK = !slices.ContainsFunc(cr.Actual, anyPattern)
	default:
		cr.OK = slices.ContainsFunc(cr.Actual, anyPattern)
	}
	if !cr.OK {
		cr.Note = conditionNote(op, c, cr.Actual)
		missingKeyNote(&cr, r)
	}
	return cr
}

// missingKeyNote replaces the note of a failing condition whose key is
// absent because IAM does not provide it, or because it names the provider
// without the trailing slash the issuer has.
func missingKeyNote(cr *ConditionResult, r Request) {
	if len(cr.Actual) > 0 || r.Provider == "" {
		return
	}
	prov, claim := splitKey(cr.Key)
	switch {
	case r.lacksKey(cr.Key):
		cr.Note, cr.KeyUnavailable = r.unavailableNote(cr.Condition), true
	case !strings.EqualFold(prov, r.Provider) && strings.EqualFold(strings.TrimSuffix(prov, "/"), strings.TrimSuffix(r.Provider, "/")):
		cr.Note = "IAM names the provider by the token's iss exactly, trailing slash included, so the key is " +
			strconv.Quote(r.Provider+":"+claim)
	}
}

func nullNote(present bool) string {
	if present {
		return "Null true requires the key to be absent, and the token has it"
	}
	return "Null false requires the key, and the token does not have it"
}

// conditionNote names the usual cause of a failing condition.
func conditionNote(op operator, c Condition, actual []string) string {
	claim := strings.ToLower(c.Key[strings.LastIndex(c.Key, ":")+1:])
	if tag, ok := requestTagKey(c.Key); ok && len(actual) == 0 {
		return "the token carries no session tag " + strconv.Quote(tag)
	}
	if len(actual) == 0 {
		switch claim {
		case "environment":
			return "the token has no environment claim: GitHub adds it only to jobs that name an environment"
		}
		return "the token has no " + claim + " claim, so the key is absent"
	}
	if op.negated {
		return "the token's value is one the condition excludes"
	}
	for _, v := range actual {
		for _, p := range c.Values {
			if op.base == "StringEquals" && strings.ContainsAny(p, "*?") && Like(p, v, false) {
				return "StringEquals compares literally, so * and ? are not wildcards: use StringLike for " + strconv.Quote(p)
			}
			if !strings.HasSuffix(op.base, "IgnoreCase") && (strings.EqualFold(v, p) || (op.base == "StringLike" && Like(strings.ToLower(p), strings.ToLower(v), false))) {
				return "the values differ only in case, and " + op.base + " is case-sensitive: write the value exactly as the token has it (GitHub keeps the owner's and repository's case), or use StringEqualsIgnoreCase"
			}
		}
	}
	if claim == "sub" {
		if note := immutableSubNote(op, c.Values, actual); note != "" {
			return note
		}
		for _, v := range actual {
			switch {
			case strings.Contains(v, ":environment:"):
				return "the job runs in an environment, so GitHub's sub names the environment instead of the ref: allow " + strconv.Quote(v)
			case strings.HasSuffix(v, ":pull_request"):
				return "a pull_request workflow gets a sub without a ref: allow " + strconv.Quote(v) + " if pull requests may assume the role"
			}
		}
	}
	if claim == "aud" || claim == "oaud" {
		return "the token was issued for another audience: request the token for the audience the condition names (credd --audience), or fix the condition"
	}
	return ""
}

// immutableSubRE finds the @ID GitHub's immutable sub form appends to the
// owner and the repository: repo:OWNER@ID/REPO@ID:...
var immutableSubRE = regexp.MustCompile(`@[0-9]+`)

// immutableSubNote explains a sub condition written for the other of
// GitHub's two sub forms: repositories created, renamed or transferred on
// or after 15 July 2026 get repo:OWNER@OWNER_ID/REPO@REPO_ID:... instead of
// repo:OWNER/REPO:... (aws-actions/configure-aws-credentials README).
func immutableSubNote(op operator, patterns, actual []string) string {
	matches := func(p, v string) bool {
		if op.base == "StringLike" {
			return Like(p, v, false)
		}
		return p == v
	}
	for _, v := range actual {
		if !strings.HasPrefix(v, "repo:") {
			continue
		}
		classic := immutableSubRE.ReplaceAllString(v, "")
		for _, p := range patterns {
			switch {
			case classic != v && matches(p, classic):
				return "GitHub sends this repository's sub in its immutable form, with the owner's and the repository's IDs (repositories created, renamed or transferred on or after 15 July 2026): allow " + strconv.Quote(v) + ", or list both forms"
			case classic == v && immutableSubRE.MatchString(p) && matches(immutableSubRE.ReplaceAllString(p, ""), v):
				return "the condition names GitHub's immutable sub form (with IDs), but this repository's tokens carry the classic one: allow " + strconv.Quote(v) + ", or list both forms"
			}
		}
	}
	return ""
}

// Like matches value against an IAM wildcard pattern: * matches any run of
// characters, ? any one. With fold, case is ignored (action names).
func Like(pattern, value string, fold bool) bool {
	if fold {
		pattern, value = strings.ToLower(pattern), strings.ToLower(value)
	}
	// Iterative glob with one backtrack point: linear in practice and
	// without allocation, for the sandbox's hot path.
	p, v := 0, 0
	star, mark := -1, 0
	for v < len(value) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, v
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == value[v]):
			if pattern[p] == '?' {
				// ? is one character, not one byte.
				_, size := utf8.DecodeRuneInString(value[v:])
				v += size
			} else {
				v++
			}
			p++
		case star >= 0:
			p = star + 1
			mark++
			v = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// requestTagKey returns the tag key of an aws:RequestTag/KEY condition key.
func requestTagKey(key string) (string, bool) {
	const prefix = "aws:requesttag/"
	if len(key) > len(prefix) && strings.EqualFold(key[:len(prefix)], prefix) {
		return key[len(prefix):], true
	}
	return "", false
}
