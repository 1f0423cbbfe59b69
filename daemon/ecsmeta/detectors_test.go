package ecsmeta

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The OpenTelemetry ECS detectors run elsewhere against the real daemon;
// here the documents are read the way they read them.

// ecsMetadataGo mirrors the types the Go detector decodes into
// (github.com/brunoscheufler/aws-ecs-metadata-go v4.go, which
// go.opentelemetry.io/contrib/detectors/aws/ecs uses): a field of the
// wrong JSON type would fail the whole detection.
type ecsMetadataGo struct {
	Container struct {
		DockerID string            `json:"DockerId"`
		Labels   map[string]string `json:"Labels"`
		Limits   struct {
			CPU    float64
			Memory int
		}
		CreatedAt    time.Time `json:"CreatedAt"`
		StartedAt    time.Time `json:"StartedAt"`
		ContainerARN string    `json:"ContainerARN"`
		LogDriver    string    `json:"LogDriver"`
		LogOptions   struct {
			AwsLogsGroup  string `json:"awslogs-group"`
			AwsLogsStream string `json:"awslogs-stream"`
			AwsRegion     string `json:"awslogs-region"`
		} `json:"LogOptions"`
		Networks []struct {
			NetworkMode     string   `json:"NetworkMode"`
			IPv4Addresses   []string `json:"IPv4Addresses"`
			AttachmentIndex int      `json:"AttachmentIndex"`
		} `json:"Networks"`
	}
	Task struct {
		Cluster  string `json:"Cluster"`
		TaskARN  string `json:"TaskARN"`
		Family   string `json:"Family"`
		Revision string `json:"Revision"`
		Limits   struct {
			CPU    float64
			Memory int
		}
		PullStartedAt    time.Time `json:"PullStartedAt"`
		AvailabilityZone string    `json:"AvailabilityZone"`
		LaunchType       string    `json:"LaunchType"`
	}
}

func TestTheDetectorsParseTheARNs(t *testing.T) {
	for _, compat := range []ecstypes.Compatibility{ecstypes.CompatibilityEc2, ecstypes.CompatibilityFargate} {
		t.Run(string(compat), func(t *testing.T) {
			def := curlDefinition(24, compat, "/ecs/metadata")
			def.Cpu, def.Memory = ptr("1 vCPU"), ptr("2 GB")
			h := newTestHandler(t, handlerSetup{root: "testdata/cgroupv2", addrs: []hostAddr{{Prefix: "172.17.0.2/16", MAC: "02:42:ac:11:00:02"}}})
			mustSetTask(t, h, &Task{Definition: def, TagsAllowed: true, StartedAt: testStart, Hostname: "devbox"})

			var m ecsMetadataGo
			for path, into := range map[string]any{"": &m.Container, "/task": &m.Task} {
				_, _, body := get(t, h, "/v4/"+h.ID()+path)
				if err := json.Unmarshal(body, into); err != nil {
					t.Fatalf("the Go detector's types cannot read /v4/<id>%s: %v", path, err)
				}
			}

			// Go detector (detectors/aws/ecs/ecs.go): arnParts :=
			// strings.Split(TaskARN, ":"), at least 6, region [3],
			// account [4].
			parts := strings.Split(m.Task.TaskARN, ":")
			if len(parts) < 6 || parts[3] != "us-west-2" || parts[4] != "111122223333" {
				t.Errorf("TaskARN %q: parts %q", m.Task.TaskARN, parts)
			}
			// Node detector (AwsEcsDetector.ts): /arn:aws:ecs:[^:]+:([^:]+):.*/ for
			// the account, /arn:aws:ecs:([^:]+):.*/ for the region.
			if acct := regexp.MustCompile(`arn:aws:ecs:[^:]+:([^:]+):.*`).FindStringSubmatch(m.Task.TaskARN); acct == nil || acct[1] != "111122223333" {
				t.Errorf("the Node detector reads account %q from %q", acct, m.Task.TaskARN)
			}
			if region := regexp.MustCompile(`arn:aws:ecs:([^:]+):.*`).FindStringSubmatch(m.Container.ContainerARN); region == nil || region[1] != "us-west-2" {
				t.Errorf("the Node detector reads region %q from the container ARN %q", region, m.Container.ContainerARN)
			}
			// The task id: the last path segment, 32 lowercase hex digits.
			taskID := m.Task.TaskARN[strings.LastIndex(m.Task.TaskARN, "/")+1:]
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(taskID) || !strings.HasPrefix(taskID, taskIDMarker) {
				t.Errorf("task id %q", taskID)
			}
			if !strings.HasPrefix(m.Task.Cluster, "arn:") || m.Task.Cluster != "arn:aws:ecs:us-west-2:111122223333:cluster/default" {
				t.Errorf("Cluster %q: both detectors take an arn: prefix as the cluster ARN", m.Task.Cluster)
			}
			// Go detector, getLogsAttributes: awslogs needs both the group and
			// the stream, and a container ARN of 6 or more parts.
			if m.Container.LogDriver != "awslogs" || m.Container.LogOptions.AwsLogsGroup == "" || m.Container.LogOptions.AwsLogsStream != "ecs/curl/"+taskID ||
				len(strings.Split(m.Container.ContainerARN, ":")) < 6 {
				t.Errorf("log attributes: %+v, container ARN %q", m.Container.LogOptions, m.Container.ContainerARN)
			}
			// Absent, so neither detector reports a zone.
			if m.Task.AvailabilityZone != "" {
				t.Errorf("AvailabilityZone %q", m.Task.AvailabilityZone)
			}
			if m.Task.Limits.CPU != 1 || m.Task.Limits.Memory != 2048 {
				t.Errorf("task Limits %+v, want 1 vCPU and 2048 MiB", m.Task.Limits)
			}
			if m.Task.LaunchType != string(compat) || m.Task.Family != "curltest" || m.Task.Revision != "24" || !m.Task.PullStartedAt.Equal(testStart) {
				t.Errorf("task %+v", m.Task)
			}
			if m.Container.Networks[0].IPv4Addresses[0] != "172.17.0.2" {
				t.Errorf("Networks %+v, want the container's own address", m.Container.Networks)
			}
		})
	}
}

func ptr(s string) *string { return &s }
