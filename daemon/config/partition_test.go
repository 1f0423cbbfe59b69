package config

import (
	"strings"
	"testing"
)

// A role's partition gives it the defaults its STS needs: China's STS
// expects the audience sts.amazonaws.com.cn (configure-aws-credentials
// README, "Audience"), and each partition answers only in its own regions
// (aws-sdk-go-v2 internal/endpoints/awsrulesfn/partitions.json).
func TestARoleGetsItsPartitionsDefaults(t *testing.T) {
	tests := []struct {
		name, arn                string
		env                      map[string]string
		region, audience, origin string
	}{
		{"a role in aws", "arn:aws:iam::123456789012:role/dev", nil, "us-east-1", "sts.amazonaws.com", "default"},
		{"a role in China", "arn:aws-cn:iam::123456789012:role/dev", nil, "cn-north-1", "sts.amazonaws.com.cn", "default for partition aws-cn"},
		{"a role in GovCloud", "arn:aws-us-gov:iam::123456789012:role/dev", nil, "us-gov-west-1", "sts.amazonaws.com", "default for partition aws-us-gov"},
		{"a role in China with a China region set", "arn:aws-cn:iam::123456789012:role/dev", map[string]string{"AWS_REGION": "cn-northwest-1"}, "cn-northwest-1", "sts.amazonaws.com.cn", "environment AWS_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolve(t, []string{"--role-arn", tt.arn, "--token-command", "echo x"}, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Roles[0]
			if r.Region != tt.region || r.Audience != tt.audience {
				t.Errorf("region %s, audience %s; want %s, %s", r.Region, r.Audience, tt.region, tt.audience)
			}
			if !strings.HasPrefix(r.Origins["region"], tt.origin) {
				t.Errorf("region origin %q, want %q", r.Origins["region"], tt.origin)
			}
		})
	}
}

func TestARegionOfAnotherPartitionIsRefused(t *testing.T) {
	_, err := resolve(t, []string{"--role-arn", "arn:aws-cn:iam::123456789012:role/dev", "--token-command", "echo x"},
		map[string]string{"AWS_REGION": "us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "is in partition aws, but the role") || !strings.Contains(err.Error(), "cn-north-1") {
		t.Fatalf("err = %v, want a refusal that names the partitions and a region to use", err)
	}
	// An STS endpoint set by hand is the user's call (a local emulator).
	if _, err := resolve(t, []string{"--role-arn", "arn:aws-cn:iam::123456789012:role/dev", "--token-command", "echo x", "--sts-endpoint", "http://127.0.0.1:4566"},
		map[string]string{"AWS_REGION": "us-east-1"}); err != nil {
		t.Fatalf("with --sts-endpoint: %v", err)
	}
}

// The SDKs' endpoint variables, in their precedence (AWS SDKs and Tools
// Reference Guide, "Service-specific endpoints": AWS_ENDPOINT_URL_STS over
// AWS_ENDPOINT_URL, both ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
// is true; "Dual-stack and FIPS endpoints": AWS_USE_FIPS_ENDPOINT,
// AWS_USE_DUALSTACK_ENDPOINT).
func TestTheSDKsEndpointVariablesAreHonoured(t *testing.T) {
	tests := []struct {
		name           string
		env            map[string]string
		endpoint       string
		fips, dual     bool
		endpointOrigin string
	}{
		{"AWS_ENDPOINT_URL applies to STS", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:4566", false, false, "environment AWS_ENDPOINT_URL"},
		{"AWS_ENDPOINT_URL_STS beats AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5000"}, "http://127.0.0.1:5000", false, false, "environment AWS_ENDPOINT_URL_STS"},
		{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ignores both", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", false, false, ""},
		{"AWS_USE_FIPS_ENDPOINT picks FIPS", map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, "", true, false, ""},
		{"AWS_USE_DUALSTACK_ENDPOINT picks dual-stack", map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolve(t, []string{"--role-arn", testARN, "--token-command", "echo x"}, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Roles[0]
			if r.STSEndpoint != tt.endpoint || r.UseFIPS != tt.fips || r.UseDualStack != tt.dual {
				t.Errorf("endpoint %q, FIPS %t, dual-stack %t; want %q, %t, %t", r.STSEndpoint, r.UseFIPS, r.UseDualStack, tt.endpoint, tt.fips, tt.dual)
			}
			if r.Origins["sts-endpoint"] != tt.endpointOrigin {
				t.Errorf("endpoint origin %q, want %q", r.Origins["sts-endpoint"], tt.endpointOrigin)
			}
		})
	}
	if _, err := resolve(t, []string{"--role-arn", testARN, "--token-command", "echo x"}, map[string]string{"AWS_USE_FIPS_ENDPOINT": "yes please"}); err == nil || !strings.Contains(err.Error(), "use true or false") {
		t.Errorf("a bad AWS_USE_FIPS_ENDPOINT: err = %v", err)
	}
}

// localhost is loopback; the endpoint's rule maps it to 127.0.0.1, and
// config uses that same rule (issue 14, item 9).
func TestListenLocalhostIsAccepted(t *testing.T) {
	cfg, err := resolve(t, []string{"--token-source", "sandbox", "--listen", "localhost:0"}, nil)
	if err != nil {
		t.Fatalf("--listen localhost:0: %v", err)
	}
	if cfg.Listen != "localhost:0" {
		t.Errorf("listen = %q", cfg.Listen)
	}
}

func TestTheConfigFileTakesFIPSAsABoolean(t *testing.T) {
	file := writeFile(t, "credd.toml", "role_arn = \""+testARN+"\"\ntoken_command = \"echo x\"\nuse_fips_endpoint = true\n")
	cfg, err := resolve(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Roles[0].UseFIPS {
		t.Error("use_fips_endpoint = true was not applied")
	}
}
