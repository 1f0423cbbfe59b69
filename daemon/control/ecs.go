package control

import (
	"context"
	"net/http"

	"github.com/credd-dev/credd/daemon"
)

// ECSEnvPath is where `credd ecs env` asks the daemon for the mirrored task
// definition's environment, its secrets resolved with the role's
// credentials. The control socket is the daemon user's only (0600, peer
// uid checked), which is what lets secrets travel over it.
const ECSEnvPath = "/v1/ecs/env"

// Codes of the ECS routes' refusals.
const (
	CodeNoECS                        = "NoECSTask"         // the daemon mirrors no task definition
	CodeECSNotFetched                = "ECSTaskNotFetched" // not fetched yet, or the fetch fails
	CodeUnknownContainer daemon.Code = "UnknownContainer"  // the definition has no container by that name
)

// ECSEnvRequest is the body of POST /v1/ecs/env.
type ECSEnvRequest struct {
	// Container names a container of the task definition; "" = the
	// mirrored one (--ecs-container, else the first essential container).
	Container string `json:"container,omitempty"`
}

// ECSEnvResult is the answer to POST /v1/ecs/env. Vars hold secrets.
type ECSEnvResult struct {
	TaskDefinition string `json:"taskDefinition"` // the ARN read
	Container      string `json:"container"`
	// MetadataURIV4 and MetadataURI are the task metadata URIs, which ECS
	// sets in every container too.
	MetadataURIV4 string       `json:"metadataUriV4"`
	MetadataURI   string       `json:"metadataUri"`
	Vars          []ECSVar     `json:"vars"`
	Failures      []ECSFailure `json:"failures,omitempty"`
}

// ECSVar is one variable of the container: from its environment, or a
// secret resolved from its valueFrom.
type ECSVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	From   string `json:"from,omitempty"`
	Secret bool   `json:"secret,omitempty"`
}

// ECSFailure is a variable that could not be resolved, never with its
// value: which valueFrom, why, and what to do.
type ECSFailure struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom,omitempty"`
	Reason    string `json:"reason"`
	Hint      string `json:"hint,omitempty"`
}

// ECSEnv asks the daemon for a container's environment and secrets. The
// error wraps ErrNotRunning when no daemon answers, and is a *CallError
// when the daemon refused.
func (c Client) ECSEnv(ctx context.Context, req ECSEnvRequest) (ECSEnvResult, error) {
	var res ECSEnvResult
	err := c.Call(ctx, http.MethodPost, ECSEnvPath, req, &res)
	return res, err
}
