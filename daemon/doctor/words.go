package doctor

import (
	"fmt"
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
// fixed order, where present.
func ExtraClaims(c daemon.Claims) []string {
	var out []string
	for _, k := range []string{"repository", "environment", "ref", "actor", "job_workflow_ref"} {
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
