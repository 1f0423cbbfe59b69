// Package ecstask follows an ECS task definition through the ECS API
// (DescribeTaskDefinition) so that credd can mirror it as task metadata;
// it owns the rules of --ecs-task-definition, --ecs-cluster and
// --ecs-container.
package ecstask

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/credd-dev/credd/daemon/sts"
)

// maxNameLen bounds a family, cluster or container name. The ECS API
// reference gives all three the same rule: "Up to 255 letters (uppercase
// and lowercase), numbers, underscores, and hyphens are allowed"
// (RegisterTaskDefinition's family, CreateCluster's clusterName,
// ContainerDefinition's name; aws-sdk-go-v2 service/ecs
// api_op_RegisterTaskDefinition.go, api_op_CreateCluster.go,
// types/types.go).
const maxNameLen = 255

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	accountRE   = regexp.MustCompile(`^\d{12}$`)
)

// refExamples is what a valid --ecs-task-definition looks like.
const refExamples = `a family ("web": its latest ACTIVE revision, followed), a family and revision ("web:3") or a task definition ARN ("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"), e.g. --ecs-task-definition "web:3"`

// Ref is a parsed --ecs-task-definition: FAMILY, FAMILY:REVISION, or a task
// definition ARN, arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION.
type Ref struct {
	Family string
	// Revision is 0 for the latest ACTIVE revision of Family, followed.
	Revision int
	// ARN is the task definition ARN when one was given.
	ARN string
	// Region is the ARN's region, else "".
	Region string
}

// ParseRef parses an --ecs-task-definition value. Its errors say what is
// wrong and what a valid value looks like.
func ParseRef(s string) (Ref, error) {
	if strings.TrimSpace(s) == "" {
		return Ref{}, fmt.Errorf("the task definition is empty: use %s", refExamples)
	}
	if s != strings.TrimSpace(s) {
		return Ref{}, fmt.Errorf("task definition %q has leading or trailing white space: remove it", s)
	}
	if strings.HasPrefix(s, "arn:") {
		return parseRefARN(s)
	}
	family, rev, hasRev := strings.Cut(s, ":")
	if err := checkName("task definition family", family); err != nil {
		return Ref{}, fmt.Errorf("%w; use %s", err, refExamples)
	}
	r := Ref{Family: family}
	if hasRev {
		n, err := parseRevision(family, rev)
		if err != nil {
			return Ref{}, err
		}
		r.Revision = n
	}
	return r, nil
}

// parseRefARN parses arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION,
// the shape of TaskDefinition.taskDefinitionArn.
func parseRefARN(s string) (Ref, error) {
	const shape = "arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION"
	resource, region, err := splitECSARN(s, "task definition", shape)
	if err != nil {
		return Ref{}, err
	}
	rest, ok := strings.CutPrefix(resource, "task-definition/")
	if !ok {
		return Ref{}, fmt.Errorf("ARN %q does not name a task definition: expected %s", s, shape)
	}
	family, rev, hasRev := strings.Cut(rest, ":")
	if err := checkName("task definition family", family); err != nil {
		return Ref{}, fmt.Errorf("ARN %q: %w", s, err)
	}
	if !hasRev {
		return Ref{}, fmt.Errorf("task definition ARN %q has no revision: a task definition ARN ends in FAMILY:REVISION; to follow the latest revision use the family alone, e.g. --ecs-task-definition %q", s, family)
	}
	n, err := parseRevision(family, rev)
	if err != nil {
		return Ref{}, fmt.Errorf("ARN %q: %w", s, err)
	}
	return Ref{Family: family, Revision: n, ARN: s, Region: region}, nil
}

// splitECSARN checks the fields of an ECS ARN that come before its
// resource and returns the resource and the region.
func splitECSARN(s, what, shape string) (resource, region string, err error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", "", fmt.Errorf("%s ARN %q is not an ARN: expected %s", what, s, shape)
	}
	partition, service, region, account, resource := parts[1], parts[2], parts[3], parts[4], parts[5]
	if !partitionRE.MatchString(partition) {
		return "", "", fmt.Errorf("%s ARN %q has partition %q: expected aws, aws-cn, aws-us-gov or another aws-* partition", what, s, partition)
	}
	if service != "ecs" {
		return "", "", fmt.Errorf("%s ARN %q names service %q: expected %s", what, s, service, shape)
	}
	if region == "" {
		return "", "", fmt.Errorf("%s ARN %q has no region: expected %s", what, s, shape)
	}
	if err := sts.CheckRegion(region); err != nil {
		return "", "", fmt.Errorf("%s ARN %q: %w", what, s, err)
	}
	if p := sts.PartitionOfRegion(region); p != "" && p != partition {
		return "", "", fmt.Errorf("%s ARN %q puts region %s in partition %s, but it belongs to %s: use arn:%s:ecs:%s:…", what, s, region, partition, p, p, region)
	}
	if !accountRE.MatchString(account) {
		return "", "", fmt.Errorf("%s ARN %q has account ID %q: it must be exactly 12 digits", what, s, account)
	}
	return resource, region, nil
}

// parseRevision parses the REVISION of FAMILY:REVISION. ECS numbers a
// family's revisions from 1 ("Amazon ECS gives the first task definition
// that you registered to a family a revision number of 1",
// TaskDefinition.Family), in an int32 (TaskDefinition.Revision; both in
// aws-sdk-go-v2 service/ecs types/types.go).
func parseRevision(family, rev string) (int, error) {
	if rev == "" {
		return 0, fmt.Errorf("task definition %q has no revision after the colon: drop the colon to follow the latest ACTIVE revision, or add one, e.g. --ecs-task-definition %q", family+":", family+":3")
	}
	for _, c := range rev {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("revision %q of %s is not a positive whole number: omit it to follow the latest ACTIVE revision, e.g. --ecs-task-definition %q, or pin one, e.g. %q", rev, family, family, family+":3")
		}
	}
	n, err := strconv.Atoi(rev)
	if err != nil || n > math.MaxInt32 {
		return 0, fmt.Errorf("revision %s of %s is larger than ECS numbers revisions (at most %d)", rev, family, math.MaxInt32)
	}
	if n == 0 {
		return 0, fmt.Errorf("revision 0 of %s does not exist: revisions start at 1; omit the revision to follow the latest ACTIVE one, e.g. --ecs-task-definition %q", family, family)
	}
	return n, nil
}

// String is the ref as DescribeTaskDefinition takes it: the ARN, FAMILY:REVISION or FAMILY.
func (r Ref) String() string {
	switch {
	case r.ARN != "":
		return r.ARN
	case r.Revision > 0:
		return r.Family + ":" + strconv.Itoa(r.Revision)
	}
	return r.Family
}

// Pinned reports whether r names one revision rather than following the
// family's latest.
func (r Ref) Pinned() bool { return r.Revision > 0 }

// CheckCluster is the rule for --ecs-cluster: a cluster name, 1-255
// letters, digits, - and _ (CreateCluster's clusterName, see maxNameLen),
// or a cluster ARN, arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME. "" is an
// error: callers skip an unset flag.
func CheckCluster(s string) error {
	const shape = "arn:aws:ecs:REGION:ACCOUNT:cluster/NAME"
	if s != strings.TrimSpace(s) {
		return fmt.Errorf("cluster %q has leading or trailing white space: remove it", s)
	}
	if strings.HasPrefix(s, "arn:") {
		resource, _, err := splitECSARN(s, "cluster", shape)
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(resource, "cluster/")
		if !ok {
			return fmt.Errorf("ARN %q does not name a cluster: expected %s", s, shape)
		}
		if err := checkName("cluster name", name); err != nil {
			return fmt.Errorf("ARN %q: %w", s, err)
		}
		return nil
	}
	if err := checkName("cluster name", s); err != nil {
		return fmt.Errorf(`%w; use a name such as "default" or a cluster ARN (%s)`, err, shape)
	}
	return nil
}

// CheckContainerName is the rule for --ecs-container: a container name of
// the task definition, 1-255 letters, digits, - and _ (ContainerDefinition's
// name, see maxNameLen).
func CheckContainerName(s string) error {
	if s != strings.TrimSpace(s) {
		return fmt.Errorf("container name %q has leading or trailing white space: remove it", s)
	}
	if err := checkName("container name", s); err != nil {
		return fmt.Errorf(`%w; use the name of one of the task definition's containers, e.g. --ecs-container "app"`, err)
	}
	return nil
}

// checkName is the ECS naming rule shared by families, clusters and
// containers (see maxNameLen).
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("the %s is empty", what)
	case len(s) > maxNameLen:
		return fmt.Errorf("the %s is %d characters long: ECS allows at most %d", what, len(s), maxNameLen)
	case !nameRE.MatchString(s):
		i := strings.IndexFunc(s, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
		})
		return fmt.Errorf("the %s %q has %q, but ECS allows only letters, digits, - and _", what, s, []rune(s[i:])[0])
	}
	return nil
}
