package sts_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sts"
)

func TestNewValidatesConfig(t *testing.T) {
	valid := func() sts.Config {
		return sts.Config{RoleARN: testRoleARN, SessionName: testSession}
	}
	for _, tc := range []struct {
		name    string
		mod     func(*sts.Config)
		wantErr string // substring; "" means valid
	}{
		{"the zero-valued optional fields are valid", func(*sts.Config) {}, ""},
		{"a full configuration is valid", func(c *sts.Config) {
			c.Duration = 12 * time.Hour
			c.Region = "us-gov-west-1"
			c.Endpoint = "http://127.0.0.1:4566"
			c.AttemptTimeout = time.Second
			c.Policy = "{}"
			c.PolicyARNs = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}
		}, ""},
		{"a role with a path is valid", func(c *sts.Config) { c.RoleARN = "arn:aws:iam::123456789012:role/service-role/dev" }, ""},
		{"a China partition role is valid", func(c *sts.Config) { c.RoleARN = "arn:aws-cn:iam::123456789012:role/dev" }, ""},
		{"the shortest duration is valid", func(c *sts.Config) { c.Duration = 15 * time.Minute }, ""},
		{"a 64-character session name is valid", func(c *sts.Config) { c.SessionName = strings.Repeat("a", 64) }, ""},
		{"an https endpoint with a path is valid", func(c *sts.Config) { c.Endpoint = "https://sts.example.internal/proxy" }, ""},

		{"an empty role ARN is refused", func(c *sts.Config) { c.RoleARN = "" }, "role ARN is empty"},
		{"a role name alone is refused", func(c *sts.Config) { c.RoleARN = "dev" }, "not an ARN"},
		{"an assumed-role ARN is refused", func(c *sts.Config) {
			c.RoleARN = "arn:aws:sts::123456789012:assumed-role/dev/alice"
		}, "assumed-role session"},
		{"a user ARN is refused", func(c *sts.Config) { c.RoleARN = "arn:aws:iam::123456789012:user/alice" }, "not a role"},
		{"a short account ID is refused", func(c *sts.Config) { c.RoleARN = "arn:aws:iam::12345:role/dev" }, "exactly 12 digits"},
		{"a role ARN with a region is refused", func(c *sts.Config) { c.RoleARN = "arn:aws:iam:us-east-1:123456789012:role/dev" }, "empty region"},
		{"a non-IAM service is refused", func(c *sts.Config) { c.RoleARN = "arn:aws:s3::123456789012:role/dev" }, `service "iam"`},
		{"an unknown partition is refused", func(c *sts.Config) { c.RoleARN = "arn:gcp:iam::123456789012:role/dev" }, "partition"},
		{"an empty role name is refused", func(c *sts.Config) { c.RoleARN = "arn:aws:iam::123456789012:role/" }, "role name"},
		{"a role name with a space is refused", func(c *sts.Config) { c.RoleARN = "arn:aws:iam::123456789012:role/my role" }, "role name"},
		{"a role ARN with trailing white space is refused", func(c *sts.Config) { c.RoleARN = testRoleARN + "\n" }, "white space"},

		{"an empty session name is refused", func(c *sts.Config) { c.SessionName = "" }, "session name is empty"},
		{"a one-character session name is refused", func(c *sts.Config) { c.SessionName = "a" }, "session name"},
		{"a 65-character session name is refused", func(c *sts.Config) { c.SessionName = strings.Repeat("a", 65) }, "session name"},
		{"a session name with a slash is refused", func(c *sts.Config) { c.SessionName = "alice/dev" }, "session name"},
		{"a session name with a space is refused", func(c *sts.Config) { c.SessionName = "alice smith" }, "session name"},

		{"a duration under 15m is refused", func(c *sts.Config) { c.Duration = 899 * time.Second }, "out of range"},
		{"a duration over 12h is refused", func(c *sts.Config) { c.Duration = 12*time.Hour + time.Second }, "out of range"},
		{"a negative duration is refused", func(c *sts.Config) { c.Duration = -time.Hour }, "out of range"},
		{"a fractional-second duration is refused", func(c *sts.Config) { c.Duration = time.Hour + time.Millisecond }, "whole number of seconds"},

		{"a region with spaces is refused", func(c *sts.Config) { c.Region = "us east 1" }, "region"},
		{"an upper-case region is refused", func(c *sts.Config) { c.Region = "US-EAST-1" }, "region"},

		{"an endpoint without a scheme is refused", func(c *sts.Config) { c.Endpoint = "127.0.0.1:4566" }, "not a base URL"},
		{"an ftp endpoint is refused", func(c *sts.Config) { c.Endpoint = "ftp://sts.example.com" }, "not a base URL"},
		{"an endpoint with a query is refused", func(c *sts.Config) { c.Endpoint = "https://sts.example.com/?x=1" }, "not a base URL"},
		{"an endpoint with credentials is refused", func(c *sts.Config) { c.Endpoint = "https://u:p@sts.example.com" }, "not a base URL"},

		{"a negative attempt timeout is refused", func(c *sts.Config) { c.AttemptTimeout = -time.Second }, "negative"},
		{"a malformed policy ARN is refused", func(c *sts.Config) { c.PolicyARNs = []string{"ReadOnlyAccess"} }, "policy ARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.mod(&cfg)
			c, err := sts.New(cfg)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted %+v, want an error containing %q", cfg, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			var de *daemon.Error
			if !errors.As(err, &de) || de.Kind != daemon.KindPermanent || de.Code != "InvalidConfig" || de.Hint == "" {
				t.Errorf("error %#v is not a permanent InvalidConfig with a hint", err)
			}
		})
	}
}

func TestParseRoleARN(t *testing.T) {
	for _, tc := range []struct {
		arn, account, name string
		ok                 bool
	}{
		{"arn:aws:iam::123456789012:role/dev", "123456789012", "dev", true},
		{"arn:aws:iam::123456789012:role/service-role/team/dev+ops=1,a.b@c_d-e", "123456789012", "dev+ops=1,a.b@c_d-e", true},
		{"arn:aws-us-gov:iam::000000000000:role/x", "000000000000", "x", true},
		{"arn:aws-iso-b:iam::123456789012:role/x", "123456789012", "x", true},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("r", 64), "123456789012", strings.Repeat("r", 64), true},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("r", 65), "", "", false},
		{"arn:aws:iam::123456789012:role/a//b", "", "", false},
		{"arn:aws:iam::1234567890123:role/dev", "", "", false},
		{"arn:aws:iam::123456789012:policy/dev", "", "", false},
		{"arn:aws:iam::123456789012", "", "", false},
		{"", "", "", false},
	} {
		account, name, err := sts.ParseRoleARN(tc.arn)
		if (err == nil) != tc.ok || account != tc.account || name != tc.name {
			t.Errorf("ParseRoleARN(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.arn, account, name, err, tc.account, tc.name, tc.ok)
		}
	}
}
