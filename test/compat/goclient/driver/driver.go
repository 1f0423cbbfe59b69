// Package driver is the command-line protocol shared by the Go client
// programs of the compatibility suite (test/compat), so that they behave
// like its Python and JavaScript clients:
//
//	client version
//	client calls N [ENDPOINT]      N GetCallerIdentity calls in one process
//	client loop SECONDS [ENDPOINT] one call every 0.5 s until SECONDS pass
//
// Every call prints one JSON line, {"n":1,"ok":true,"arn":"...","akid":"..."}
// or {"n":1,"ok":false,"error":"..."}; akid is the access key that signed
// the call. `calls` exits 1 if a call failed.
package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Caller makes one GetCallerIdentity call and returns the ARN it answered.
type Caller func(ctx context.Context) (arn string, err error)

// Line is what a client prints for each call.
type Line struct {
	N     int    `json:"n"`
	OK    bool   `json:"ok"`
	ARN   string `json:"arn,omitempty"`
	AKID  string `json:"akid,omitempty"`
	Error string `json:"error,omitempty"`
}

// Main runs the protocol. newCaller builds the SDK client for endpoint
// ("" = the SDK's own resolution) with capture as its HTTP client.
func Main(modules []string, newCaller func(endpoint string, capture *http.Client) (Caller, error)) int {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "version" {
		return printJSON(map[string]string{"version": Versions(modules...)})
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: client version | calls N [ENDPOINT] | loop SECONDS [ENDPOINT]")
		return 2
	}
	n, err := strconv.ParseFloat(args[1], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	endpoint := ""
	if len(args) > 2 {
		endpoint = args[2]
	}
	rec := &recorder{next: http.DefaultTransport}
	call, err := newCaller(endpoint, &http.Client{Transport: rec})
	if err != nil {
		fmt.Fprintln(os.Stderr, "set up the client:", err)
		return 1
	}
	one := func(i int) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rec.reset()
		arn, err := call(ctx)
		l := Line{N: i, OK: err == nil, ARN: arn, AKID: rec.accessKey()}
		if err != nil {
			l.AKID, l.Error = "", err.Error()
		}
		printJSON(l)
		return l.OK
	}
	switch args[0] {
	case "calls":
		ok := true
		for i := 1; i <= int(n); i++ {
			ok = one(i) && ok
		}
		if !ok {
			return 1
		}
		return 0
	case "loop":
		deadline := time.Now().Add(time.Duration(n * float64(time.Second)))
		for i := 1; time.Now().Before(deadline); i++ {
			one(i)
			time.Sleep(500 * time.Millisecond)
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown mode %q\n", args[0])
	return 2
}

func printJSON(v any) int {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
	return 0
}

// Versions lists the build's versions of modules, e.g.
// "github.com/aws/aws-sdk-go v1.55.8".
func Versions(modules ...string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var out []string
	for _, m := range modules {
		for _, d := range bi.Deps {
			if d.Path == m {
				out = append(out, strings.TrimPrefix(d.Path, "github.com/aws/")+" "+d.Version)
			}
		}
	}
	return strings.Join(out, ", ")
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/`)

// recorder remembers the access key of the last SigV4-signed request.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	akid string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if m := credentialRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		r.mu.Lock()
		r.akid = m[1]
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.akid = ""
	r.mu.Unlock()
}

func (r *recorder) accessKey() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.akid
}
