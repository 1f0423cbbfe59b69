package server

import (
	"hash/maphash"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// RecentWindow is how many request times are kept per client family, so
// ClientCount.LastMinute counts up to this many.
const RecentWindow = 16

// family is an index into clientFamilies.
type family uint8

// The client families, in the order status lists them.
const (
	familyNone family = iota
	familyBotocore
	familyGo
	familyGoV2
	familyGoHTTP
	familyJS
	familyJSv3
	familyJava
	familyRust
	familyDotnet
	familyCpp
	familyRuby
	familyCRT
	familyTerraform
	familyCDK
	familyRclone
	familyMinio
	familyCurl
	familyCredd
	familyOther
	numFamilies
)

// clientFamilies are the client families requests are counted under: a
// small fixed set, so that counting stores no string a client sent.
var clientFamilies = [numFamilies]string{
	familyNone:      "none", // no User-Agent: the JS SDK v3 sends none to this endpoint
	familyBotocore:  "aws-cli/botocore",
	familyGo:        "aws-sdk-go",
	familyGoV2:      "aws-sdk-go-v2",
	familyGoHTTP:    "go-http-client", // Go's default: aws-sdk-go-v2's container provider, minio-go, restic, rclone
	familyJS:        "aws-sdk-js",     // v2
	familyJSv3:      "aws-sdk-js-v3",
	familyJava:      "aws-sdk-java",
	familyRust:      "aws-sdk-rust",
	familyDotnet:    "aws-sdk-dotnet",
	familyCpp:       "aws-sdk-cpp",
	familyRuby:      "aws-sdk-ruby",
	familyCRT:       "aws-crt",
	familyTerraform: "terraform",
	familyCDK:       "aws-cdk",
	familyRclone:    "rclone",
	familyMinio:     "minio-go",
	familyCurl:      "curl",
	familyCredd:     "credd",
	familyOther:     "other",
}

// uaRule maps a User-Agent substring to a family.
type uaRule struct {
	mark   string
	whole  bool // the whole User-Agent, not a substring
	family family
}

// uaRules are the SDKs' marks, first match wins: the more specific marks
// come before those they contain. Every request is classified, so the
// marks that the common SDKs' container fetchers send come first.
//
// Some tools cannot be told apart: restic and minio-go fetch container
// credentials with minio-go's IAM provider, which sets no User-Agent
// (minio-go pkg/credentials/iam_aws.go, getEcsTaskCredentials), and rclone
// loads the SDK's default config before it installs its own HTTP client
// (rclone backend/s3/s3.go, s3Connection), so all three send Go's
// "Go-http-client/1.1", as aws-sdk-go-v2 does.
var uaRules = [...]uaRule{
	{mark: "python-urllib3/", family: familyBotocore}, // botocore's container fetcher
	{mark: "Go-http-client/", family: familyGoHTTP},
	{mark: "aws-cli/", family: familyBotocore},
	{mark: "Boto3/", family: familyBotocore},
	{mark: "Botocore/", family: familyBotocore},
	{mark: "botocore/", family: familyBotocore},
	{mark: "aws-sdk-go-v2/", family: familyGoV2},
	{mark: "aws-sdk-go/", family: familyGo},
	{mark: "aws-sdk-nodejs/", family: familyJS},
	{mark: "aws-sdk-js/", family: familyJSv3},
	{mark: "aws-sdk-java/", family: familyJava},
	{mark: "aws-sdk-rust/", family: familyRust},
	{mark: "aws-sdk-dotnet", family: familyDotnet},
	{mark: "aws-sdk-cpp/", family: familyCpp},
	// awslabs/aws-c-auth source/credentials_provider_ecs.c:
	// s_ecs_user_agent_header_value = "aws-sdk-crt/ecs-credentials-provider";
	// the Python (awscrt) and Node (aws-crt) bindings use that provider.
	{mark: "aws-sdk-crt/", family: familyCRT},
	// aws/aws-sdk-ruby gems/aws-sdk-core/lib/aws-sdk-core/plugins/
	// user_agent.rb: "aws-sdk-ruby3/<version> ...". Its container provider
	// (ecs_credentials.rb, http_get) sets no User-Agent, so Net::HTTP sends
	// its default, "Ruby" (ruby/net-http lib/net/http/generic_request.rb:
	// self['User-Agent'] ||= 'Ruby').
	{mark: "Ruby", whole: true, family: familyRuby},
	{mark: "aws-sdk-ruby3/", family: familyRuby},
	{mark: "curl/", family: familyCurl},
	{mark: "credd/", family: familyCredd},
}

// toolRules are the marks of tools built on an SDK. A tool's mark wins over
// the SDK's it embeds, so they are looked for when the User-Agent names one
// of those SDKs, or none.
var toolRules = [...]uaRule{
	// hashicorp/aws-sdk-go-base aws_config.go (commonLoadOptions) adds
	// "APN/1.0 HashiCorp/1.0 Terraform/<version> (+https://www.terraform.io)"
	// (internal/config/apn_info.go) to every client built from the config,
	// and aws-sdk-go-v2 config/resolve_credentials.go hands those options to
	// the container provider (options.APIOptions = cfg.APIOptions).
	{mark: "Terraform/", family: familyTerraform},
	// aws/aws-cdk packages/aws-cdk/lib/api/aws-auth/user-agent.ts
	// (defaultCliUserAgent): "<package name>/<version>", here "aws-cdk".
	{mark: "aws-cdk/", family: familyCDK},
	// rclone fs/config.go: the default --user-agent is "rclone/"+Version,
	// and fs/fshttp/http.go (Transport.RoundTrip) forces it on every
	// request through rclone's own client.
	{mark: "rclone/", family: familyRclone},
	// minio-go api.go: libraryUserAgent = "MinIO (" + GOOS + "; " + GOARCH +
	// ") " + "minio-go/<version>" ("Minio (" before v6).
	{mark: "minio-go/", family: familyMinio},
}

func (r *uaRule) matches(ua string) bool {
	if r.whole {
		return ua == r.mark
	}
	return strings.Contains(ua, r.mark)
}

// classify returns the family of a User-Agent without allocating.
func classify(ua string) family {
	if ua == "" {
		return familyNone
	}
	f := familyOther
	for i := range uaRules {
		if uaRules[i].matches(ua) {
			f = uaRules[i].family
			break
		}
	}
	switch f {
	case familyGoV2, familyGo, familyJSv3, familyOther:
		for i := range toolRules {
			if toolRules[i].matches(ua) {
				return toolRules[i].family
			}
		}
	}
	return f
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

// userAgent is r's User-Agent, "" when it sent none.
func userAgent(r *http.Request) string {
	if v := r.Header["User-Agent"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// countClient records a credentials request under its client family.
func (h *Handler) countClient(r *http.Request, now time.Time) {
	h.clients[h.families.classify(userAgent(r))].add(now)
}

// familyCache remembers the family of recent User-Agents by a hash of
// their text, so that a client's repeated requests skip the scan of the
// marks, and still no string a client sent is kept. A slot holds the hash
// with its low byte replaced by the family.
type familyCache [16]atomic.Uint64

var familySeed = maphash.MakeSeed()

func (c *familyCache) classify(ua string) family {
	if ua == "" {
		return familyNone
	}
	h := maphash.String(familySeed, ua)
	slot := &c[h%uint64(len(c))]
	if v := slot.Load(); v != 0 && v&^0xff == h&^0xff {
		return family(v & 0xff)
	}
	f := classify(ua)
	slot.Store(h&^0xff | uint64(f))
	return f
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

// A refusal's client families fit in a uint64 bit set (refusals.go).
var _ [64 - numFamilies]struct{}
