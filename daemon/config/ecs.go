package config

import (
	"cmp"
	"fmt"

	"github.com/credd-dev/credd/daemon/ecstask"
	"github.com/credd-dev/credd/daemon/sts"
)

// resolveECS resolves --ecs-task-definition and its companions; nil when
// no task definition is mirrored. The task definition is read with the
// default role's credentials, as an application on ECS reads AWS with its
// task role, so the default role must exist.
func resolveECS(l *layered, roles []Role) (*ECS, error) {
	td, cluster, container := l.top("ecs-task-definition"), l.top("ecs-cluster"), l.top("ecs-container")
	if td.v == "" {
		for _, v := range []struct {
			val     value
			setting string
		}{{cluster, "ecs-cluster"}, {container, "ecs-container"}} {
			if v.val.v != "" {
				return nil, fmt.Errorf("%s: it names part of a mirrored task, so it needs --ecs-task-definition FAMILY[:REVISION] too", v.val.said(v.setting))
			}
		}
		return nil, nil
	}
	ref, err := ecstask.ParseRef(td.v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", td.said("ecs-task-definition"), err)
	}
	e := &ECS{TaskDefinition: ref, Cluster: cluster.v, Container: container.v,
		Origins: map[string]string{"ecs-task-definition": td.origin}}
	if cluster.v != "" {
		if err := ecstask.CheckCluster(cluster.v); err != nil {
			return nil, fmt.Errorf("%s: %w", cluster.said("ecs-cluster"), err)
		}
		e.Origins["ecs-cluster"] = cluster.origin
	}
	if container.v != "" {
		if err := ecstask.CheckContainerName(container.v); err != nil {
			return nil, fmt.Errorf("%s: %w", container.said("ecs-container"), err)
		}
		e.Origins["ecs-container"] = container.origin
	}
	var defaultRole *Role
	for i := range roles {
		if roles[i].Name == DefaultRoleName {
			defaultRole = &roles[i]
		}
	}
	switch {
	case ref.Region != "":
		e.Region = ref.Region
		e.Origins["ecs-region"] = "the task definition ARN"
	case defaultRole != nil:
		e.Region = defaultRole.Region
		e.Origins["ecs-region"] = cmp.Or(defaultRole.Origins["region"], originDefault)
	case len(roles) > 0:
		// Named roles only: nothing to read the task definition with.
		return nil, fmt.Errorf("%s: the task definition is read with the default role's credentials, and only named roles are configured: set --role-arn (or CREDD_ROLE_ARN) for the default role", td.said("ecs-task-definition"))
	default:
		// No role yet: the daemon waits for a reload to hand one over;
		// the region is then resolved again with it.
		e.Region = sts.DefaultRegion
		e.Origins["ecs-region"] = originDefault
	}
	if defaultRole != nil {
		e.RoleARN = defaultRole.RoleARN
	}
	if err := sts.CheckRegion(e.Region); err != nil {
		return nil, fmt.Errorf("ECS region %q: %w", e.Region, err)
	}
	for _, ep := range []struct {
		dst     *string
		service string
	}{{&e.Endpoint, "ECS"}, {&e.SSMEndpoint, "SSM"}, {&e.SecretsManagerEndpoint, "SECRETS_MANAGER"}} {
		v := serviceEndpoint(l.env, ep.service)
		if v.v == "" {
			continue
		}
		if err := validateURL(v.v); err != nil {
			return nil, fmt.Errorf("%s: %w", v.said("endpoint"), err)
		}
		*ep.dst = v.v
	}
	return e, nil
}
