package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/login"
	"github.com/credd-dev/credd/daemon/sandbox"
)

// ReloadRequest and ReloadResult are the control socket's.
type (
	ReloadRequest = control.ReloadRequest
	ReloadResult  = control.ReloadResult
)

// Reload triggers.
const (
	TriggerReload        = "credd reload"
	TriggerReloadFromEnv = "credd reload --from-env"
	TriggerSIGHUP        = "SIGHUP"
)

// switchPoll is how often a rebuilt role that has no credentials yet is
// checked between its refresher's attempts (Await returns at once then).
// It paces a wait for STS; it is no deadline, so it reads no clock.
const switchPoll = 100 * time.Millisecond

// ErrCannotReload means the agent was started without Options.Resolve.
var ErrCannotReload = errors.New("this daemon cannot reload its settings: restart it instead")

// Reload resolves the settings again (the files are re-read; with FromEnv
// the handed-off session environment is replaced) and applies them without
// a gap in serving: see apply. When the new settings are invalid it returns
// the error and changes nothing.
func (a *Agent) Reload(ctx context.Context, req ReloadRequest) (ReloadResult, error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	trigger := cmp.Or(req.Trigger, TriggerReload)
	if req.FromEnv && req.Trigger == "" {
		trigger = TriggerReloadFromEnv
	}
	status := daemon.ReloadStatus{At: a.opts.Clock.Now(), Trigger: trigger}
	res, err := a.reload(ctx, req)
	if err != nil {
		status.Error = err.Error()
	} else {
		status.Changes, status.RestartNeeded = res.Changes, res.RestartNeeded
		res.ReloadStatus = status
	}
	a.mu.Lock()
	a.lastReload = &status
	a.mu.Unlock()
	a.logReload(status, res.HandedOff)
	return res, err
}

func (a *Agent) reload(ctx context.Context, req ReloadRequest) (ReloadResult, error) {
	if a.opts.Resolve == nil {
		return ReloadResult{}, ErrCannotReload
	}
	a.mu.Lock()
	session := a.session
	a.mu.Unlock()
	if req.FromEnv {
		session = config.FilterHandOff(req.Env)
	}
	cfg, err := a.opts.Resolve(session)
	if err != nil {
		return ReloadResult{}, err
	}
	if len(cfg.Roles) == 0 {
		return ReloadResult{}, errors.New("no role configured")
	}
	changes, err := a.apply(ctx, cfg, session)
	if err != nil {
		return ReloadResult{}, err
	}
	if req.FromEnv {
		// Kept so that a restarted daemon starts as it is now (HandOffFile).
		if err := SaveHandOff(a.opts.Config.StateDir, session); err != nil {
			a.log.Warn("the handed-off environment could not be kept; a restarted daemon waits for the next credd reload --from-env", "component", "agent", "err", err)
		}
	}
	return ReloadResult{
		ReloadStatus: daemon.ReloadStatus{Changes: changes, RestartNeeded: restartNeeded(a.opts.Config, cfg)},
		HandedOff:    slices.Sorted(maps.Keys(session)),
		LoginNeeded:  a.loginNeeded(),
	}, nil
}

// restartNeeded names the daemon-wide settings that differ from those the
// daemon started with: the listener, socket, files and logger are bound
// once.
func restartNeeded(started, now config.Config) []string {
	var out []string
	for _, c := range []struct {
		name     string
		was, now any
	}{
		{"listen", started.Listen, now.Listen},
		{"state-dir", started.StateDir, now.StateDir},
		{"config", started.ConfigFile, now.ConfigFile},
		{"defaults-file", started.DefaultsFile, now.DefaultsFile},
		{"log-level", started.LogLevel, now.LogLevel},
		{"keep-login", started.KeepLogin, now.KeepLogin},
	} {
		if c.was != c.now {
			out = append(out, c.name)
		}
	}
	return out
}

// plan is what a reload does to one path, decided before anything changes.
type plan struct {
	slot   *slot       // nil for an added role
	cfg    config.Role // the new settings
	built  *role       // the rebuilt role; nil when unchanged
	change daemon.RoleChange
}

// apply builds every changed role first, so a failure changes nothing, then
// switches under a.mu:
//   - a role whose settings are unchanged keeps its refresher;
//   - a role whose role ARN changed stops serving the old role at once;
//   - a role whose other settings changed keeps serving until the rebuilt
//     one has credentials (awaitSwitch), then hands over: no gap;
//   - added roles start, removed roles stop and their path answers 404.
func (a *Agent) apply(ctx context.Context, cfg config.Config, session map[string]string) ([]daemon.RoleChange, error) {
	a.mu.Lock()
	current := slices.Clone(a.slots)
	nLogins := len(a.logins)
	a.mu.Unlock()
	plans, err := a.plan(ctx, cfg, current)
	if err != nil {
		a.mu.Lock()
		a.logins = a.logins[:nLogins] // sessions made for roles never applied
		a.mu.Unlock()
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	var slots []*slot
	var changes []daemon.RoleChange
	for _, p := range plans {
		s := a.commit(p)
		slots = append(slots, s)
		changes = append(changes, p.change)
	}
	for _, s := range current {
		if !slices.Contains(slots, s) {
			stopRole(s.active)
			stopRole(s.pending)
			changes = append(changes, daemon.RoleChange{Role: s.name, Change: daemon.ChangeRemoved})
		}
	}
	a.slots, a.cfg, a.session = slots, cfg, session
	a.noRole = ""
	if err := a.handler.SetRoles(a.providers()); err != nil {
		return nil, err // cannot happen: config checked the names
	}
	a.relinkLogins()
	a.startLogins()
	if err := a.applyECS(cfg.ECS); err != nil {
		// config checked the settings, so this is not expected; the roles
		// are applied already and stay.
		a.log.Error("the ECS task definition settings were not applied", "component", "ecs", "err", err)
	}
	return changes, nil
}

// plan compares the new roles with the served ones and builds those that
// changed; nothing is started.
func (a *Agent) plan(ctx context.Context, cfg config.Config, current []*slot) ([]plan, error) {
	var plans []plan
	for _, rc := range cfg.Roles {
		p := plan{cfg: rc, change: daemon.RoleChange{Role: rc.Name, Change: daemon.ChangeUnchanged}}
		i := slices.IndexFunc(current, func(s *slot) bool { return s.name == rc.Name })
		if i >= 0 {
			p.slot = current[i]
			if active, target := a.roles(p.slot); target.resolved.Same(rc) || active.resolved.Same(rc) {
				plans = append(plans, p)
				continue
			}
		}
		r, err := a.buildRole(ctx, rc)
		if err != nil {
			return nil, fmt.Errorf("role %s: %w", rc.Name, err)
		}
		p.built = r
		switch {
		case p.slot == nil:
			p.change.Change = daemon.ChangeAdded
		case effectiveARN(a.activeOf(p.slot).resolved) != effectiveARN(rc):
			p.change.Change = daemon.ChangeRoleARN
		default:
			p.change.Change = daemon.ChangeUpdated
		}
		if p.slot != nil {
			_, target := a.roles(p.slot)
			p.change.Settings = changedSettings(target.resolved, rc)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// roles returns the role serving a slot and the one it is becoming (its
// pending role, else the same).
func (a *Agent) roles(s *slot) (active, target *role) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return s.active, cmp.Or(s.pending, s.active)
}

func (a *Agent) activeOf(s *slot) *role {
	active, _ := a.roles(s)
	return active
}

// commit applies one plan and returns the slot now serving its path.
// Called with a.mu held.
func (a *Agent) commit(p plan) *slot {
	s := p.slot
	switch {
	case p.built == nil: // unchanged: keep the refresher, take the origins
		if s.pending != nil && !s.pending.resolved.Same(p.cfg) && s.active.resolved.Same(p.cfg) {
			// Back to the settings served now: drop the rebuild.
			stopRole(s.pending)
			s.pending = nil
		}
		t := cmp.Or(s.pending, s.active)
		t.resolved.Origins, t.cfg.Origins = p.cfg.Origins, p.cfg.Origins
		return s
	case s == nil:
		s = &slot{name: p.cfg.Name, active: p.built}
	case p.change.Change == daemon.ChangeRoleARN || s.active.refresher.Current() == nil:
		// Another role's credentials must not be served a moment longer;
		// and with none to serve there is no gap to bridge.
		stopRole(s.active)
		stopRole(s.pending)
		s.active, s.pending = p.built, nil
	default:
		stopRole(s.pending)
		s.pending = p.built
	}
	a.logRole(p.built)
	a.startSlot(s)
	return s
}

// awaitSwitch hands a slot over to its rebuilt role once that has
// credentials, and stops the role it replaces. It returns when ctx (the
// rebuilt role's) ends: stopped by a later reload or by Run.
func (a *Agent) awaitSwitch(ctx context.Context, s *slot, r *role) {
	for ctx.Err() == nil {
		if r.refresher.Current() != nil {
			a.promote(s, r)
			return
		}
		wait, cancel := context.WithTimeout(ctx, switchPoll)
		if r.refresher.Await(wait) == nil {
			<-wait.Done() // between attempts Await returns at once
		}
		cancel()
	}
}

func (a *Agent) promote(s *slot, r *role) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.pending != r || !slices.Contains(a.slots, s) {
		return // superseded by a later reload
	}
	old := s.active
	s.active, s.pending = r, nil
	if err := a.handler.SetRoles(a.providers()); err != nil {
		a.log.Error("switch to the reloaded role", "component", "agent", "role", s.name, "err", err)
		return
	}
	stopRole(old)
	a.log.Info("reloaded role now serving", "component", "agent", "role", s.name, "session_name", r.cfg.SessionName)
}

// effectiveARN is the role a role's credentials are for: the sandbox's
// role when a sandbox role names none.
func effectiveARN(rc config.Role) string {
	if rc.RoleARN == "" && rc.TokenSource == config.SourceSandbox {
		return sandbox.DefaultRoleARN
	}
	return rc.RoleARN
}

// changedSettings names the settings whose value differs.
func changedSettings(was, now config.Role) []string {
	old := map[string]string{}
	for _, s := range was.Settings() {
		old[s.Name] = s.Value
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range now.Settings() {
		seen[s.Name] = true
		if old[s.Name] != s.Value {
			out = append(out, s.Name)
		}
	}
	for _, s := range was.Settings() {
		if !seen[s.Name] {
			out = append(out, s.Name)
		}
	}
	if len(out) == 0 && !was.Same(now) {
		out = append(out, "environment") // a handed-off variable the token source reads
	}
	return out
}

// relinkLogins records which served roles each login session feeds. A
// session no role uses any more keeps running, so its login is not lost if
// a later reload brings the role back. Called with a.mu held.
func (a *Agent) relinkLogins() {
	for _, e := range a.logins {
		var roles []string
		for _, s := range a.slots {
			if r := cmp.Or(s.pending, s.active); r.login == e.sess {
				roles = append(roles, s.name)
			}
		}
		e.roles = roles
	}
}

// loginNeeded names the roles whose login must be done with `credd login`.
func (a *Agent) loginNeeded() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, s := range a.slots {
		r := cmp.Or(s.pending, s.active)
		if r.login == nil {
			continue
		}
		if st := r.login.State(); st.Status != login.StatusLoggedIn {
			out = append(out, s.name)
		}
	}
	return out
}

// logReload logs a reload's outcome: variable names, never their values.
func (a *Agent) logReload(st daemon.ReloadStatus, handedOff []string) {
	log := a.log.With("component", "agent", "trigger", st.Trigger)
	if st.Error != "" {
		log.Warn("reload refused; the previous settings stay in force", "err", st.Error)
		return
	}
	for _, c := range st.Changes {
		log.Info("reload", "role", c.Role, "change", c.Change, "settings", c.Settings)
	}
	if len(st.RestartNeeded) > 0 {
		log.Warn("reload: these settings take effect when the daemon restarts", "settings", st.RestartNeeded)
	}
	if handedOff != nil {
		log.Info("reload: session variables handed over", "names", handedOff)
	}
}

// routeReload adds POST /v1/reload to the control socket.
func (a *Agent) routeReload() {
	a.control.Handle("POST "+control.ReloadPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ReloadRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			control.WriteError(w, http.StatusBadRequest, &daemon.Error{Code: control.CodeBadRequest, Message: "the body is not a reload request"})
			return
		}
		req.Trigger = ""
		res, err := a.Reload(r.Context(), req)
		switch {
		case errors.Is(err, ErrCannotReload):
			control.WriteError(w, http.StatusNotImplemented, &daemon.Error{Code: control.CodeCannotReload, Message: err.Error()})
		case err != nil:
			control.WriteError(w, http.StatusUnprocessableEntity, &daemon.Error{Code: control.CodeInvalidSettings,
				Message: "the new settings were not applied, the daemon keeps its current ones: " + err.Error(),
				Hint:    "fix the setting and run credd reload again"})
		default:
			control.WriteJSON(w, http.StatusOK, res)
		}
	}))
}
