package sts

import (
	"regexp"
	"strings"
)

// partition is an AWS partition as far as credd needs to know it: which
// regions belong to it, and the defaults a role in it gets.
type partition struct {
	id       string
	regionRE *regexp.Regexp
	// region is the default region for STS calls of a role in the
	// partition, when none is configured.
	region string
	// audience is the token audience STS expects in the partition:
	// sts.amazonaws.com.cn in China (configure-aws-credentials README,
	// "Audience": "Changing the default audience may be necessary when
	// using non-default AWS partitions ... audience: sts.amazonaws.com.cn").
	audience string
}

// partitions lists the partitions with their region patterns as the SDK's
// own table has them (aws-sdk-go-v2 internal/endpoints/awsrulesfn/
// partitions.json, regionRegex), most specific first.
var partitions = []partition{
	{"aws-cn", regexp.MustCompile(`^cn\-\w+\-\d+$`), "cn-north-1", "sts.amazonaws.com.cn"},
	{"aws-us-gov", regexp.MustCompile(`^us\-gov\-\w+\-\d+$`), "us-gov-west-1", DefaultAudience},
	{"aws-iso", regexp.MustCompile(`^us\-iso\-\w+\-\d+$`), "us-iso-east-1", DefaultAudience},
	{"aws-iso-b", regexp.MustCompile(`^us\-isob\-\w+\-\d+$`), "us-isob-east-1", DefaultAudience},
	{"aws-iso-e", regexp.MustCompile(`^eu\-isoe\-\w+\-\d+$`), "eu-isoe-west-1", DefaultAudience},
	{"aws-iso-f", regexp.MustCompile(`^us\-isof\-\w+\-\d+$`), "us-isof-south-1", DefaultAudience},
	{"aws-eusc", regexp.MustCompile(`^eusc\-(de)\-\w+\-\d+$`), "eusc-de-east-1", DefaultAudience},
	{"aws", regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$`), DefaultRegion, DefaultAudience},
}

// DefaultAudience is the audience STS expects of an identity token in the
// aws partition.
const DefaultAudience = "sts.amazonaws.com"

// PartitionOfARN returns the partition field of an ARN, or "aws" when arn
// has none (no role configured yet).
func PartitionOfARN(arn string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 && parts[0] == "arn" && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}

// PartitionOfRegion returns the partition a region belongs to, or "" for a
// region no known partition claims (a new one, or a local emulator's).
func PartitionOfRegion(region string) string {
	for _, p := range partitions {
		if p.regionRE.MatchString(region) {
			return p.id
		}
	}
	return ""
}

// PartitionDefaults returns the default STS region and token audience for a
// role in the given partition; an unknown partition gets the aws ones.
func PartitionDefaults(partitionID string) (region, audience string) {
	for _, p := range partitions {
		if p.id == partitionID {
			return p.region, p.audience
		}
	}
	return DefaultRegion, DefaultAudience
}
