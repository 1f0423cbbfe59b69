package ecsmeta

import (
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/credd-dev/credd/daemon/clock"
)

// The golden tests build documents from a task definition equal to the one
// behind each documented example (testdata/README.md says where each comes
// from) and compare them field by field. What differs by nature is listed
// with the form it must have: the ids, ARNs and names credd derives, the
// times (the daemon's start), fields credd cannot fill honestly (left
// out), and the cluster, which v4 gives as an ARN where the EC2 examples
// show the short name (both are documented: "The Amazon Resource Name
// (ARN) or short name of the Amazon ECS cluster").

const ownID = "5fc21e5b015f899d22618f8aede80b6d70d71b2a75465ea49d9462c8f3d2d3af" // in testdata/cgroupv2/proc/self/mountinfo

var (
	devTaskARN  = `^arn:aws:ecs:us-west-2:111122223333:task/default/de7e10[0-9a-f]{6}8[0-9a-f]{3}[89ab][0-9a-f]{15}$`
	devContARN  = `^arn:aws:ecs:us-west-2:111122223333:container/[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`
	clusterARN  = "arn:aws:ecs:us-west-2:111122223333:cluster/default"
	startedText = testStart.Format(time.RFC3339Nano)
)

// containerNature is what differs by nature in a container document at
// prefix ("" or "Containers/0/").
func containerNature(prefix string, h *Handler, dockerID, dockerName check) byNature {
	taskID := regexp.MustCompile(`[0-9a-f]{32}$`).FindString(h.TaskARN())
	return byNature{
		prefix + "DockerId":   dockerID,
		prefix + "DockerName": dockerName,
		// The manifest digest is not known for an image not pinned by one.
		prefix + "ImageID":                             equals(""),
		prefix + "Labels/com.amazonaws.ecs.cluster":    equals(clusterARN),
		prefix + "Labels/com.amazonaws.ecs.task-arn":   equals(h.TaskARN()),
		prefix + "CreatedAt":                           equals(startedText),
		prefix + "StartedAt":                           equals(startedText),
		prefix + "ContainerARN":                        matches(devContARN),
		prefix + "LogOptions/awslogs-stream":           equals("ecs/curl/" + taskID),
		prefix + "Networks/0/PrivateDNSName":           absent, // no VPC DNS name
		prefix + "Networks/0/SubnetGatewayIpv4Address": absent,
		prefix + "Networks/0/IPv6Addresses":            absent, // the test container has none
		prefix + "Networks/0/IPv6SubnetCIDRBlock":      absent,
		prefix + "Networks/0/DomainNameServers":        absent,
		prefix + "Networks/0/DomainNameSearchList":     absent,
		prefix + "ClockDrift":                          absent, // no reference clock measured
	}
}

func withRevision(n byNature, prefix, revision string) byNature {
	n[prefix+"Labels/com.amazonaws.ecs.task-definition-version"] = equals(revision)
	return n
}

func TestContainerMetadataMatchesTheEC2Example(t *testing.T) {
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2", addrs: []hostAddr{{Prefix: "10.0.2.100/24", MAC: "0e:9e:32:c7:48:85"}}})
	mustSetTask(t, h, &Task{Definition: curlDefinition(24, ecstypes.CompatibilityEc2, "/ecs/metadata"), TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"})

	got := getJSON(t, h, "/v4/"+h.ID())
	n := withRevision(containerNature("", h, equals(ownID), matches(`^ecs-curltest-24-curl-[0-9a-f]{20}$`)), "", "24")
	compareWithExample(t, readExample(t, "v4-ec2-container.json"), got, n)
}

// ec2TaskNature adds the task's own fields to the container's. The
// example's first container, the CNI pause container ECS adds for an
// awsvpc task on EC2, has no counterpart: credd makes no ENI.
func ec2TaskNature(h *Handler) byNature {
	n := withRevision(containerNature("Containers/0/", h, equals(ownID), matches(`^ecs-curltest-26-curl-[0-9a-f]{20}$`)), "Containers/0/", "26")
	n["Cluster"] = equals(clusterARN)
	n["TaskARN"] = matches(devTaskARN)
	n["PullStartedAt"] = equals(startedText)
	n["PullStoppedAt"] = equals(startedText)
	n["ServiceName"] = absent      // a dev container is in no service
	n["VPCID"] = absent            // nor in a VPC
	n["AvailabilityZone"] = absent // nor in a zone
	// A field of newer agents than the example's; false, see taskV4.
	n["FaultInjectionEnabled"] = equals(false)
	return n
}

func dropPauseContainer(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	cs := doc["Containers"].([]any)
	if name := cs[0].(map[string]any)["Name"]; name != "~internal~ecs~pause" {
		t.Fatalf("the example's first container is %v, want the pause container", name)
	}
	doc["Containers"] = cs[1:]
	return doc
}

func TestTaskMetadataMatchesTheEC2Examples(t *testing.T) {
	tags := []ecstypes.Tag{{Key: aws.String("tag-use"), Value: aws.String("task-metadata-endpoint-test")}}
	for _, tt := range []struct {
		name, path, example string
		tagsAllowed         bool
		extra               byNature
	}{
		{name: "task", path: "/task", example: "v4-ec2-task.json", tagsAllowed: true},
		{name: "task with tags", path: "/taskWithTags", example: "v4-ec2-task-with-tags.json", tagsAllowed: true, extra: byNature{
			// There is no container instance to have tags.
			"ContainerInstanceTags": absent,
		}},
		{name: "task with tags the role may not read", path: "/taskWithTags", example: "v4-ec2-task-with-tags-error.json", tagsAllowed: false, extra: byNature{
			// The example has two errors, for the container instance's
			// tags and the task's; credd reads the task definition's only.
			"Errors": equals([]any{map[string]any{
				"ErrorField":   "TaskTags",
				"ErrorCode":    "AccessDeniedException",
				"ErrorMessage": "credd could not read the task definition's tags: the role is not allowed ecs:ListTagsForResource on arn:aws:ecs:us-west-2:111122223333:task-definition/curltest:26; allow it to see them here",
				"StatusCode":   float64(400),
				"ResourceARN":  "arn:aws:ecs:us-west-2:111122223333:task-definition/curltest:26",
			}}),
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2", addrs: []hostAddr{{Prefix: "10.0.2.61/24", MAC: "0e:10:e2:01:bd:91"}}})
			mustSetTask(t, h, &Task{Definition: curlDefinition(26, ecstypes.CompatibilityEc2, "/ecs/metadata"), Tags: tags, TagsAllowed: tt.tagsAllowed, StartedAt: testStart, Hostname: "devbox"})
			got := getJSON(t, h, "/v4/"+h.ID()+tt.path)
			n := ec2TaskNature(h)
			for k, v := range tt.extra {
				n[k] = v
			}
			compareWithExample(t, dropPauseContainer(t, readExample(t, tt.example)), got, n)
		})
	}
}

func fargateDefinition(revision int32) *ecstypes.TaskDefinition {
	def := curlDefinition(revision, ecstypes.CompatibilityFargate, "/ecs/containerlogs")
	def.Cpu, def.Memory = aws.String("256"), aws.String("512")
	return def
}

func fargateDockerIDCheck(h *Handler) check {
	taskID := regexp.MustCompile(`[0-9a-f]{32}$`).FindString(h.TaskARN())
	return matches(`^` + taskID + `-[0-9]{10}$`)
}

func TestContainerMetadataMatchesTheFargateExample(t *testing.T) {
	// No own Docker id under an empty root: the Fargate form is used.
	h := newTestHandler(t, handlerSetup{addrs: []hostAddr{{Prefix: "192.0.2.3/24", MAC: "0a:de:f6:10:51:e5"}}})
	mustSetTask(t, h, &Task{Definition: fargateDefinition(2), TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"})

	got := getJSON(t, h, "/v4/"+h.ID())
	n := withRevision(containerNature("", h, fargateDockerIDCheck(h), equals("curl")), "", "2")
	compareWithExample(t, readExample(t, "v4-fargate-container.json"), got, n)
}

func TestTaskMetadataMatchesTheFargateExample(t *testing.T) {
	h := newTestHandler(t, handlerSetup{addrs: []hostAddr{{Prefix: "192.0.2.3/24", MAC: "02:b7:20:19:72:39"}}})
	mustSetTask(t, h, &Task{Definition: fargateDefinition(3), TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"})

	got := getJSON(t, h, "/v4/"+h.ID()+"/task")
	n := withRevision(containerNature("Containers/0/", h, fargateDockerIDCheck(h), equals("curl")), "Containers/0/", "3")
	n["TaskARN"] = matches(devTaskARN)
	n["PullStartedAt"] = equals(startedText)
	n["PullStoppedAt"] = equals(startedText)
	n["AvailabilityZone"] = absent
	n["FaultInjectionEnabled"] = equals(false)
	compareWithExample(t, readExample(t, "v4-fargate-task.json"), got, n)
}

// nginxDefinition is the one behind the v3 examples: family nginx,
// revision 5, container nginx-curl, cpu 512, memory 512, awsvpc, no log
// configuration.
func nginxDefinition() *ecstypes.TaskDefinition {
	return &ecstypes.TaskDefinition{
		TaskDefinitionArn:       aws.String("arn:aws:ecs:us-east-2:012345678910:task-definition/nginx:5"),
		Family:                  aws.String("nginx"),
		Revision:                5,
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityEc2},
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("nginx-curl"), Image: aws.String("nrdlngr/nginx-curl"), Cpu: 512, Memory: aws.Int32(512),
		}},
	}
}

func TestV3MatchesTheExamples(t *testing.T) {
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2", addrs: []hostAddr{{Prefix: "10.0.2.106/24", MAC: "0e:00:00:00:00:01"}}})
	mustSetTask(t, h, &Task{Definition: nginxDefinition(), TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"})
	v3Nature := func(prefix string) byNature {
		return byNature{
			prefix + "DockerId":                          equals(ownID),
			prefix + "DockerName":                        matches(`^ecs-nginx-5-nginx-curl-[0-9a-f]{20}$`),
			prefix + "ImageID":                           equals(""),
			prefix + "Labels/com.amazonaws.ecs.cluster":  equals("arn:aws:ecs:us-east-2:012345678910:cluster/default"),
			prefix + "Labels/com.amazonaws.ecs.task-arn": equals(h.TaskARN()),
			prefix + "CreatedAt":                         equals(startedText),
			prefix + "StartedAt":                         equals(startedText),
		}
	}

	t.Run("container", func(t *testing.T) {
		got := getJSON(t, h, "/v3/"+h.ID())
		compareWithExample(t, readExample(t, "v3-ec2-container.json"), got, v3Nature(""))
	})
	t.Run("task", func(t *testing.T) {
		got := getJSON(t, h, "/v3/"+h.ID()+"/task")
		n := v3Nature("Containers/0/")
		// The example's task ARN has the old form, without the cluster.
		n["TaskARN"] = matches(`^arn:aws:ecs:us-east-2:012345678910:task/default/de7e10[0-9a-f]{26}$`)
		n["Cluster"] = equals("arn:aws:ecs:us-east-2:012345678910:cluster/default")
		n["PullStartedAt"] = equals(startedText)
		n["PullStoppedAt"] = equals(startedText)
		n["AvailabilityZone"] = absent
		compareWithExample(t, dropPauseContainer(t, readExample(t, "v3-ec2-task.json")), got, n)
	})
}

// The stats documents have the example's keys at every level, except
// those cgroup v2 does not have (per-CPU usage, max_usage, v1's
// memory.stat keys) and, for the EC2 bridge example's network_rate_stats,
// nothing: the test task is awsvpc, which has them too.
func TestStatsHaveTheExampleShape(t *testing.T) {
	clk := clock.NewFake(testStart)
	h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2", clock: clk})
	mustSetTask(t, h, &Task{Definition: curlDefinition(26, ecstypes.CompatibilityEc2, "/ecs/metadata"), TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"})
	clk.Advance(time.Second) // the ECS agent always has a previous reading
	got := getJSON(t, h, "/v4/"+h.ID()+"/stats")
	want := readExample(t, "v4-ec2-stats.json")
	for _, path := range []string{
		"cpu_stats/cpu_usage/percpu_usage", "precpu_stats/cpu_usage/percpu_usage",
		"memory_stats/max_usage", "memory_stats/stats",
	} {
		remove(want, path)
		remove(got, path)
	}
	remove(got, "memory_stats/failcnt") // testdata has an OOM; the example none
	remove(got, "pids_stats/limit")
	sameKeys(t, "", want, got)
}

func sameKeys(t *testing.T, path string, want, got any) {
	t.Helper()
	wm, ok := want.(map[string]any)
	if !ok {
		return
	}
	gm, ok := got.(map[string]any)
	if !ok {
		t.Errorf("%s is %T, want an object", path, got)
		return
	}
	for k, v := range wm {
		g, ok := gm[k]
		if !ok {
			t.Errorf("%s/%s is missing", path, k)
			continue
		}
		sameKeys(t, path+"/"+k, v, g)
	}
	for k := range gm {
		if _, ok := wm[k]; !ok {
			t.Errorf("%s/%s is not in the example", path, k)
		}
	}
}
