package server

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
)

// TestEveryRefusedHeaderIsRefused fails if any row of the refusal table
// would let its header through: sent on an otherwise good request, in any
// case and with any value, each header gets 403 and its own body.
func TestEveryRefusedHeaderIsRefused(t *testing.T) {
	h, err := New(Config{
		Roles: map[string]Provider{"": benchProvider{&daemon.Credentials{
			AccessKeyID: "ASIAREFUSEDREFUSED01", SecretAccessKey: "secret", SessionToken: "token",
			Expiration: time.Now().Add(time.Hour),
		}}},
		Token: benchToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	// The request passes without a refused header, so a 403 below is the
	// header's doing.
	if status, body := rawGet(t, srv.Listener.Addr().String(), ""); status != http.StatusOK {
		t.Fatalf("a good request got %d: %s", status, body)
	}

	if len(refusals) == 0 {
		t.Fatal("the refusal table is empty")
	}
	bodies := map[string]string{}
	for _, rf := range refusals {
		t.Run(rf.header+" is refused with its own body", func(t *testing.T) {
			if c := http.CanonicalHeaderKey(rf.header); c != rf.header {
				t.Fatalf("the table has %q, but Go canonicalises incoming keys to %q: it would never match", rf.header, c)
			}
			if !bytes.Contains(bytes.ToLower(rf.body), []byte(strings.ToLower(rf.header))) {
				t.Errorf("the body does not name the header: %s", rf.body)
			}
			if other, ok := bodies[string(rf.body)]; ok {
				t.Errorf("the body is %s's too, so it cannot say which header was refused", other)
			}
			bodies[string(rf.body)] = rf.header

			for _, line := range []string{
				rf.header + ": x",
				strings.ToLower(rf.header) + ": x",
				strings.ToUpper(rf.header) + ":",
			} {
				status, body := rawGet(t, srv.Listener.Addr().String(), line)
				if status != http.StatusForbidden || !bytes.Equal(body, rf.body) {
					t.Errorf("with %q: got %d %s, want 403 %s", line, status, body, rf.body)
				}
			}
		})
	}
}

// rawGet sends GET /v1/credentials with a valid token and the extra header
// line (if any) exactly as given, and returns the answer.
func rawGet(t *testing.T, addr, extra string) (int, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if extra != "" {
		extra += "\r\n"
	}
	if _, err := fmt.Fprintf(c, "GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n%sConnection: close\r\n\r\n", benchToken, extra); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Bytes()
}
