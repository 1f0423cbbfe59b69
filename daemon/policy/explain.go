package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/credd-dev/credd/daemon"
)

// Failure is one reason a request is refused, for people.
type Failure struct {
	// Statement names the statement, e.g. `statement 1 (GitHubOIDC)`.
	Statement string `json:"statement"`
	// What is "principal", "action" or the condition, e.g.
	// `StringLike "token.actions.githubusercontent.com:sub"`.
	What string `json:"what"`
	// Got is the request's value(s), Want what the policy names.
	Got  []string `json:"got"`
	Want []string `json:"want"`
	Note string   `json:"note,omitempty"`
	// KeyUnavailable is set for a condition on a key IAM does not provide
	// for the token's provider: it must be rewritten, not matched.
	KeyUnavailable bool `json:"keyUnavailable,omitempty"`
}

func (f Failure) String() string {
	got := "the token has absent"
	switch {
	case f.KeyUnavailable:
		got = "IAM has no such key for this provider"
	case len(f.Got) > 0:
		got = "the token has " + quoteList(f.Got)
	}
	s := fmt.Sprintf("%s: %s: %s, the policy wants %s", f.Statement, f.What, got, quoteList(f.Want))
	if f.Note != "" {
		s += " (" + f.Note + ")"
	}
	return s
}

// Failures explains a refusal. For an explicit deny it names each Deny
// statement that applies. For an implicit deny it names what fails in the
// Allow statement that comes closest (its principal and action match and
// the fewest conditions fail). An allowed request has none.
//
// With session tags, the failures are sts:AssumeRoleWithWebIdentity's
// when it is refused, and otherwise sts:TagSession's.
func (r Result) Failures() []Failure {
	own := r.own
	if own == "" { // a Result read back from JSON
		own = r.Decision
	}
	if t := r.TagSession; t != nil && !t.Allowed() && (own == Allow || (t.Decision == ExplicitDeny && own != ExplicitDeny)) {
		return t.Failures()
	}
	switch own {
	case Allow:
		return nil
	case ExplicitDeny:
		var out []Failure
		for _, s := range r.Statements {
			if s.Effect == "Deny" && s.Applies {
				f := Failure{Statement: s.Name(), What: "explicit Deny", Note: "an explicit Deny wins over every Allow"}
				for _, c := range s.Conditions {
					f.Got = append(f.Got, c.Key+"="+strings.Join(c.Actual, ","))
					f.Want = append(f.Want, c.Operator+" "+c.Key+" "+strings.Join(c.Values, ","))
				}
				out = append(out, f)
			}
		}
		return out
	}
	best, bestScore := -1, 0
	for i, s := range r.Statements {
		if s.Effect != "Allow" {
			continue
		}
		score := 0
		if !s.Principal.OK {
			score += 1000
		}
		if !s.Action.OK {
			score += 100
		}
		for _, c := range s.Conditions {
			if !c.OK {
				score++
			}
		}
		if best < 0 || score < bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		note := "a trust policy needs an Allow statement for " + ActionAssumeRoleWithWebIdentity
		if r.Action == ActionTagSession {
			note = tagSessionNote
		}
		return []Failure{{Statement: "policy", What: "no Allow statement", Note: note}}
	}
	s := r.Statements[best]
	var out []Failure
	if !s.Principal.OK {
		out = append(out, Failure{Statement: s.Name(), What: "Principal.Federated", Got: []string{s.Principal.Got}, Want: s.Principal.Want, Note: s.Principal.Note})
	}
	if !s.Action.OK {
		out = append(out, Failure{Statement: s.Name(), What: "Action", Got: []string{s.Action.Got}, Want: s.Action.Want, Note: s.Action.Note})
	}
	for _, c := range s.Conditions {
		if !c.OK {
			out = append(out, Failure{Statement: s.Name(), What: c.Operator + " " + strconv.Quote(c.Key), Got: c.Actual, Want: c.Values,
				Note: c.Note, KeyUnavailable: c.KeyUnavailable})
		}
	}
	return out
}

func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "nothing"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of [" + strings.Join(q, ", ") + "]"
}

// Suggestion is a trust-policy fragment that matches a token.
type Suggestion struct {
	// Federated is the principal to trust.
	Federated string `json:"federated"`
	// Condition is a Condition block that the token satisfies exactly.
	Condition map[string]map[string]string `json:"condition"`
	// Broader, when set, also allows every other ref, environment and
	// event of the same GitHub repository.
	Broader map[string]map[string]string `json:"broader,omitempty"`
}

// Suggest returns the principal and conditions that would match claims for
// a role in account: aud and sub exactly, and for a GitHub-shaped sub
// ("repo:OWNER/REPO:...") a broader StringLike on the repository.
func Suggest(c daemon.Claims, account string) Suggestion {
	req := NewRequest(c, account)
	prov := req.Provider
	s := Suggestion{Federated: req.Federated, Condition: map[string]map[string]string{"StringEquals": {}}}
	aud := req.Lookup(prov + ":aud")
	if len(aud) > 0 {
		s.Condition["StringEquals"][prov+":aud"] = aud[0]
	}
	if c.Subject != "" {
		s.Condition["StringEquals"][prov+":sub"] = c.Subject
	}
	if rest, ok := strings.CutPrefix(c.Subject, "repo:"); ok {
		if repo, _, ok := strings.Cut(rest, ":"); ok {
			s.Broader = map[string]map[string]string{
				"StringEquals": {},
				"StringLike":   {prov + ":sub": "repo:" + repo + ":*"},
			}
			if len(aud) > 0 {
				s.Broader["StringEquals"][prov+":aud"] = aud[0]
			}
		}
	}
	return s
}
