package server

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// RecentWindow is how many request times are kept per client family, so
// ClientCount.LastMinute counts up to this many.
const RecentWindow = 16

// clientFamilies are the client families requests are counted under: a
// small fixed set, so that counting stores no string a client sent.
var clientFamilies = [...]string{
	"none", // no User-Agent: the JS SDK v3 sends none to this endpoint
	"aws-cli/botocore",
	"aws-sdk-go",
	"aws-sdk-go-v2",
	"go-http-client", // what aws-sdk-go-v2's container provider sends
	"aws-sdk-js",     // v2
	"aws-sdk-js-v3",
	"aws-sdk-java",
	"aws-sdk-rust",
	"aws-sdk-dotnet",
	"aws-sdk-cpp",
	"curl",
	"credd",
	"other",
}

// uaRules map a User-Agent substring to a family, first match wins: the
// more specific marks come before those they contain.
var uaRules = [...]struct {
	mark   string
	family int
}{
	{"aws-cli/", 1},
	{"Boto3/", 1},
	{"Botocore/", 1},
	{"botocore/", 1},
	{"python-urllib3/", 1}, // botocore's container fetcher
	{"aws-sdk-go-v2/", 3},
	{"aws-sdk-go/", 2},
	{"Go-http-client/", 4},
	{"aws-sdk-nodejs/", 5},
	{"aws-sdk-js/", 6},
	{"aws-sdk-java/", 7},
	{"aws-sdk-rust/", 8},
	{"aws-sdk-dotnet", 9},
	{"aws-sdk-cpp/", 10},
	{"curl/", 11},
	{"credd/", 12},
}

// classify returns the family of a User-Agent without allocating.
func classify(ua string) int {
	if ua == "" {
		return 0
	}
	for _, r := range uaRules {
		if strings.Contains(ua, r.mark) {
			return r.family
		}
	}
	return len(clientFamilies) - 1
}

// clientCounter counts one family's requests and keeps the times of the
// last RecentWindow of them in a ring, lock-free.
type clientCounter struct {
	n      atomic.Int64
	next   atomic.Uint64
	recent [RecentWindow]atomic.Int64 // unix nanoseconds; 0 = unused
}

func (c *clientCounter) add(now time.Time) {
	c.n.Add(1)
	i := c.next.Add(1) - 1
	c.recent[i%RecentWindow].Store(now.UnixNano())
}

// countClient records a credentials request under its client family.
func (h *Handler) countClient(r *http.Request, now time.Time) {
	var ua string
	if v := r.Header["User-Agent"]; len(v) > 0 {
		ua = v[0]
	}
	h.clients[classify(ua)].add(now)
}

// Clients returns the credentials requests so far by client family, leaving
// out families never seen, with how many came in the last minute.
func (h *Handler) Clients() []daemon.ClientCount {
	now := h.clock.Now().UnixNano()
	var out []daemon.ClientCount
	for i := range h.clients {
		c := &h.clients[i]
		n := c.n.Load()
		if n == 0 {
			continue
		}
		cc := daemon.ClientCount{Client: clientFamilies[i], Count: n}
		var last int64
		for j := range c.recent {
			t := c.recent[j].Load()
			if t == 0 {
				continue
			}
			last = max(last, t)
			if now-t <= int64(time.Minute) && t <= now {
				cc.LastMinute++
			}
		}
		if last != 0 {
			cc.LastSeen = time.Unix(0, last).UTC()
		}
		out = append(out, cc)
	}
	return out
}
