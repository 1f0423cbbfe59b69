package ecsmeta

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// DefaultCluster is the cluster ECS runs a task on when none is named:
// "If you do not specify a cluster, the default cluster is assumed"
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
const DefaultCluster = "default"

// taskIDMarker starts every task id credd makes up. It reads "devel0" in
// hex-speak, so a person who sees the task ARN in a log can tell it is a
// development task, while the id stays 32 lowercase hex digits, the form
// of a real task id that parsers expect.
const taskIDMarker = "de7e10"

// taskDefinitionARN is a parsed
// arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html#ecs-resource-ids).
type taskDefinitionARN struct {
	partition, region, account, family, revision string
}

// base is "arn:PARTITION:ecs:REGION:ACCOUNT", where the other ECS ARNs of
// the task hang.
func (a taskDefinitionARN) base() string {
	return "arn:" + a.partition + ":ecs:" + a.region + ":" + a.account
}

func parseTaskDefinitionARN(s string) (taskDefinitionARN, error) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "ecs" || parts[1] == "" || parts[3] == "" || parts[4] == "" {
		return taskDefinitionARN{}, fmt.Errorf("the task definition ARN %q is not arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION", s)
	}
	family, ok := strings.CutPrefix(parts[5], "task-definition/")
	if !ok || family == "" || parts[6] == "" {
		return taskDefinitionARN{}, fmt.Errorf("the task definition ARN %q is not arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION", s)
	}
	return taskDefinitionARN{partition: parts[1], region: parts[3], account: parts[4], family: family, revision: parts[6]}, nil
}

// clusterName is what ECS allows as a cluster name: "Up to 255 letters
// (uppercase and lowercase), numbers, underscores, and hyphens are
// allowed" (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html).
var clusterName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// resolveCluster turns --ecs-cluster (a name, a cluster ARN or "") into
// the cluster's name and ARN. A cluster ARN must be in the task
// definition's partition, region and account: ECS runs a task definition
// only on a cluster of its own account and region.
func resolveCluster(flag string, td taskDefinitionARN) (name, arn string, err error) {
	if flag == "" {
		flag = DefaultCluster
	}
	if strings.HasPrefix(flag, "arn:") {
		parts := strings.SplitN(flag, ":", 6)
		if len(parts) != 6 || parts[2] != "ecs" || !strings.HasPrefix(parts[5], "cluster/") {
			return "", "", fmt.Errorf("--ecs-cluster %q is not a cluster ARN (arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME) nor a cluster name", flag)
		}
		if parts[1] != td.partition || parts[3] != td.region || parts[4] != td.account {
			return "", "", fmt.Errorf("--ecs-cluster %q is not in the task definition's account and region (%s): give the cluster's name, or an ARN in that account and region", flag, td.base())
		}
		flag = strings.TrimPrefix(parts[5], "cluster/")
	}
	if !clusterName.MatchString(flag) {
		return "", "", fmt.Errorf("--ecs-cluster %q is not a valid cluster name: use up to 255 letters, digits, hyphens and underscores, or the cluster's ARN", flag)
	}
	return flag, td.base() + ":cluster/" + flag, nil
}

// FindContainer returns the definition's container called name or, when
// name is "", its first essential container: the one an application in
// the dev container stands in for. A container is essential unless it
// says otherwise: "If the essential parameter of a container is marked as
// true ... All tasks must have at least one essential container"; the
// parameter defaults to true
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html).
func FindContainer(def *ecstypes.TaskDefinition, name string) (*ecstypes.ContainerDefinition, error) {
	if def == nil || len(def.ContainerDefinitions) == 0 {
		return nil, errors.New("the task definition has no containers")
	}
	var names []string
	for i := range def.ContainerDefinitions {
		c := &def.ContainerDefinitions[i]
		n := aws.ToString(c.Name)
		essential := c.Essential == nil || *c.Essential
		if name == "" && essential {
			return c, nil
		}
		if name != "" && n == name {
			return c, nil
		}
		names = append(names, n)
	}
	if name == "" {
		return nil, fmt.Errorf("the task definition has no essential container: name the one this dev container stands in for with --ecs-container (one of %s)", strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("the task definition has no container %q: set --ecs-container to one of %s", name, strings.Join(names, ", "))
}

// endpointID is the <id> in /v4/<id> and /v3/<id>. It has the form of
// the ids Fargate uses there, 32 hex digits, a hyphen and 10 decimal
// digits (ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/
// 7026b406b5a34623a4c705220a36970c-3779599274 in a Fargate task's
// environment). It depends only on the host name, the family and the
// --ecs-container setting, so a shell that exported the URI keeps a
// working one when the daemon restarts or follows a new revision. It is
// no secret: the endpoint serves no secret and asks for no token.
func endpointID(hostname, family, containerFlag string) string {
	sum := sha256.Sum256([]byte("credd/" + hostname + "/" + family + "/" + containerFlag))
	return hex.EncodeToString(sum[:16]) + "-" + tenDigits(sum[16:24])
}

func tenDigits(b []byte) string {
	return fmt.Sprintf("%010d", binary.BigEndian.Uint64(b)%10_000_000_000)
}

// taskID is the task id in the task ARN: 32 lowercase hex digits, the form
// of a real one (the task ids in the ECS docs, such as
// 8f03e41243824aea923aca126495f665, are version-4 UUIDs without hyphens).
// credd's say what they are twice: they start with taskIDMarker, and
// their UUID version digit is 8 ("custom", RFC 9562 section 5.8) where
// ECS's is 4. They are stable for a host name and family, so logs of
// one dev container correlate across restarts.
func taskID(hostname, family string) string {
	sum := sha256.Sum256([]byte("credd/task/" + hostname + "/" + family))
	return uuidV8(taskIDMarker, sum)
}

// uuidV8 lays sum out as a hyphen-less version-8 UUID whose first digits
// are prefix.
func uuidV8(prefix string, sum [32]byte) string {
	b := []byte(prefix + hex.EncodeToString(sum[:])[len(prefix):32])
	b[12] = '8'               // version: custom
	b[16] = "89ab"[sum[31]&3] // variant: RFC 9562
	return string(b)
}

// containerARN has the form of the ContainerARN in the v4 examples
// (arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9);
// its UUID is a version-8 one, for the reason given at taskID.
func containerARN(td taskDefinitionARN, hostname, container string) string {
	sum := sha256.Sum256([]byte("credd/container/" + hostname + "/" + td.family + "/" + container))
	u := uuidV8("", sum)
	return td.base() + ":container/" + u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32]
}

// fargateDockerID is the DockerId form on Fargate: "When you use Fargate,
// the id is a 32-digit hex followed by a 10 digit number"
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate-response.html),
// such as cd189a933e5849daa93386466019ab50-2495160603, the task id then a
// number per container.
func fargateDockerID(task, container string) string {
	sum := sha256.Sum256([]byte("credd/docker/" + task + "/" + container))
	return task + "-" + tenDigits(sum[:8])
}

// ec2DockerID stands in for a Docker container id (64 hex digits) when
// the dev container's own cannot be found.
func ec2DockerID(task, container string) string {
	sum := sha256.Sum256([]byte("credd/docker/" + task + "/" + container))
	return hex.EncodeToString(sum[:])
}

// ec2DockerName is the name the ECS agent gives a container on EC2:
// "ecs-" family "-" revision "-" the container name with what Docker
// refuses taken out, "-" and 20 random hex digits
// (amazon-ecs-agent agent/engine/docker_task_engine.go, createContainer; the example
// "ecs-curltest-24-curl-cca48e8dcadd97805600" in the v4 docs). The last
// part is derived, not random, so the name is stable.
func ec2DockerName(td taskDefinitionARN, task, container string) string {
	var b strings.Builder
	for _, r := range container {
		if r < 0x80 && (r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	sum := sha256.Sum256([]byte("credd/dockername/" + task + "/" + container))
	return "ecs-" + td.family + "-" + td.revision + "-" + b.String() + "-" + hex.EncodeToString(sum[:10])
}

// revisionString is the Revision field: a string in the documents
// ("Revision": "26"), though the API returns a number.
func revisionString(def *ecstypes.TaskDefinition, td taskDefinitionARN) string {
	if def.Revision > 0 {
		return strconv.Itoa(int(def.Revision))
	}
	return td.revision
}
