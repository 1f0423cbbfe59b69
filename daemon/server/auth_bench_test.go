package server

// Benchmarks of the hot paths, run by bench/run.sh with -benchmem. The
// target is zero allocations on the success path of the handler itself;
// net/http's own per-request allocations are measured against a bare
// handler in BenchmarkHTTPRoundTrip.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
)

const benchToken = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_9"

type benchProvider struct{ c *daemon.Credentials }

func (p benchProvider) Current() *daemon.Credentials              { return p.c }
func (p benchProvider) Await(context.Context) *daemon.Credentials { return p.c }

func benchHandler(b *testing.B) *Handler {
	b.Helper()
	h, err := New(Config{
		Roles: map[string]Provider{"": benchProvider{&daemon.Credentials{
			AccessKeyID: "ASIABENCHBENCHBENCH1", SecretAccessKey: "0123456789012345678901234567890123456789",
			SessionToken: "IQoJb3JpZ2luX2VjEBenchSessionToken", Expiration: time.Now().Add(time.Hour),
			RoleARN: "arn:aws:iam::123456789012:role/dev", AccountID: "123456789012",
		}}},
		Token: benchToken,
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkAuthCheck is the authorization check alone: SHA-256 of the header
// value and a constant-time comparison.
func BenchmarkAuthCheck(b *testing.B) {
	h := benchHandler(b)
	for _, bc := range []struct {
		name   string
		header []string
		ok     bool
	}{
		{"valid", []string{benchToken}, true},
		{"wrong", []string{"zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJ"}, false},
		{"missing", nil, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9911/v1/credentials", nil)
			if bc.header != nil {
				r.Header["Authorization"] = bc.header
			}
			b.ReportAllocs()
			for b.Loop() {
				if body, _ := h.unauthorized(r); (body == nil) != bc.ok {
					b.Fatalf("authorized = %v, want %v", body == nil, bc.ok)
				}
			}
		})
	}
}

// BenchmarkHostCheck is the DNS-rebinding check on an accepted Host.
func BenchmarkHostCheck(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !loopbackHost("127.0.0.1:9911") {
			b.Fatal("refused")
		}
	}
}

// BenchmarkServeCredentialsParallel is the success path from every P at
// once: contention on the shared counters and the encoded-body cache.
func BenchmarkServeCredentialsParallel(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9911/v1/credentials", nil)
		r.Header["Authorization"] = []string{benchToken}
		w := &benchWriter{h: make(http.Header)}
		for pb.Next() {
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

// BenchmarkHTTPRoundTrip is a whole request over loopback through net/http
// with a keep-alive client: credd's handler against a bare handler writing
// the same body, so the difference is what credd adds.
func BenchmarkHTTPRoundTrip(b *testing.B) {
	h := benchHandler(b)
	probe := httptest.NewRecorder()
	r0 := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/v1/credentials", nil)
	r0.Header["Authorization"] = []string{benchToken}
	h.ServeHTTP(probe, r0)
	body := probe.Body.Bytes()
	// The same headers as credd's, shared across requests as credd shares
	// them, so the difference is credd's routing, checks and counters.
	ctype, nostore, nosniff := []string{"application/json"}, []string{"no-store"}, []string{"nosniff"}
	length := []string{strconv.Itoa(len(body))}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr["Content-Type"] = ctype
		hdr["Cache-Control"] = nostore
		hdr["X-Content-Type-Options"] = nosniff
		hdr["Content-Length"] = length
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"credd", h}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			client := srv.Client()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+CredentialsPath, nil)
			req.Header["Authorization"] = []string{benchToken}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(s int)           { w.status = s }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
