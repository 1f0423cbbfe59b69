package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/ecsenv"
	"github.com/credd-dev/credd/daemon/ecsmeta"
	"github.com/credd-dev/credd/daemon/ecstask"
)

// ecsMirror mirrors one ECS task definition: a watcher follows it through
// the ECS API with the default role's credentials, and each revision it
// fetches becomes the task metadata the endpoint serves.
type ecsMirror struct {
	cfg     *config.ECS
	watcher *ecstask.Watcher
	meta    *ecsmeta.Handler
	cancel  context.CancelFunc // nil until started

	mu        sync.Mutex
	snapshot  *ecstask.Snapshot // the last one fetched
	task      *ecsmeta.Task     // what the metadata is built from
	mirrorErr string            // why the last snapshot could not be mirrored
}

// buildECS builds the mirror cfg asks for; nothing runs until startECS.
func (a *Agent) buildECS(cfg *config.ECS) (*ecsMirror, error) {
	host, _ := os.Hostname()
	m := &ecsMirror{cfg: cfg}
	m.meta = ecsmeta.NewHandler(ecsmeta.Options{Clock: a.opts.Clock, Logger: a.log.With("component", "ecs"),
		Hostname: host, Family: cfg.TaskDefinition.Family, Container: cfg.Container})
	w, err := ecstask.NewWatcher(ecstask.Config{
		Ref:          cfg.TaskDefinition,
		Region:       cfg.Region,
		Endpoint:     cfg.Endpoint,
		Credentials:  servedCredentials{a},
		Clock:        a.opts.Clock,
		Logger:       a.log.With("component", "ecs"),
		PollInterval: a.opts.ECSPollInterval,
		OnChange: func(s ecstask.Snapshot) {
			a.mirror(m, s, host)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("ECS task definition %s: %w", cfg.TaskDefinition, err)
	}
	m.watcher = w
	return m, nil
}

// mirror makes a fetched revision the served task metadata. A definition
// that cannot be mirrored (no container by the --ecs-container name, say)
// leaves the previous one served and says why in status.
func (a *Agent) mirror(m *ecsMirror, s ecstask.Snapshot, host string) {
	t := &ecsmeta.Task{
		Definition:  s.Definition,
		Tags:        s.Tags,
		TagsAllowed: s.TagsAllowed,
		Cluster:     m.cfg.Cluster,
		Container:   m.cfg.Container,
		StartedAt:   a.startedAt,
		Hostname:    host,
	}
	err := m.meta.SetTask(t)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snapshot = &s
	if err != nil {
		m.mirrorErr = err.Error()
		a.log.Warn("the task definition cannot be mirrored", "component", "ecs", "task_definition", aws.ToString(s.Definition.TaskDefinitionArn), "err", err)
		return
	}
	m.task, m.mirrorErr = t, ""
	a.log.Info("mirroring ECS task definition", "component", "ecs", "task_definition", aws.ToString(s.Definition.TaskDefinitionArn))
}

// startECS runs the mirror under the agent's run context. Called with a.mu
// held; before Run it does nothing, and Run starts it.
func (a *Agent) startECS() {
	m := a.ecs
	if m == nil || m.cancel != nil || a.runCtx == nil || a.stopped {
		return
	}
	ctx, cancel := context.WithCancel(a.runCtx)
	m.cancel = cancel
	a.handler.SetMetadata(m.meta)
	a.goRole(func() {
		if err := m.watcher.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("ECS task definition watcher stopped", "component", "ecs", "err", err)
		}
	})
}

// applyECS follows a reload: a mirror whose settings changed is replaced,
// one no longer configured stops and its paths answer 404. Called with
// a.mu held.
func (a *Agent) applyECS(cfg *config.ECS) error {
	if a.ecs != nil && a.ecs.cfg.Same(cfg) {
		return nil
	}
	var next *ecsMirror
	if cfg != nil {
		var err error
		if next, err = a.buildECS(cfg); err != nil {
			return err
		}
	}
	if old := a.ecs; old != nil && old.cancel != nil {
		old.cancel()
	}
	a.ecs = next
	if next == nil {
		a.handler.SetMetadata(nil)
		return nil
	}
	a.startECS()
	return nil
}

// ecsStatus reports the mirror for status. Called with a.mu held.
func (a *Agent) ecsStatus() *daemon.ECSStatus {
	m := a.ecs
	if m == nil {
		return nil
	}
	ws := m.watcher.Status()
	v4, v3 := ecsmeta.URIs(baseURL(a.url), m.meta.ID())
	st := &daemon.ECSStatus{
		TaskDefinition: m.cfg.TaskDefinition.String(),
		Cluster:        m.cfg.Cluster,
		Container:      m.cfg.Container,
		Region:         m.cfg.Region,
		MetadataURIV4:  v4,
		MetadataURI:    v3,
		LastFetch:      ws.LastFetch,
		NextFetch:      ws.NextFetch,
		Error:          ws.Error,
		Failures:       ws.Failures,
		Note:           ws.Note,
		TagsDenied:     ws.TagsDenied,
	}
	if c := ws.LastChange; c != nil {
		st.LastChange = &daemon.ECSChange{At: c.At, From: c.From, To: c.To}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.task != nil {
		// What is served, which follows the watcher's fetch a moment later.
		d := m.task.Definition
		st.Mirrored, st.Revision = aws.ToString(d.TaskDefinitionArn), int(d.Revision)
		st.Cluster, st.Container, st.TaskARN = m.meta.Cluster(), m.meta.ContainerName(), m.meta.TaskARN()
	}
	if m.mirrorErr != "" && st.Error == "" {
		st.Error = m.mirrorErr
	}
	return st
}

// servedCredentials gives the AWS API clients of the mirror the default
// role's credentials, as an application on ECS calls AWS with its task
// role. Never the default credential chain: inside the container it
// leads to credd itself.
type servedCredentials struct{ a *Agent }

// credentialsWait bounds how long a call waits for the default role's
// first credentials.
const credentialsWait = 5 * time.Second

func (p servedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.a.mu.Lock()
	var prov interface {
		Current() *daemon.Credentials
		Await(context.Context) *daemon.Credentials
	}
	for _, s := range p.a.slots {
		if s.name == config.DefaultRoleName {
			prov = s.active.refresher
		}
	}
	p.a.mu.Unlock()
	if prov == nil {
		return aws.Credentials{}, errors.New("no default role is served yet: the ECS task definition is read with its credentials; set --role-arn (or CREDD_ROLE_ARN)")
	}
	now := p.a.opts.Clock.Now()
	c := prov.Current()
	if !c.ValidAt(now) {
		wctx, cancel := context.WithTimeout(ctx, credentialsWait)
		c = prov.Await(wctx)
		cancel()
	}
	if !c.ValidAt(p.a.opts.Clock.Now()) {
		return aws.Credentials{}, errors.New("the default role has no credentials yet: run `credd status` to see why")
	}
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		Source: "credd", CanExpire: true, Expires: c.Expiration, AccountID: c.AccountID}, nil
}

// routeECS answers `credd ecs env`: the container's environment and its
// secrets, resolved now with the role's credentials. The secrets are
// never logged nor kept: they go to the caller, over the control socket
// only its user can use.
func (a *Agent) routeECS() {
	a.control.Handle("POST "+control.ECSEnvPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req control.ECSEnvRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			control.WriteError(w, http.StatusBadRequest, &daemon.Error{Code: control.CodeBadRequest, Message: "the body is not an ECS env request"})
			return
		}
		res, status, derr := a.ecsEnv(r.Context(), req)
		if derr != nil {
			control.WriteError(w, status, derr)
			return
		}
		control.WriteJSON(w, http.StatusOK, res)
	}))
}

func (a *Agent) ecsEnv(ctx context.Context, req control.ECSEnvRequest) (control.ECSEnvResult, int, *daemon.Error) {
	a.mu.Lock()
	m := a.ecs
	a.mu.Unlock()
	if m == nil {
		return control.ECSEnvResult{}, http.StatusNotFound, &daemon.Error{Code: control.CodeNoECS,
			Message: "the daemon mirrors no ECS task definition",
			Hint:    "start it with --ecs-task-definition FAMILY[:REVISION] (or CREDD_ECS_TASK_DEFINITION; the Feature's ecsTaskDefinition option)"}
	}
	m.mu.Lock()
	snap := m.snapshot
	m.mu.Unlock()
	if snap == nil {
		why := "it has not been fetched yet"
		if e := m.watcher.Status().Error; e != "" {
			why = "fetching it fails: " + e
		}
		return control.ECSEnvResult{}, http.StatusServiceUnavailable, &daemon.Error{Code: control.CodeECSNotFetched,
			Message: "the task definition " + m.cfg.TaskDefinition.String() + " is not mirrored: " + why,
			Hint:    "run `credd status` to see why; credd ecs env --wait 30s waits for it"}
	}
	name := req.Container
	if name == "" {
		name = m.cfg.Container
	}
	c, err := ecsmeta.FindContainer(snap.Definition, name)
	if err != nil {
		return control.ECSEnvResult{}, http.StatusNotFound, &daemon.Error{Code: control.CodeUnknownContainer, Message: err.Error()}
	}
	vars, err := ecsenv.Resolve(ctx, ecsenv.Config{
		Region:                 m.cfg.Region,
		SSMEndpoint:            m.cfg.SSMEndpoint,
		SecretsManagerEndpoint: m.cfg.SecretsManagerEndpoint,
		Credentials:            servedCredentials{a},
	}, *c)
	res := control.ECSEnvResult{TaskDefinition: aws.ToString(snap.Definition.TaskDefinitionArn), Container: aws.ToString(c.Name)}
	res.MetadataURIV4, res.MetadataURI = ecsmeta.URIs(baseURL(a.url), m.meta.ID())
	for _, v := range vars {
		res.Vars = append(res.Vars, control.ECSVar{Name: v.Name, Value: v.Value, From: v.From, Secret: v.Secret})
	}
	if err != nil {
		var re *ecsenv.Error
		if !errors.As(err, &re) {
			return control.ECSEnvResult{}, http.StatusBadGateway, &daemon.Error{Code: control.CodeECSNotFetched, Message: err.Error()}
		}
		for _, f := range re.Failures {
			res.Failures = append(res.Failures, control.ECSFailure{Name: f.Name, ValueFrom: f.ValueFrom, Reason: f.Reason, Hint: f.Hint})
		}
	}
	a.log.Info("resolved the task definition's environment for credd ecs env", "component", "ecs",
		"container", res.Container, "variables", len(res.Vars), "failed", len(res.Failures))
	return res, 0, nil
}

// baseURL is the scheme and host of the endpoint's URL, where the task
// metadata paths hang.
func baseURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	return u.Scheme + "://" + u.Host
}
