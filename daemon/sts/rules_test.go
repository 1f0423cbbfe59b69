package sts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sts"
)

func TestSessionNameFromFitsTheRule(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                 "alice",
		"a":                     "a-",
		"bob smith@host.local":  "bob-smith@host.local",
		strings.Repeat("x", 80): strings.Repeat("x", 64),
		"ünïcode":               "-n-code",
		"":                      "--",
	} {
		got := sts.SessionNameFrom(in)
		if got != want {
			t.Errorf("SessionNameFrom(%q) = %q, want %q", in, got, want)
		}
		if err := sts.CheckSessionName(got); err != nil {
			t.Errorf("SessionNameFrom(%q) = %q breaks the rule: %v", in, got, err)
		}
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"a two-character session name passes", sts.CheckSessionName("ab"), true},
		{"a one-character session name fails", sts.CheckSessionName("a"), false},
		{"a 65-character session name fails", sts.CheckSessionName(strings.Repeat("a", 65)), false},
		{"a space in a session name fails", sts.CheckSessionName("a b"), false},
		{"15 minutes pass", sts.CheckDuration(15 * time.Minute), true},
		{"12 hours pass", sts.CheckDuration(12 * time.Hour), true},
		{"less than 15 minutes fails", sts.CheckDuration(14 * time.Minute), false},
		{"more than 12 hours fails", sts.CheckDuration(12*time.Hour + time.Second), false},
		{"a fraction of a second fails", sts.CheckDuration(time.Hour + time.Millisecond), false},
		{"no region means the default and passes", sts.CheckRegion(""), true},
		{"a China region passes", sts.CheckRegion("cn-north-1"), true},
		{"a region with a space fails", sts.CheckRegion("us east 1"), false},
		{"a bare word fails as a region", sts.CheckRegion("useast"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err == nil) != tt.ok {
				t.Errorf("err = %v, want ok = %v", tt.err, tt.ok)
			}
		})
	}
}

// The endpoint shown in status is the one the SDK's resolver picks, so it
// is right in every partition (AWS STS regional endpoints:
// https://docs.aws.amazon.com/general/latest/gr/sts.html).
func TestEndpointURLIsTheSDKsRegionalEndpoint(t *testing.T) {
	for _, tt := range []struct{ region, endpoint, want string }{
		{"", "", "https://sts.us-east-1.amazonaws.com"},
		{"eu-west-1", "", "https://sts.eu-west-1.amazonaws.com"},
		{"cn-north-1", "", "https://sts.cn-north-1.amazonaws.com.cn"},
		{"us-gov-west-1", "", "https://sts.us-gov-west-1.amazonaws.com"},
		{"eu-west-1", "http://127.0.0.1:4566", "http://127.0.0.1:4566"},
	} {
		if got := sts.EndpointURL(tt.region, tt.endpoint); got != tt.want {
			t.Errorf("EndpointURL(%q, %q) = %q, want %q", tt.region, tt.endpoint, got, tt.want)
		}
	}
}
