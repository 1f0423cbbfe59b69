package server_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/server"
)

func TestClientsAreCountedByUserAgentFamily(t *testing.T) {
	fake := clock.NewFake(now)
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("DEFAULT"))}, func(c *server.Config) { c.Clock = fake })
	uas := []struct{ ua, family string }{
		{"", "none"},
		{"aws-cli/2.15.0 md/Botocore#2.0 ua/2.0 os/linux", "aws-cli/botocore"},
		{"Boto3/1.34.0 md/Botocore#1.34.0", "aws-cli/botocore"},
		{"python-urllib3/1.26.12", "aws-cli/botocore"},
		{"aws-sdk-go/1.55.8 (go1.26; linux; amd64)", "aws-sdk-go"},
		{"aws-sdk-go-v2/1.48.0 os/linux", "aws-sdk-go-v2"},
		{"Go-http-client/1.1", "go-http-client"},
		{"aws-sdk-nodejs/2.1693.0 linux/v20", "aws-sdk-js"},
		{"aws-sdk-js/3.600.0 ua/2.0", "aws-sdk-js-v3"},
		{"aws-sdk-java/2.25.0 Linux/6.1", "aws-sdk-java"},
		{"aws-sdk-rust/1.1.8 os/linux", "aws-sdk-rust"},
		{"aws-sdk-dotnet-coreclr/3.7.0", "aws-sdk-dotnet"},
		{"aws-sdk-cpp/1.11.0 Linux", "aws-sdk-cpp"},
		{"aws-sdk-ruby3/3.190.0 md/internal ua/2.0 api/xray#1.0.0 os/linux md/x86_64 lang/ruby#2.7.8", "aws-sdk-ruby"},
		{"Ruby", "aws-sdk-ruby"}, // Net::HTTP's default: the Ruby SDK's container provider
		{"aws-sdk-crt/ecs-credentials-provider", "aws-crt"},
		{"APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.70.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.4 os/linux lang/go#1.22.6", "terraform"},
		{"APN/1.0 HashiCorp/1.0 Terraform/1.4.5 aws-sdk-go/1.44.122 (go1.19.6; linux; amd64)", "terraform"},
		{"aws-cdk/2.160.0", "aws-cdk"},
		{"aws-sdk-js/3.600.0 ua/2.0 os/linux#6.1 lang/js md/nodejs#20.11.0 api/cloudformation#3.600.0 aws-cdk/2.160.0", "aws-cdk"},
		{"rclone/v1.68.1", "rclone"},
		{"MinIO (linux; amd64) minio-go/v7.0.77 mc/RELEASE.2024-10-02T08-27-28Z", "minio-go"},
		{"Minio (linux; amd64) minio-go/4.0.6", "minio-go"},
		{"Ruby/3.3 something", "other"}, // "Ruby" is matched whole only
		{"curl/8.5.0", "curl"},
		{"credd/dev doctor", "credd"},
		{"Mozilla/5.0 something else entirely", "other"},
	}
	want := map[string]int64{}
	for _, u := range uas {
		r := newRequest("GET", "/v1/credentials", auth())
		if u.ua != "" {
			r.Header.Set("User-Agent", u.ua)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		want[u.family]++
	}
	// Health checks are not credential fetches.
	h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", "/healthz", map[string]string{"User-Agent": "curl/8"}))
	got := map[string]int64{}
	for _, c := range h.Clients() {
		got[c.Client] = c.Count
		if c.LastMinute != int(c.Count) {
			t.Errorf("%s: lastMinute %d, want %d", c.Client, c.LastMinute, c.Count)
		}
		if !c.LastSeen.Equal(now) {
			t.Errorf("%s: lastSeen %v, want %v", c.Client, c.LastSeen, now)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d requests, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func TestRecentFetchesAreBoundedAndAgeOut(t *testing.T) {
	fake := clock.NewFake(now)
	h := newHandler(t, map[string]server.Provider{"": serving(testCreds("DEFAULT"))}, func(c *server.Config) { c.Clock = fake })
	fetch := func() {
		r := newRequest("GET", "/v1/credentials", auth("User-Agent", "aws-cli/2.9.19"))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for range 40 {
		fetch()
		fake.Advance(time.Second)
	}
	c := only(t, h.Clients())
	if c.Count != 40 || c.LastMinute != server.RecentWindow {
		t.Errorf("count %d lastMinute %d, want 40 and %d", c.Count, c.LastMinute, server.RecentWindow)
	}
	fake.Advance(50 * time.Second) // the last 16 were at 24s..39s; now is 90s, so 30s..39s count
	if c := only(t, h.Clients()); c.LastMinute != 10 {
		t.Errorf("lastMinute %d after 50s, want 10", c.LastMinute)
	}
	fake.Advance(time.Hour)
	if c := only(t, h.Clients()); c.LastMinute != 0 || c.Count != 40 {
		t.Errorf("after an hour: %+v", c)
	}
}

func only(t *testing.T, cs []daemon.ClientCount) daemon.ClientCount {
	t.Helper()
	if len(cs) != 1 {
		t.Fatalf("clients = %+v, want one", cs)
	}
	return cs[0]
}
