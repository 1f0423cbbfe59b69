// Package protocol is the command-line protocol of the compatibility
// suite's third-party Go clients (test/compat), the subset of package
// driver they need:
//
//	client version
//	client calls N ENDPOINT   N signed requests in one process
//
// ENDPOINT is the sandbox STS or the suite's S3 stand-in. Every request
// prints one JSON line, {"n":1,"ok":true,"arn":"...","akid":"..."} or
// {"n":1,"ok":false,"error":"..."}; akid is the access key that signed the
// request, arn what GetCallerIdentity answered (S3 clients print the
// object they wrote). `calls` exits 1 if a request failed.
package protocol

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

// Caller makes one signed request and returns what identifies its result.
type Caller func(ctx context.Context, n int) (string, error)

// Line is what a client prints for each request.
type Line struct {
	N     int    `json:"n"`
	OK    bool   `json:"ok"`
	ARN   string `json:"arn,omitempty"`
	AKID  string `json:"akid,omitempty"`
	Error string `json:"error,omitempty"`
}

// Main runs the protocol. newCaller builds the client for endpoint, with
// capture as its HTTP client.
func Main(modules []string, newCaller func(endpoint string, capture *http.Client) (Caller, error)) int {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "version" {
		return printJSON(map[string]string{"version": Versions(modules...)})
	}
	if len(args) != 3 || args[0] != "calls" {
		fmt.Fprintln(os.Stderr, "usage: client version | calls N ENDPOINT")
		return 2
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rec := &recorder{next: http.DefaultTransport}
	call, err := newCaller(args[2], &http.Client{Transport: rec})
	if err != nil {
		fmt.Fprintln(os.Stderr, "set up the client:", err)
		return 1
	}
	ok := true
	for i := 1; i <= n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		rec.reset()
		got, err := call(ctx, i)
		cancel()
		l := Line{N: i, OK: err == nil, ARN: got, AKID: rec.accessKey()}
		if err != nil {
			l.ARN, l.AKID, l.Error = "", "", err.Error()
		}
		printJSON(l)
		ok = ok && l.OK
	}
	if !ok {
		return 1
	}
	return 0
}

func printJSON(v any) int {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
	return 0
}

// Versions lists the build's versions of modules, e.g.
// "github.com/minio/minio-go/v7 v7.4.1".
func Versions(modules ...string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var out []string
	for _, m := range modules {
		for _, d := range bi.Deps {
			if d.Path == m {
				out = append(out, d.Path+" "+d.Version)
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
