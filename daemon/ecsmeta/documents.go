package ecsmeta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The wire types follow the ECS agent's, field for field and in its JSON
// spelling: ecs-agent/tmds/handlers/v2/response.go (TaskResponse,
// ContainerResponse, LimitsResponse, ErrorResponse),
// ecs-agent/tmds/handlers/response/response.go (PortResponse, Network) and
// ecs-agent/tmds/handlers/v4/state/response.go (the v4 additions), in
// github.com/aws/amazon-ecs-agent. Fields credd cannot fill honestly are
// left out rather than made up: ExitCode, FinishedAt, Health and Volumes
// (the agent's Docker state), ServiceName and VPCID (there is no service
// nor VPC), ClockDrift (no reference clock is measured),
// EphemeralStorageMetrics (no Fargate volume), RestartCount and
// Snapshotter.

// limits is LimitsResponse: CPU in CPU units for a container, in vCPUs
// for the task; Memory in MiB.
type limits struct {
	CPU    *float64 `json:"CPU,omitempty"`
	Memory *int64   `json:"Memory,omitempty"`
}

// port is PortResponse; HostIp is a v4 addition.
type port struct {
	ContainerPort uint16 `json:"ContainerPort,omitempty"`
	Protocol      string `json:"Protocol,omitempty"`
	HostPort      uint16 `json:"HostPort,omitempty"`
	HostIP        string `json:"HostIp,omitempty"`
}

// networkV4 is the v4 Network: response.Network and, for awsvpc only,
// NetworkInterfaceProperties. v3 has the first three fields only.
type networkV4 struct {
	NetworkMode         string   `json:"NetworkMode,omitempty"`
	IPv4Addresses       []string `json:"IPv4Addresses,omitempty"`
	IPv6Addresses       []string `json:"IPv6Addresses,omitempty"`
	AttachmentIndex     *int     `json:"AttachmentIndex,omitempty"`
	MACAddress          string   `json:"MACAddress,omitempty"`
	IPv4SubnetCIDRBlock string   `json:"IPv4SubnetCIDRBlock,omitempty"`
	IPv6SubnetCIDRBlock string   `json:"IPv6SubnetCIDRBlock,omitempty"`
}

type networkV3 struct {
	NetworkMode   string   `json:"NetworkMode,omitempty"`
	IPv4Addresses []string `json:"IPv4Addresses,omitempty"`
	IPv6Addresses []string `json:"IPv6Addresses,omitempty"`
}

// containerBase holds the fields v3 and v4 share, in the order of the
// docs' examples; each version adds its own after them.
type containerBase struct {
	DockerID      string            `json:"DockerId"`
	Name          string            `json:"Name"`
	DockerName    string            `json:"DockerName"`
	Image         string            `json:"Image"`
	ImageID       string            `json:"ImageID"`
	Ports         []port            `json:"Ports,omitempty"`
	Labels        map[string]string `json:"Labels,omitempty"`
	DesiredStatus string            `json:"DesiredStatus"`
	KnownStatus   string            `json:"KnownStatus"`
	Limits        limits            `json:"Limits"`
	CreatedAt     *time.Time        `json:"CreatedAt,omitempty"`
	StartedAt     *time.Time        `json:"StartedAt,omitempty"`
	Type          string            `json:"Type"`
}

// containerV4 is the v4 ContainerResponse, in the order of the v4 docs'
// examples.
type containerV4 struct {
	containerBase
	LogDriver    string            `json:"LogDriver,omitempty"`
	LogOptions   map[string]string `json:"LogOptions,omitempty"`
	ContainerARN string            `json:"ContainerARN,omitempty"`
	Networks     []networkV4       `json:"Networks,omitempty"`
}

// containerV3 is the v2 ContainerResponse the v3 endpoint serves, without
// the v4 fields (v2.NewContainerResponse with includeV4Metadata false).
type containerV3 struct {
	containerBase
	Networks []networkV3 `json:"Networks,omitempty"`
}

// tagError is ErrorResponse: how /taskWithTags reports tags it could not
// read ("Any errors received when retrieving the tag metadata will be
// included in the Errors field in the response",
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html).
type tagError struct {
	ErrorField   string `json:"ErrorField,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
	StatusCode   int    `json:"StatusCode,omitempty"`
	RequestID    string `json:"RequestId,omitempty"`
	ResourceARN  string `json:"ResourceARN,omitempty"`
}

// taskV4 is the v4 TaskResponse.
type taskV4 struct {
	Cluster               string            `json:"Cluster"`
	TaskARN               string            `json:"TaskARN"`
	Family                string            `json:"Family"`
	Revision              string            `json:"Revision"`
	DesiredStatus         string            `json:"DesiredStatus,omitempty"`
	KnownStatus           string            `json:"KnownStatus"`
	Limits                *limits           `json:"Limits,omitempty"`
	PullStartedAt         *time.Time        `json:"PullStartedAt,omitempty"`
	PullStoppedAt         *time.Time        `json:"PullStoppedAt,omitempty"`
	AvailabilityZone      string            `json:"AvailabilityZone,omitempty"`
	TaskTags              map[string]string `json:"TaskTags,omitempty"`
	ContainerInstanceTags map[string]string `json:"ContainerInstanceTags,omitempty"`
	Errors                []tagError        `json:"Errors,omitempty"`
	LaunchType            string            `json:"LaunchType,omitempty"`
	Containers            []containerV4     `json:"Containers,omitempty"`
	// FaultInjectionEnabled has no omitempty in the agent. credd serves
	// none of the fault injection endpoints, so it says false whatever
	// the definition's enableFaultInjection: true would invite calls
	// that can only fail.
	FaultInjectionEnabled bool `json:"FaultInjectionEnabled"`
}

// taskV3 is the v2 TaskResponse the v3 endpoint serves: no LaunchType and
// no Errors (those are v4 metadata in v2.NewTaskResponse).
type taskV3 struct {
	Cluster               string            `json:"Cluster"`
	TaskARN               string            `json:"TaskARN"`
	Family                string            `json:"Family"`
	Revision              string            `json:"Revision"`
	DesiredStatus         string            `json:"DesiredStatus,omitempty"`
	KnownStatus           string            `json:"KnownStatus"`
	Containers            []containerV3     `json:"Containers,omitempty"`
	Limits                *limits           `json:"Limits,omitempty"`
	PullStartedAt         *time.Time        `json:"PullStartedAt,omitempty"`
	PullStoppedAt         *time.Time        `json:"PullStoppedAt,omitempty"`
	AvailabilityZone      string            `json:"AvailabilityZone,omitempty"`
	TaskTags              map[string]string `json:"TaskTags,omitempty"`
	ContainerInstanceTags map[string]string `json:"ContainerInstanceTags,omitempty"`
}

// Statuses and types, as the agent spells them.
const (
	statusRunning = "RUNNING"
	// statusNone is the known status of a container the agent has not
	// started yet (apicontainerstatus.ContainerStatusNone): what the other
	// containers of the definition are, since credd runs none of them.
	statusNone = "NONE"
	typeNormal = "NORMAL"

	launchFargate = "FARGATE"
	launchEC2     = "EC2"

	modeAWSVPC = "awsvpc"
	modeBridge = "bridge"
	modeHost   = "host"
)

// Labels the agent puts on every container, after the definition's own
// dockerLabels, so that they win (docker_task_engine.go createContainer).
const (
	labelCluster        = "com.amazonaws.ecs.cluster"
	labelContainerName  = "com.amazonaws.ecs.container-name"
	labelTaskARN        = "com.amazonaws.ecs.task-arn"
	labelFamily         = "com.amazonaws.ecs.task-definition-family"
	labelFamilyRevision = "com.amazonaws.ecs.task-definition-version"
)

// minimumCPUUnit: "Agent versions >= 1.2.0: Null, zero, and CPU values of
// 1 are passed to Docker as two CPU shares", and the container's Limits
// say so (amazon-ecs-agent agent/handlers/v2/response.go).
const minimumCPUUnit = 2

// hostAddr is one address of the dev container's network interfaces.
type hostAddr struct {
	Prefix string // "172.17.0.2/16"
	MAC    string
}

// documents are the metadata for one Task, encoded once.
type documents struct {
	id                                  string
	containerV4, taskV4, taskWithTagsV4 []byte
	containerV3, taskV3, taskWithTagsV3 []byte
	clusterARN, taskARN, containerName  string
	dockerID, dockerName, networkMode   string
	otherDockerIDs                      []string // the task's other containers, in definition order
}

// build derives everything the ECS API does not say and encodes the
// documents. It reads only what the v4 docs list: never a container's
// environment, secrets, secretOptions nor repositoryCredentials.
func build(t *Task, ownDockerID string, addrs []hostAddr) (*documents, error) {
	def := t.Definition
	if def == nil {
		return nil, fmt.Errorf("the task has no definition: DescribeTaskDefinition returned none")
	}
	td, err := parseTaskDefinitionARN(aws.ToString(def.TaskDefinitionArn))
	if err != nil {
		return nil, err
	}
	if f := aws.ToString(def.Family); f != "" && f != td.family {
		return nil, fmt.Errorf("the task definition's family %q differs from its ARN's (%s)", f, aws.ToString(def.TaskDefinitionArn))
	}
	mirrored, err := FindContainer(def, t.Container)
	if err != nil {
		return nil, err
	}
	clusterName, clusterARN, err := resolveCluster(t.Cluster, td)
	if err != nil {
		return nil, err
	}
	id := endpointID(t.Hostname, td.family, t.Container)
	task := taskID(t.Hostname, td.family)
	taskARN := td.base() + ":task/" + clusterName + "/" + task
	revision := revisionString(def, td)
	launchType := launchEC2
	if slices.Contains(def.RequiresCompatibilities, ecstypes.CompatibilityFargate) {
		launchType = launchFargate
	}
	// Fargate supports awsvpc only; on EC2 Linux "If no network mode is
	// specified, the default network mode is bridge"
	// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#network_mode).
	mode := string(def.NetworkMode)
	switch {
	case launchType == launchFargate:
		mode = modeAWSVPC
	case mode == "":
		mode = modeBridge
	}
	started := t.StartedAt.UTC()

	d := &documents{id: id, clusterARN: clusterARN, taskARN: taskARN, containerName: aws.ToString(mirrored.Name), networkMode: mode}
	var v4s []containerV4
	var v3s []containerV3
	for i := range def.ContainerDefinitions {
		c := &def.ContainerDefinitions[i]
		name := aws.ToString(c.Name)
		self := c == mirrored
		c4 := containerV4{
			containerBase: containerBase{
				Name:          name,
				Image:         aws.ToString(c.Image),
				ImageID:       imageDigest(aws.ToString(c.Image)),
				Ports:         ports(c.PortMappings, mode),
				Labels:        labels(c, clusterARN, taskARN, td.family, revision),
				DesiredStatus: statusRunning,
				KnownStatus:   statusNone,
				Limits:        containerLimits(c),
				Type:          typeNormal,
			},
			ContainerARN: containerARN(td, t.Hostname, name),
			Networks:     networks(mode, addrs),
		}
		if lc := c.LogConfiguration; lc != nil {
			c4.LogDriver = string(lc.LogDriver)
			c4.LogOptions = logOptions(lc, name, task)
		}
		// The DockerId: the dev container's own Docker id where it can be
		// found (so it matches the container.id that OpenTelemetry reads
		// from /proc/self/cgroup), else the launch type's form.
		switch {
		case self && ownDockerID != "":
			c4.DockerID = ownDockerID
		case launchType == launchFargate:
			c4.DockerID = fargateDockerID(task, name)
		case self:
			c4.DockerID = ec2DockerID(task, name)
		default:
			// Not running: a Fargate-form id, which no Docker container has.
			c4.DockerID = fargateDockerID(task, name)
		}
		// "DockerName": "curl" on Fargate, the agent's generated name on EC2.
		c4.DockerName = name
		if launchType == launchEC2 {
			c4.DockerName = ec2DockerName(td, task, name)
		}
		if self {
			c4.KnownStatus = statusRunning
			c4.CreatedAt, c4.StartedAt = &started, &started
			d.dockerID, d.dockerName = c4.DockerID, c4.DockerName
		} else {
			d.otherDockerIDs = append(d.otherDockerIDs, c4.DockerID)
		}
		v4s = append(v4s, c4)
		v3s = append(v3s, toV3(c4))
		if self {
			if d.containerV4, err = encode(c4); err != nil {
				return nil, err
			}
			if d.containerV3, err = encode(toV3(c4)); err != nil {
				return nil, err
			}
		}
	}

	t4 := taskV4{
		Cluster:       clusterARN,
		TaskARN:       taskARN,
		Family:        td.family,
		Revision:      revision,
		DesiredStatus: statusRunning,
		KnownStatus:   statusRunning,
		Limits:        taskLimits(def),
		PullStartedAt: &started,
		PullStoppedAt: &started,
		// AvailabilityZone: a dev container is in none, so it is left
		// out, as ECS on EC2 leaves it out ("only available for Fargate
		// tasks using platform version 1.4 or later"). OpenTelemetry's
		// detectors set cloud.availability_zone only when it is non-empty
		// (Go detectors/aws/ecs/ecs.go: if len(availabilityZone) > 0; Node
		// AwsEcsDetector.ts: if (availabilityZone)); a made-up zone would
		// be reported as fact.
		LaunchType: launchType,
		Containers: v4s,
	}
	t3 := taskV3{
		Cluster: t4.Cluster, TaskARN: t4.TaskARN, Family: t4.Family, Revision: t4.Revision,
		DesiredStatus: t4.DesiredStatus, KnownStatus: t4.KnownStatus, Containers: v3s,
		Limits: t4.Limits, PullStartedAt: t4.PullStartedAt, PullStoppedAt: t4.PullStoppedAt,
	}
	if d.taskV4, err = encode(t4); err != nil {
		return nil, err
	}
	if d.taskV3, err = encode(t3); err != nil {
		return nil, err
	}

	// TaskTags are the task definition's tags: a dev container is no ECS
	// task, so it has no task tags of its own, and the definition's are
	// what a task launched with propagateTags=TASK_DEFINITION would carry.
	// ContainerInstanceTags stay out: there is no container instance, and
	// the agent leaves an empty map out too (omitempty).
	if t.TagsAllowed {
		t4.TaskTags = tagMap(t.Tags)
		t3.TaskTags = t4.TaskTags
	} else {
		// What the agent adds when ListTagsForResource is refused
		// (agent/handlers/v2/response.go, metadataErrorHandling; the
		// example "task with tags with an error" in the v4 docs). The
		// message is credd's: the role's name and the request id are
		// not known here, and are not needed.
		t4.Errors = []tagError{{
			ErrorField:   "TaskTags",
			ErrorCode:    "AccessDeniedException",
			ErrorMessage: "credd could not read the task definition's tags: the role is not allowed ecs:ListTagsForResource on " + aws.ToString(def.TaskDefinitionArn) + "; allow it to see them here",
			StatusCode:   400,
			ResourceARN:  aws.ToString(def.TaskDefinitionArn),
		}}
		// v3 reports no errors: v2.NewTaskResponse adds them to v4 only.
	}
	if d.taskWithTagsV4, err = encode(t4); err != nil {
		return nil, err
	}
	if d.taskWithTagsV3, err = encode(t3); err != nil {
		return nil, err
	}
	return d, nil
}

func toV3(c containerV4) containerV3 {
	v3 := containerV3{containerBase: c.containerBase}
	v3.Ports = nil // rebuilt below without the v4 additions
	for _, p := range c.Ports {
		p.HostIP = "" // a v4 addition
		v3.Ports = append(v3.Ports, p)
	}
	for _, n := range c.Networks {
		v3.Networks = append(v3.Networks, networkV3{NetworkMode: n.NetworkMode, IPv4Addresses: n.IPv4Addresses, IPv6Addresses: n.IPv6Addresses})
	}
	return v3
}

// imageDigest is the ImageID, "The SHA-256 digest of the image manifest"
// (v4 response docs), where the definition pins one (repo@sha256:...);
// otherwise credd does not know it, and says "", as the agent does for an
// image it has no id for (the pause container in the v4 examples).
func imageDigest(image string) string {
	if _, digest, ok := strings.Cut(image, "@"); ok && strings.HasPrefix(digest, "sha256:") {
		return digest
	}
	return ""
}

func labels(c *ecstypes.ContainerDefinition, cluster, taskARN, family, revision string) map[string]string {
	m := make(map[string]string, len(c.DockerLabels)+5)
	for k, v := range c.DockerLabels {
		m[k] = v
	}
	m[labelCluster] = cluster
	m[labelContainerName] = aws.ToString(c.Name)
	m[labelTaskARN] = taskARN
	m[labelFamily] = family
	m[labelFamilyRevision] = revision
	return m
}

// containerLimits: CPU units (at least minimumCPUUnit) and the hard memory
// limit in MiB, or the soft one when only that is set.
func containerLimits(c *ecstypes.ContainerDefinition) limits {
	cpu := float64(max(c.Cpu, minimumCPUUnit))
	var mem int64
	switch {
	case c.Memory != nil:
		mem = int64(*c.Memory)
	case c.MemoryReservation != nil:
		mem = int64(*c.MemoryReservation)
	}
	return limits{CPU: &cpu, Memory: &mem}
}

// taskLimits: "CPU (expressed in vCPUs) and memory", left out when the
// definition sets neither (v4 response docs; Limits "CPU": 0.25 for a
// task definition with cpu "256" in the Fargate examples). The API may
// give cpu as units ("256") or as "0.25 vCPU", memory as MiB ("512") or
// as "1 GB"
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskDefinition.html).
func taskLimits(def *ecstypes.TaskDefinition) *limits {
	var l limits
	if v, ok := parseVCPU(aws.ToString(def.Cpu)); ok {
		l.CPU = &v
	}
	if v, ok := parseMiB(aws.ToString(def.Memory)); ok {
		l.Memory = &v
	}
	if l.CPU == nil && l.Memory == nil {
		return nil
	}
	return &l
}

// parseVCPU reads "256" (CPU units, 1024 a vCPU) or "0.25 vCPU".
func parseVCPU(s string) (float64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if num, ok := strings.CutSuffix(s, "vcpu"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		return v, err == nil && v > 0
	}
	v, err := strconv.ParseFloat(s, 64)
	return v / 1024, err == nil && v > 0
}

// parseMiB reads "512" (MiB) or "1 GB".
func parseMiB(s string) (int64, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if num, ok := strings.CutSuffix(s, "gb"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		return int64(v * 1024), err == nil && v > 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// ports: with awsvpc (and host) the host port is the container port (the
// agent sets HostPort = ContainerPort when the task has an ENI); in
// bridge mode the definition's hostPort, absent when dynamic.
func ports(mappings []ecstypes.PortMapping, mode string) []port {
	var out []port
	for _, m := range mappings {
		p := port{ContainerPort: uint16(aws.ToInt32(m.ContainerPort)), Protocol: string(m.Protocol)}
		if p.Protocol == "" {
			p.Protocol = "tcp" // the API's default protocol
		}
		if mode == modeAWSVPC || mode == modeHost {
			p.HostPort = p.ContainerPort
		} else {
			p.HostPort = uint16(aws.ToInt32(m.HostPort))
		}
		out = append(out, p)
	}
	return out
}

// logOptions are the log driver's options as the container got them. ECS
// turns awslogs-stream-prefix into the stream name: "If you specify a
// prefix with this option, then the log stream takes the following
// format: prefix-name/container-name/ecs-task-id"
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html),
// and the examples show only "awslogs-stream":
// "ecs/curl/8f03e41243824aea923aca126495f665". OpenTelemetry's detectors
// need it: the Go one fails the whole detection when LogDriver is awslogs
// and awslogs-stream is empty (errCannotRetrieveLogsStreamMetadataV4).
// secretOptions are never read.
func logOptions(lc *ecstypes.LogConfiguration, container, task string) map[string]string {
	if len(lc.Options) == 0 {
		return nil
	}
	m := make(map[string]string, len(lc.Options))
	for k, v := range lc.Options {
		m[k] = v
	}
	if lc.LogDriver == ecstypes.LogDriverAwslogs {
		if prefix, ok := m["awslogs-stream-prefix"]; ok {
			delete(m, "awslogs-stream-prefix")
			if _, set := m["awslogs-stream"]; !set {
				m["awslogs-stream"] = prefix + "/" + container + "/" + task
			}
		}
	}
	return m
}

// networks reports the dev container's own addresses: they are what the
// application binds and what its peers reach it on, as a task's ENI
// address is on ECS. With no address but loopback, 127.0.0.1: where
// credd itself serves. awsvpc adds the interface properties the agent
// adds (AttachmentIndex is always 0 there: "we only support 1 ENI per
// task", agent/handlers/v4/response.go).
func networks(mode string, addrs []hostAddr) []networkV4 {
	n := networkV4{NetworkMode: mode}
	var mac, subnet string
	for _, a := range addrs {
		ip, bits, ok := splitPrefix(a.Prefix)
		if !ok {
			continue
		}
		if strings.Contains(ip, ":") {
			n.IPv6Addresses = append(n.IPv6Addresses, ip)
			continue
		}
		n.IPv4Addresses = append(n.IPv4Addresses, ip)
		if mac == "" {
			mac, subnet = a.MAC, bits
		}
	}
	if len(n.IPv4Addresses) == 0 {
		n.IPv4Addresses = []string{"127.0.0.1"}
	}
	if mode == modeAWSVPC {
		zero := 0
		n.AttachmentIndex = &zero
		n.MACAddress = mac
		n.IPv4SubnetCIDRBlock = subnet
	}
	return []networkV4{n}
}

func tagMap(tags []ecstypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// encode writes v as the agent does (json.Marshal), without escaping
// HTML characters, so a label such as "a&b" reads as it was written.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the task metadata: %w", err)
	}
	return buf.Bytes(), nil
}
