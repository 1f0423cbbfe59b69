package sts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
)

// CheckSessionName is the RoleSessionName rule: 2 to 64 characters of
// letters, digits and +=,.@_- (AssumeRoleWithWebIdentity API reference,
// "RoleSessionName ... Pattern: [\w+=,.@-]*", length 2-64). Config and
// Client both call it.
func CheckSessionName(name string) error {
	if name == "" {
		return fmt.Errorf("session name is empty: use 2-64 letters, digits or +=,.@_-")
	}
	if !sessionNameRE.MatchString(name) {
		return fmt.Errorf("session name %q is not valid: use 2-64 letters, digits or +=,.@_-", name)
	}
	return nil
}

// CheckDuration is the DurationSeconds rule: whole seconds from 15 minutes
// to 12 hours (AssumeRoleWithWebIdentity API reference). The role's own
// maximum session duration, 1h unless raised, may refuse less; only STS
// knows it.
func CheckDuration(d time.Duration) error {
	if d < MinDuration || d > MaxDuration {
		return errors.New("out of range: STS issues credentials for 15m to 12h, and the role's maximum session duration must allow it")
	}
	if d%time.Second != 0 {
		return errors.New("not a whole number of seconds: use e.g. 1h or 45m")
	}
	return nil
}

// SessionNameFrom maps any string onto the RoleSessionName rule, replacing
// each run of other characters with '-' and padding or cutting it to 2-64.
func SessionNameFrom(s string) string {
	s = invalidSessionChars.ReplaceAllString(s, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	for len(s) < 2 {
		s += "-"
	}
	return s
}

var invalidSessionChars = regexp.MustCompile(`[^\w+=,.@-]+`)

// RegionOrDefault is the region STS calls go to: region, or DefaultRegion
// when it is "" (the AWS SDKs have no default region; credd's is the one
// the global endpoint lives in).
func RegionOrDefault(region string) string {
	if region == "" {
		return DefaultRegion
	}
	return region
}

// CheckRegion is the rule for a region name, such as us-east-1 or
// cn-north-1. "" means DefaultRegion and passes.
func CheckRegion(region string) error {
	if !regionRE.MatchString(RegionOrDefault(region)) {
		return fmt.Errorf("region %q is not an AWS region name: use a region such as us-east-1 or eu-west-1", region)
	}
	return nil
}

// EndpointURL is where a Client made with cfg sends its calls: cfg.Endpoint
// when set, else the STS endpoint the SDK's own resolver picks for the
// region, FIPS and dual-stack settings (so partitions such as aws-cn,
// aws-us-gov or aws-iso are right without a copy of the SDK's tables here).
func EndpointURL(cfg Config) string {
	if cfg.Endpoint != "" {
		return cfg.Endpoint
	}
	region := RegionOrDefault(cfg.Region)
	ep, err := awssts.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), awssts.EndpointParameters{
		Region:       &region,
		UseFIPS:      &cfg.UseFIPS,
		UseDualStack: &cfg.UseDualStack,
	})
	if err != nil {
		// An invalid region fails, which New refuses first, or a
		// partition without FIPS or dual-stack endpoints.
		return ""
	}
	return ep.URI.String()
}
