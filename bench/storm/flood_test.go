package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/bench/loaddoc"
)

// endpoint starts a stand-in for credd's endpoint on 127.0.0.1:0: 200 with
// the token, 401 without, closing connections silent or idle for 100 ms.
func endpoint(t *testing.T) (url, tokenFile string) {
	t.Helper()
	const tok = "bench-test-token"
	tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != tok {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code":"Unauthorized","message":"no token"}`))
			return
		}
		w.Write([]byte(`{"AccessKeyId":"x"}`))
	}))
	ts.Config.ReadHeaderTimeout = 100 * time.Millisecond
	ts.Config.IdleTimeout = 100 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL + "/v1/credentials", tokenFile
}

func TestFlood(t *testing.T) {
	for _, kind := range []string{floodSilent, floodUnauth, floodChurn, floodSlowloris} {
		t.Run(kind, func(t *testing.T) {
			u, tokenFile := endpoint(t)
			c := floodConfig{url: u, tokenFile: tokenFile, kind: kind, rate: 200, duration: 400 * time.Millisecond,
				probeInterval: 10 * time.Millisecond, probeTimeout: time.Second, pid: os.Getpid()}
			if err := c.check(); err != nil {
				t.Fatal(err)
			}
			res, err := runFlood(c)
			if err != nil {
				t.Fatal(err)
			}
			f := res.Flood
			if f.Attempted != 80 {
				t.Errorf("attempted %d connections, want 200/s × 0.4 s = 80", f.Attempted)
			}
			if f.Opened+f.DialErrors+f.DialsPending != f.Attempted || f.Opened == 0 {
				t.Errorf("counts do not add up: %+v", f)
			}
			switch kind {
			case floodChurn:
				// Each closed by the flood after its answer; none left open.
				if f.ClosedByServer != 0 || f.Responses["401"] == 0 || f.Responses["401"]+f.OpenAtEnd != f.Opened {
					t.Errorf("churn: %+v", f)
				}
			default:
				// The stand-in closes what is silent or idle for 100 ms: the
				// first connections of a 400 ms flood are gone by its end.
				if f.ClosedByServer == 0 || f.ClosedByServer+f.OpenAtEnd != f.Opened {
					t.Errorf("%s: %+v", kind, f)
				}
				if (kind == floodSilent || kind == floodSlowloris) && len(f.Responses) != 0 {
					t.Errorf("%s connections got answers: %v", kind, f.Responses)
				}
				if kind == floodUnauth && (f.Responses["401"] == 0 || len(f.Responses) != 1) {
					t.Errorf("unauth answers: %v", f.Responses)
				}
			}
			for name, p := range map[string]loaddoc.Probe{"keepalive": res.Probes.KeepAlive, "newconn": res.Probes.NewConn} {
				if p.Requests == 0 || p.OK != p.Requests || p.Errors != 0 || p.Over1s != 0 || p.MaxMs <= 0 || p.MaxMs < p.P99Ms {
					t.Errorf("probe %s: %+v", name, p)
				}
			}
			if res.Probes.KeepAlive.Requests <= res.Probes.NewConn.Requests {
				t.Errorf("keep-alive probe sent %d, new-connection probe %d: want 5× as many", res.Probes.KeepAlive.Requests, res.Probes.NewConn.Requests)
			}
			if res.ServerFDsMax == 0 || res.ServerRSSMaxKiB == 0 || res.ServerThreadsMax == 0 || res.ServerSampleError != "" {
				t.Errorf("server samples: fds %d, rss %d KiB, threads %d, error %q",
					res.ServerFDsMax, res.ServerRSSMaxKiB, res.ServerThreadsMax, res.ServerSampleError)
			}
		})
	}
}

func TestFloodRefusesToStart(t *testing.T) {
	u, tokenFile := endpoint(t)
	wrong := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(wrong, []byte("not-the-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := floodConfig{url: u, tokenFile: tokenFile, kind: floodSilent, rate: 10, duration: 100 * time.Millisecond,
		probeInterval: 10 * time.Millisecond, probeTimeout: time.Second}
	for _, tc := range []struct {
		name string
		edit func(c *floodConfig)
		want string
	}{
		{"a server that is not there", func(c *floodConfig) { c.url = "http://127.0.0.1:1/v1/credentials" }, "cannot be reached"},
		{"a token the server refuses", func(c *floodConfig) { c.tokenFile = wrong }, "answered 401"},
		{"a token file that does not exist", func(c *floodConfig) { c.tokenFile = wrong + ".missing" }, "reading the token"},
		{"a server process that does not exist", func(c *floodConfig) { c.pid = 1 << 30 }, "-pid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if _, err := runFlood(c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestFloodConfigCheck(t *testing.T) {
	ok := floodConfig{url: "http://127.0.0.1:9/v1/credentials", tokenFile: "t", kind: floodChurn, rate: 1000,
		duration: time.Second, probeInterval: 10 * time.Millisecond, probeTimeout: time.Second}
	if err := ok.check(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *floodConfig)
		want string
	}{
		{"a host other than 127.0.0.1", func(c *floodConfig) { c.url = "http://localhost:9/" }, "127.0.0.1"},
		{"no token file", func(c *floodConfig) { c.tokenFile = "" }, "-token-file"},
		{"an unknown kind", func(c *floodConfig) { c.kind = "loud" }, "silent, unauth, churn or slowloris"},
		{"a zero rate", func(c *floodConfig) { c.rate = 0 }, "-rate"},
		{"a zero duration", func(c *floodConfig) { c.duration = 0 }, "-duration"},
		{"a zero probe interval", func(c *floodConfig) { c.probeInterval = 0 }, "-probe-interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
