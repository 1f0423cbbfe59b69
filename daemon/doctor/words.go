package doctor

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/login"
)

// The words below are shared with `credd status`, so that both commands say
// the same thing the same way.

// ErrorHint is e's hint, with the ones credd knows filled in: a required
// login always says to run `credd login`.
func ErrorHint(e *daemon.ErrorStatus) string {
	if e.Code == login.CodeLoginRequired && !strings.Contains(e.Hint, "credd login") {
		if e.Hint == "" {
			return "run `credd login`"
		}
		return e.Hint + "; run `credd login`"
	}
	return e.Hint
}

// CleartextWarnings are the role's issuer and STS endpoint that are plain
// http:// to a host that is not loopback (config.CleartextSettings' rule),
// judged from the settings the daemon reports.
func CleartextWarnings(r daemon.RoleStatus) []config.Warning {
	settings := r.Settings
	if !slices.ContainsFunc(settings, func(s daemon.Setting) bool { return s.Name == "sts-endpoint" }) && r.STSEndpoint != "" {
		// A daemon that reports no settings still reports where STS is.
		settings = append(slices.Clip(settings), daemon.Setting{Name: "sts-endpoint", Value: r.STSEndpoint})
	}
	return config.CleartextSettings(r.Name, settings)
}

// ExtraClaims are the GitHub claims worth showing, as "name value", in a
// fixed order, where present: GitHub Actions' and, for a credd-bridge
// token, repository_permission and token_kind.
func ExtraClaims(c daemon.Claims) []string {
	var out []string
	for _, k := range []string{"repository", "environment", "ref", "actor", "job_workflow_ref", "repository_permission", "token_kind"} {
		if v := c.Extra[k]; v != "" {
			out = append(out, k+" "+v)
		}
	}
	return out
}

// ClaimLines render a token's claims, one aspect a line. The token itself,
// and so its signature, is never available here.
func ClaimLines(c daemon.Claims, now time.Time) []string {
	lines := []string{"iss " + c.Issuer, "sub " + c.Subject, "aud " + strings.Join(c.Audience, ", ")}
	if extra := ExtraClaims(c); len(extra) > 0 {
		lines = append(lines, strings.Join(extra, ", "))
	}
	if tags, ok := sessionTagLine(c); ok {
		lines = append(lines, tags)
	}
	exp := "exp " + Relative(now, c.Expiry)
	if c.Expiry.Before(now) {
		exp += " (credd fetches a new token for every STS call)"
	}
	return append(lines, exp)
}

// Plural renders "1 call", "3 calls".
func Plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Relative renders t against now as "in 41m" or "3m ago".
func Relative(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + Human(d)
	}
	return Human(-d) + " ago"
}

// Human renders a duration for people: 42s, 41m, 2h5m, 3d4h.
func Human(d time.Duration) string {
	switch {
	case d.Round(time.Second) < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d.Round(time.Minute) < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	case d.Round(time.Minute) < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// stateDirCommands are credd's commands that take --state-dir, as they
// appear in a suggestion.
var stateDirCommands = regexp.MustCompile(`\bcredd (daemon|status|doctor|login|logout|reload|env|exec|credential-process)\b`)

// WithStateDir adds --state-dir DIR to every credd command s suggests, so
// that the fix also works against a daemon whose state dir is not the
// default. dir "" (the default state dir) leaves s as it is.
func WithStateDir(s, dir string) string {
	if dir == "" {
		return s
	}
	flag := " --state-dir " + ShellWord(dir)
	var b strings.Builder
	last := 0
	for _, m := range stateDirCommands.FindAllStringIndex(s, -1) {
		b.WriteString(s[last:m[1]])
		last = m[1]
		if !strings.HasPrefix(s[last:], " --state-dir") {
			b.WriteString(flag)
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// ShellWord quotes s for a POSIX shell unless it needs no quotes, so that
// a plain path in a suggested command reads as one.
func ShellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./@%+=:,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ClientLabel names a client family for people, honest about guesses.
func ClientLabel(family string) string {
	switch family {
	case "none":
		return "no user agent (the JS SDK v3 sends none)"
	case "go-http-client":
		return "Go-http-client (aws-sdk-go-v2, minio-go, restic and rclone send this)"
	case "aws-cli/botocore":
		return "aws-cli/botocore (boto3)"
	case "aws-sdk-js":
		return "aws-sdk-js v2"
	case "aws-sdk-ruby":
		return "aws-sdk-ruby (its container provider sends \"Ruby\")"
	case "aws-crt":
		return "the AWS CRT (awscrt in Python, aws-crt in Node)"
	}
	return family
}

// clientNoun names a client family as the subject of a sentence.
func clientNoun(family string) string {
	switch family {
	case "none":
		return "a client with no User-Agent (the JS SDK v3, the CDK CLI)"
	case "go-http-client":
		return "a Go program (Go-http-client: aws-sdk-go-v2, minio-go, restic or rclone)"
	case "other":
		return "an unrecognised client"
	}
	return ClientLabel(family)
}

// RecentRefusal is how long after its last refusal a client and reason
// are still worth a warning.
const RecentRefusal = time.Hour

// RefusalNote is one recent refusal explained: who was refused and why,
// then what to do.
type RefusalNote struct {
	What, Fix string
}

func (n RefusalNote) String() string { return n.What + ": " + n.Fix }

// RecentRefusals explain the refusals of the last RecentRefusal, the
// latest first, such as "3 requests from aws-sdk-go-v2 sent no token, the
// last 2m ago".
func RecentRefusals(st *daemon.Status) []RefusalNote {
	if st == nil {
		return nil
	}
	var recent []daemon.RefusalCount
	for _, rc := range st.Refusals {
		if st.Now.Sub(rc.LastSeen) <= RecentRefusal {
			recent = append(recent, rc)
		}
	}
	slices.SortStableFunc(recent, func(a, b daemon.RefusalCount) int { return b.LastSeen.Compare(a.LastSeen) })
	var out []RefusalNote
	for _, rc := range recent {
		what := fmt.Sprintf("%s from %s %s, the last %s", Plural(rc.Count, "request"), clientNoun(rc.Client), rc.Reason.Did(), Relative(st.Now, rc.LastSeen))
		if rc.Count > 1 {
			what += ", the first " + Relative(st.Now, rc.FirstSeen)
		}
		out = append(out, RefusalNote{What: what, Fix: rc.Reason.Fix()})
	}
	return out
}
