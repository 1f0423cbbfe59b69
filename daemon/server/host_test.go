package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
)

func TestLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.1:9911", true},
		{"127.0.0.2:80", true},
		{"localhost", true},
		{"LocalHost:9911", true},
		{"[::1]", true},
		{"[::1]:9911", true},
		{"[::ffff:127.0.0.1]:9911", true},
		{"", false},
		{"::1", false},
		{"[127.0.0.1]:80", false},
		{"[::1", false},
		{"[::1]x", false},
		{"[::1]:", false},
		{"127.0.0.1:", false},
		{"127.0.0.1:99999x", false},
		{"127.0.0.1:123456", false},
		{"localhost.", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io", false},
		{"0x7f000001", false},
		{"2130706433", false},
		{"0.0.0.0", false},
		{"192.0.2.2:9911", false},
		{"[fe80::1%25lo]:80", false},
		{"169.254.170.2", false},
	}
	for _, tt := range tests {
		name := "Host " + tt.host
		if tt.want {
			name += " is accepted"
		} else {
			name += " is refused"
		}
		t.Run(name, func(t *testing.T) {
			if got := loopbackHost(tt.host); got != tt.want {
				t.Errorf("loopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

// Only accepted hosts are on the success path; a refusal may allocate.
func TestAnAcceptedHostDoesNotAllocate(t *testing.T) {
	for _, host := range []string{"127.0.0.1:9911", "localhost:9911", "[::1]:9911"} {
		if got := testing.AllocsPerRun(100, func() { loopbackHost(host) }); got != 0 {
			t.Errorf("loopbackHost(%q) allocates %v times", host, got)
		}
	}
}

type fixedProvider struct {
	c atomic.Pointer[daemon.Credentials]
}

func (p *fixedProvider) Current() *daemon.Credentials              { return p.c.Load() }
func (p *fixedProvider) Await(context.Context) *daemon.Credentials { return nil }

func TestBodyIsEncodedOncePerCredentialsValue(t *testing.T) {
	const token = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_9"
	p := &fixedProvider{}
	p.c.Store(&daemon.Credentials{AccessKeyID: "ASIAONE", Expiration: time.Now().Add(time.Hour)})
	h, err := New(Config{Roles: map[string]Provider{"": p}, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *encoded {
		r := httptest.NewRequest("GET", CredentialsPath, nil)
		r.Host = "127.0.0.1:9911"
		r.Header.Set("Authorization", token)
		h.ServeHTTP(httptest.NewRecorder(), r)
		return h.routes.Load().defaultRole.cache.Load()
	}
	first := get()
	if second := get(); second != first {
		t.Error("the same credentials were encoded again")
	}
	p.c.Store(&daemon.Credentials{AccessKeyID: "ASIATWO", Expiration: time.Now().Add(time.Hour)})
	third := get()
	if third == first || !strings.Contains(string(third.body), "ASIATWO") {
		t.Errorf("new credentials were not re-encoded: %s", third.body)
	}
}

// The family cache answers what classify answers, for clients that take
// turns, more of them than it has slots, and without allocating.
func TestFamilyCacheAgreesWithClassify(t *testing.T) {
	var c familyCache
	uas := []string{"", "Go-http-client/1.1", "aws-cli/2.15.0 md/Botocore#2.0", "Ruby", "aws-sdk-go-v2/1.48.0 APN/1.0 HashiCorp/1.0 Terraform/1.9.0"}
	for i := range 40 {
		uas = append(uas, fmt.Sprintf("aws-sdk-java/2.25.%d Linux", i), fmt.Sprintf("tool-%d/1.0", i))
	}
	for round := range 3 {
		for _, ua := range uas {
			if got, want := c.classify(ua), classify(ua); got != want {
				t.Fatalf("round %d: %q: cache says %s, classify %s", round, ua, clientFamilies[got], clientFamilies[want])
			}
		}
	}
	ua := "Go-http-client/1.1"
	if n := testing.AllocsPerRun(100, func() { c.classify(ua) }); n != 0 {
		t.Errorf("classify through the cache allocates %v times", n)
	}
}
