package server

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/termsafe"
)

// Most SDKs hide credd's 401 and 403 messages (the user sees "401
// Unauthorized" or "no credential providers"), so the daemon says, in its
// log and in `credd status`, who was refused, why, and what to do.

// why is the reason a request was refused: an index into reasons.
type why uint8

const (
	notRefused why = iota
	whyNoToken
	whyWrongToken
	whyScheme
	whyHost
	whyBrowser
	whyProxy
	whyMethod
	whyUnknownRole
	whyUnknownPath
	numWhys
)

// reasons are each refusal's name in daemon.Status and the status it is
// answered with.
var reasons = [numWhys]struct {
	code   daemon.Refusal
	status int
}{
	whyNoToken:     {daemon.RefusedNoToken, http.StatusUnauthorized},
	whyWrongToken:  {daemon.RefusedWrongToken, http.StatusUnauthorized},
	whyScheme:      {daemon.RefusedTokenScheme, http.StatusUnauthorized},
	whyHost:        {daemon.RefusedHost, http.StatusForbidden},
	whyBrowser:     {daemon.RefusedBrowser, http.StatusForbidden},
	whyProxy:       {daemon.RefusedProxy, http.StatusForbidden},
	whyMethod:      {daemon.RefusedMethod, http.StatusMethodNotAllowed},
	whyUnknownRole: {daemon.RefusedUnknownRole, http.StatusNotFound},
	whyUnknownPath: {daemon.RefusedUnknownPath, http.StatusNotFound},
}

// RefusalLogEvery is how often, at most, a reason gets a summary line: the
// first refusal of each reason and client family is logged at once, later
// ones are counted and summed up with the next refusal of that reason a
// minute or more after its last line.
const RefusalLogEvery = time.Minute

// maxLoggedUA is how much of a User-Agent a log line keeps.
const maxLoggedUA = 160

// refusalBook keeps the refusals per reason and client family: a fixed
// array, so its size is bounded whatever clients send.
type refusalBook struct {
	mu    sync.Mutex
	stats [numWhys][numFamilies]refusalStat
	lines [numWhys]reasonLines
}

type refusalStat struct {
	count       int64
	first, last time.Time
}

// reasonLines is one reason's rate limit.
type reasonLines struct {
	last     time.Time // of the reason's last log line
	pending  int64     // refusals not logged yet
	since    time.Time // of the first of them
	families uint64    // a bit per client family among them
}

// noteRefusal counts a refused request and logs it, rate-limited. The
// refusal path may allocate; the success path never comes here.
func (h *Handler) noteRefusal(r *http.Request, w why, now time.Time) {
	ua := userAgent(r)
	fam := classify(ua)
	b := &h.refusals
	b.mu.Lock()
	s := &b.stats[w][fam]
	first := s.count == 0
	s.count++
	if first {
		s.first = now
	}
	s.last = now
	l := &b.lines[w]
	var summary bool
	var pending int64
	var families uint64
	var since time.Time
	switch {
	case first:
		l.last = now
	default:
		if l.pending == 0 {
			l.since = now
		}
		l.pending++
		l.families |= 1 << fam
		if now.Sub(l.last) >= RefusalLogEvery {
			summary, pending, families, since = true, l.pending, l.families, l.since
			*l = reasonLines{last: now}
		}
	}
	b.mu.Unlock()

	ctx := r.Context()
	code := reasons[w].code
	switch {
	case first:
		// Never the Authorization header, never the path (it may hold a
		// secret a misconfigured client put there).
		h.logger.LogAttrs(ctx, slog.LevelWarn, "refused a credentials request that "+code.Did(),
			slog.String("reason", string(code)),
			slog.Int("status", reasons[w].status),
			slog.String("client", clientFamilies[fam]),
			slog.String("user_agent", loggableUA(ua)),
			slog.String("remote", r.RemoteAddr),
			slog.String("fix", code.Fix()))
	case summary:
		h.logger.LogAttrs(ctx, slog.LevelWarn, "refused more credentials requests that "+code.Did(),
			slog.String("reason", string(code)),
			slog.Int64("count", pending),
			slog.Time("since", since),
			slog.String("clients", familyList(families)),
			slog.String("last_user_agent", loggableUA(ua)),
			slog.String("fix", code.Fix()))
	}
}

// loggableUA is a User-Agent cut to maxLoggedUA bytes (on a character
// boundary) with its control characters escaped, so that a client cannot
// forge log lines or drive the terminal of whoever reads them.
func loggableUA(ua string) string {
	if ua == "" {
		return "(none)"
	}
	if len(ua) > maxLoggedUA {
		n := maxLoggedUA
		for n > 0 && !utf8.RuneStart(ua[n]) {
			n--
		}
		ua = ua[:n] + "…"
	}
	return termsafe.Escape(ua)
}

// familyList names the families whose bits are set, comma-separated.
func familyList(bits uint64) string {
	var names []string
	for f := range numFamilies {
		if bits&(1<<f) != 0 {
			names = append(names, clientFamilies[f])
		}
	}
	return strings.Join(names, ",")
}

// Refusals returns the refused requests so far by reason and client
// family, leaving out pairs never seen.
func (h *Handler) Refusals() []daemon.RefusalCount {
	b := &h.refusals
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []daemon.RefusalCount
	for w := range b.stats {
		for f := range b.stats[w] {
			s := b.stats[w][f]
			if s.count == 0 {
				continue
			}
			out = append(out, daemon.RefusalCount{
				Reason: reasons[w].code, Client: clientFamilies[f], Status: reasons[w].status,
				Count: s.count, FirstSeen: s.first.UTC(), LastSeen: s.last.UTC(),
			})
		}
	}
	return out
}
