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
// is right in every partition and for FIPS and dual-stack (AWS STS
// endpoints: https://docs.aws.amazon.com/general/latest/gr/sts.html).
func TestEndpointURLIsTheSDKsEndpoint(t *testing.T) {
	for _, tt := range []struct {
		cfg  sts.Config
		want string
	}{
		{sts.Config{}, "https://sts.us-east-1.amazonaws.com"},
		{sts.Config{Region: "eu-west-1"}, "https://sts.eu-west-1.amazonaws.com"},
		{sts.Config{Region: "cn-north-1"}, "https://sts.cn-north-1.amazonaws.com.cn"},
		{sts.Config{Region: "us-gov-west-1"}, "https://sts.us-gov-west-1.amazonaws.com"},
		{sts.Config{Region: "us-iso-east-1"}, "https://sts.us-iso-east-1.c2s.ic.gov"},
		{sts.Config{Region: "eusc-de-east-1"}, "https://sts.eusc-de-east-1.amazonaws.eu"},
		{sts.Config{Region: "us-east-1", UseFIPS: true}, "https://sts-fips.us-east-1.amazonaws.com"},
		{sts.Config{Region: "eu-west-1", UseDualStack: true}, "https://sts.eu-west-1.api.aws"},
		{sts.Config{Region: "eu-west-1", Endpoint: "http://127.0.0.1:4566"}, "http://127.0.0.1:4566"},
	} {
		if got := sts.EndpointURL(tt.cfg); got != tt.want {
			t.Errorf("EndpointURL(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

// A role's partition decides the defaults it gets: China's STS expects
// the audience sts.amazonaws.com.cn (configure-aws-credentials README,
// "Audience"), and each partition has its own regions (aws-sdk-go-v2
// internal/endpoints/awsrulesfn/partitions.json).
func TestPartitions(t *testing.T) {
	for _, tt := range []struct {
		arn, partition, region, audience string
	}{
		{"arn:aws:iam::123456789012:role/dev", "aws", "us-east-1", "sts.amazonaws.com"},
		{"arn:aws-cn:iam::123456789012:role/dev", "aws-cn", "cn-north-1", "sts.amazonaws.com.cn"},
		{"arn:aws-us-gov:iam::123456789012:role/dev", "aws-us-gov", "us-gov-west-1", "sts.amazonaws.com"},
		{"", "aws", "us-east-1", "sts.amazonaws.com"},
	} {
		p := sts.PartitionOfARN(tt.arn)
		region, audience := sts.PartitionDefaults(p)
		if p != tt.partition || region != tt.region || audience != tt.audience {
			t.Errorf("%q: partition %s, defaults %s %s; want %s, %s %s", tt.arn, p, region, audience, tt.partition, tt.region, tt.audience)
		}
		if got := sts.PartitionOfRegion(region); got != p {
			t.Errorf("the default region %s of %s is in partition %q", region, p, got)
		}
	}
	for region, want := range map[string]string{"eu-west-1": "aws", "us-gov-east-1": "aws-us-gov", "cn-northwest-1": "aws-cn", "us-isob-east-1": "aws-iso-b", "local": ""} {
		if got := sts.PartitionOfRegion(region); got != want {
			t.Errorf("PartitionOfRegion(%q) = %q, want %q", region, got, want)
		}
	}
}
