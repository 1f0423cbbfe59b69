package sts

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	partitionRE = regexp.MustCompile(`^aws[-a-z]*$`)
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	// IAM role names: 1-64 of [\w+=,.@-]; paths: "/" or "/seg/.../" of printable ASCII.
	roleNameRE    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathRE    = regexp.MustCompile(`^/([\x21-\x2e\x30-\x7e]+/)*$`)
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	policyARNRE   = regexp.MustCompile(`^arn:aws[-a-z]*:iam::(\d{12}|aws):policy/.+$`)
	regionRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
)

const roleARNShape = "arn:aws:iam::<12-digit account ID>:role/<role name>"

// ParseRoleARN checks that arn names an IAM role, such as
// arn:aws:iam::123456789012:role/dev or arn:aws-cn:iam::123456789012:role/path/dev,
// and returns its account ID and role name (the last path segment, without
// the role's path). Its errors say what is wrong and the expected shape.
func ParseRoleARN(arn string) (accountID, roleName string, err error) {
	if strings.TrimSpace(arn) == "" {
		return "", "", fmt.Errorf("role ARN is empty: set it to %s", roleARNShape)
	}
	if arn != strings.TrimSpace(arn) {
		return "", "", fmt.Errorf("role ARN %q has leading or trailing white space: remove it", arn)
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", "", fmt.Errorf("role ARN %q is not an ARN: expected %s", arn, roleARNShape)
	}
	partition, service, region, account, resource := parts[1], parts[2], parts[3], parts[4], parts[5]
	if service == "sts" && strings.HasPrefix(resource, "assumed-role/") {
		return "", "", fmt.Errorf("role ARN %q is an assumed-role session, not a role: use the role's own ARN, %s", arn, roleARNShape)
	}
	if !partitionRE.MatchString(partition) {
		return "", "", fmt.Errorf("role ARN %q has partition %q: expected aws, aws-cn, aws-us-gov or another aws-* partition", arn, partition)
	}
	if service != "iam" {
		return "", "", fmt.Errorf("role ARN %q names service %q: an IAM role ARN has service \"iam\" (%s)", arn, service, roleARNShape)
	}
	if region != "" {
		return "", "", fmt.Errorf("role ARN %q has region %q: IAM ARNs have an empty region field (%s)", arn, region, roleARNShape)
	}
	if !accountRE.MatchString(account) {
		return "", "", fmt.Errorf("role ARN %q has account ID %q: it must be exactly 12 digits", arn, account)
	}
	rest, ok := strings.CutPrefix(resource, "role/")
	if !ok {
		return "", "", fmt.Errorf("role ARN %q names %q, not a role: expected %s", arn, resource, roleARNShape)
	}
	path, name := "/", rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		path, name = "/"+rest[:i+1], rest[i+1:]
	}
	if !roleNameRE.MatchString(name) {
		return "", "", fmt.Errorf("role ARN %q has role name %q: it must be 1-64 letters, digits or +=,.@_-", arn, name)
	}
	if !rolePathRE.MatchString(path) {
		return "", "", fmt.Errorf("role ARN %q has role path %q: it must be printable ASCII segments separated by /", arn, path)
	}
	return account, name, nil
}

// accountOfARN returns the account field of any ARN, or "" if it has none.
func accountOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !accountRE.MatchString(parts[4]) {
		return ""
	}
	return parts[4]
}
