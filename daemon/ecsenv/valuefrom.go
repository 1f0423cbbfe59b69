package ecsenv

import (
	"fmt"
	"strings"

	"github.com/credd-dev/credd/daemon/sts"
)

// store is the service a secret's valueFrom points at.
type store int

const (
	storeSSM store = iota + 1
	storeSecretsManager
)

// reference is a parsed valueFrom: where to call, and what to ask for.
type reference struct {
	store  store
	region string

	// parameter is what GetParameters is sent for an SSM reference: the
	// valueFrom as written (a name, a path or an ARN), as the ECS agent
	// sends it (amazon-ecs-agent agent/taskresource/ssmsecret/ssmsecret.go,
	// retrieveSSMSecretValuesByRegion appends s.ValueFrom to the names).
	// paramName is the parameter's name, for messages, and paramARN its
	// ARN (with ACCOUNT standing for the account when only a name is
	// known), for the permission a hint asks for.
	parameter, paramName, paramARN string

	// secretID, jsonKey, versionStage and versionID are a Secrets Manager
	// reference split as the ECS agent splits it.
	secretID, jsonKey, versionStage, versionID string
}

// problem is why a variable could not be resolved and what to do about it.
type problem struct {
	reason, hint string
}

// Shapes quoted in messages, from "Pass sensitive data to an Amazon ECS
// container" (specifying-sensitive-data-secrets.html, "Injecting sensitive
// data as an environment variable") and the ECS API reference's Secret type.
const (
	ssmShape = "an SSM parameter name, /path/name or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME"
	asmShape = "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf[:json-key:version-stage:version-id]"
)

// parseValueFrom tells what a secret's valueFrom points at, as ECS does.
//
// The ECS API reference, Secret.valueFrom: "The supported values are either
// the full ARN of the AWS Secrets Manager secret or the full ARN of the
// parameter in the SSM Parameter Store. [...] If the SSM Parameter Store
// parameter exists in the same Region as the task you're launching, then
// you can use either the full ARN or name of the parameter. If the
// parameter exists in a different Region, then the full ARN must be
// specified." So an ARN names its service and region; anything else is an
// SSM parameter name in the task's region (defaultRegion).
func parseValueFrom(valueFrom, defaultRegion string) (reference, *problem) {
	if valueFrom == "" {
		return reference{}, &problem{"valueFrom is empty", "set it to " + ssmShape + ", or " + asmShape}
	}
	if strings.HasPrefix(valueFrom, "arn:") {
		return parseARN(valueFrom)
	}
	return parseParameterName(valueFrom, defaultRegion)
}

func parseARN(valueFrom string) (reference, *problem) {
	// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE; the resource may hold
	// more colons (a secret's json-key:version-stage:version-id).
	f := strings.SplitN(valueFrom, ":", 6)
	if len(f) != 6 || f[1] == "" || f[2] == "" {
		return reference{}, &problem{"valueFrom is not a complete ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)",
			"use " + ssmShape + ", or " + asmShape}
	}
	service, region, resource := f[2], f[3], f[5]
	if service != "ssm" && service != "secretsmanager" {
		return reference{}, &problem{fmt.Sprintf("valueFrom is an ARN of service %q: ECS reads secrets only from SSM Parameter Store (ssm) and Secrets Manager (secretsmanager)", service),
			"use " + ssmShape + ", or " + asmShape}
	}
	if region == "" {
		return reference{}, &problem{"the ARN has no region", "put the region the " + service + " resource lives in into the ARN's fourth field"}
	}
	if err := sts.CheckRegion(region); err != nil {
		return reference{}, &problem{"the ARN's " + err.Error(), "fix the ARN's region field"}
	}
	if service == "ssm" {
		return parseParameterARN(valueFrom, region, resource)
	}
	return parseSecretARN(f, region)
}

// parseParameterARN reads arn:...:ssm:REGION:ACCOUNT:parameter/NAME.
func parseParameterARN(valueFrom, region, resource string) (reference, *problem) {
	rest, ok := strings.CutPrefix(resource, "parameter/")
	if !ok || rest == "" {
		return reference{}, &problem{"the SSM ARN does not name a parameter", "use arn:aws:ssm:REGION:ACCOUNT:parameter/NAME"}
	}
	// The ARN of /a/b is ...:parameter/a/b and that of plain "x" is
	// ...:parameter/x: a name in a hierarchy keeps its leading slash. "x"
	// and "/x" are one parameter ("Understanding parameter name
	// requirements and constraints", sysman-parameter-name-constraints:
	// "/TestParam1" and "TestParam1" are not unique), so either spelling
	// of a top-level name is right.
	name, _, _ := strings.Cut(rest, ":") // a :version or :label selector
	if strings.Contains(name, "/") {
		name = "/" + name
	}
	arn := valueFrom
	if i := strings.Index(rest, ":"); i >= 0 {
		arn = strings.TrimSuffix(valueFrom, rest[i:])
	}
	return reference{store: storeSSM, region: region, parameter: valueFrom, paramName: name, paramARN: arn}, nil
}

// parseSecretARN reads a Secrets Manager valueFrom the way the ECS agent
// does (amazon-ecs-agent agent/taskresource/asmsecret/asmsecret.go,
// getASMParametersFromInput and reconstructASMARN): the resource is
// secret:NAME, or secret:NAME:json-key:version-stage:version-id with the
// three fields optional but their colons present ("These parameters are
// optional, but if you do not use them, you must include the colons",
// specifying-sensitive-data-secrets.html). GetSecretValue gets the ARN
// without those fields. Secret names cannot hold a colon (ASCII letters,
// digits and /_+=.@-), so splitting on it is safe.
func parseSecretARN(f []string, region string) (reference, *problem) {
	parts := strings.Split(f[5], ":")
	if parts[0] != "secret" || len(parts) < 2 {
		return reference{}, &problem{"the Secrets Manager ARN does not name a secret", "use " + asmShape}
	}
	ref := reference{store: storeSecretsManager, region: region}
	switch len(parts) {
	case 2:
		ref.secretID = strings.Join(f, ":")
	case 5:
		ref.secretID = strings.Join(append(f[:5:5], "secret", parts[1]), ":")
		ref.jsonKey, ref.versionStage, ref.versionID = parts[2], parts[3], parts[4]
	default:
		return reference{}, &problem{fmt.Sprintf("the Secrets Manager ARN has %d fields after secret:NAME; ECS takes none or exactly three (json-key:version-stage:version-id, each may be empty)", len(parts)-2),
			"use " + asmShape + ", e.g. ...:secret:db-AbCdEf:password:: for the key password of the current version"}
	}
	if parts[1] == "" {
		return reference{}, &problem{"the Secrets Manager ARN has an empty secret name", "use " + asmShape}
	}
	return ref, nil
}

// parseParameterName checks an SSM parameter name (optionally with a
// :version or :label selector, which GetParameters takes: "To query by
// parameter label, use "Name": "name:label". To query by parameter
// version, use "Name": "name:version"", API_GetParameters.html).
func parseParameterName(name, region string) (reference, *problem) {
	base, _, _ := strings.Cut(name, ":")
	if strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return reference{}, &problem{"valueFrom holds a space or a control character, which no SSM parameter name or ARN has",
			"remove it; use " + ssmShape + ", or " + asmShape}
	}
	// "When you create or reference a parameter in a hierarchy, include a
	// leading forward slash character (/)" (sysman-parameter-name-constraints).
	// A name like prod/db is most often a Secrets Manager secret's name,
	// which ECS does not take without its ARN.
	if strings.Contains(base, "/") && !strings.HasPrefix(base, "/") {
		return reference{}, &problem{"valueFrom has a / but does not begin with one: it is neither an SSM parameter name (a name in a hierarchy begins with /) nor an ARN",
			"for an SSM parameter write /" + base + "; for a Secrets Manager secret use its full ARN, " + asmShape}
	}
	if region == "" {
		return reference{}, &problem{"valueFrom is a parameter name, which ECS looks up in the task's region, but no region is configured",
			"set --region (or AWS_REGION), or use the parameter's full ARN, arn:aws:ssm:REGION:ACCOUNT:parameter/NAME"}
	}
	partition := sts.PartitionOfRegion(region)
	if partition == "" {
		partition = "aws"
	}
	arn := "arn:" + partition + ":ssm:" + region + ":ACCOUNT:parameter/" + strings.TrimPrefix(base, "/")
	return reference{store: storeSSM, region: region, parameter: name, paramName: base, paramARN: arn}, nil
}
