package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/doctor"
	"github.com/credd-dev/credd/daemon/envcheck"
	"github.com/credd-dev/credd/daemon/refresh"
	"github.com/credd-dev/credd/daemon/regularfile"
	"github.com/credd-dev/credd/daemon/termsafe"
)

// refetchWarnPerMinute is how many credentials requests from one client
// family in a minute earn a warning: SDKs cache credentials until a few
// minutes before they expire, so a healthy process fetches about once an
// hour.
const refetchWarnPerMinute = 5

func runStatus(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("status", io)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	asJSON := fs.Bool("json", false, "print the status as a JSON document (schema: docs/status.md)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	v := gatherStatus(ctx, config.StateDir(*stateDir, io.Getenv), io)
	if *asJSON {
		doc := statusJSON(v)
		writeJSON(io.Stdout, doc)
		return doc.ExitCode
	}
	return renderStatus(io.Stdout, v, useColor(io))
}

// statusView is everything `credd status` shows, gathered first so that
// rendering is a pure function of it.
type statusView struct {
	// Status is nil when the daemon could not be asked; Err says why.
	Status     *daemon.Status
	Err        string
	NotRunning bool
	StateDir   string
	// SuggestStateDir is StateDir when it is not the default one, so that
	// every credd command suggested names it; else "".
	SuggestStateDir string
	// Env is the calling shell's environment, checked against the daemon.
	Env envcheck.Report
}

// suggest makes the credd commands in a suggestion name the state dir in
// use when it is not the default one.
func (v statusView) suggest(s string) string { return doctor.WithStateDir(s, v.SuggestStateDir) }

// gatherStatus asks the daemon and checks this process's environment.
func gatherStatus(ctx context.Context, stateDir string, io IO) statusView {
	v := statusView{StateDir: stateDir}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	trust := clientTrust(stateDir, io.Getenv)
	if trust.Explicit {
		v.SuggestStateDir = stateDir
	}
	st, err := control.Client{StateDir: stateDir, Trust: trust}.Status(ctx)
	in := envInput(io)
	if err != nil {
		v.Err = err.Error()
		if errors.Is(err, fs.ErrPermission) {
			v.Err += ": the daemon's state dir belongs to another user; run credd as that user, or pass your own --state-dir"
		}
		if errors.Is(err, control.ErrNotRunning) {
			v.NotRunning = true
			v.Err = notRunningMessage(stateDir)
		}
	} else {
		v.Status = &st
		in.Endpoints = roleURLs(st)
		in.TokenFile = st.TokenFile
		if tok, err := authtoken.Read(ctx, stateDir, trust); err == nil {
			in.Token = tok
		}
	}
	v.Env = envcheck.Check(in)
	return v
}

func notRunningMessage(stateDir string) string {
	return "the daemon is not running; start it with `credd daemon` (no control socket in " + stateDir + ")"
}

// envInput is the calling shell's side of the environment check.
func envInput(io IO) envcheck.Input {
	home := io.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return envcheck.Input{Getenv: io.Getenv, ReadFile: readUserFile, Home: home}
}

// readUserFile reads a file the user points credd at (~/.aws/config, a
// trust policy) as the daemon reads its own: a FIFO or a device there
// gives an error, not a hang.
func readUserFile(path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _, err := regularfile.Read(ctx, path, regularfile.Options{Max: 1 << 20})
	return b, err
}

// roleURLs are the credentials URLs of every role the daemon serves.
func roleURLs(st daemon.Status) []string {
	base, err := url.Parse(st.Endpoint)
	if err != nil {
		return []string{st.Endpoint}
	}
	var out []string
	for _, r := range st.Roles {
		u := *base
		u.Path = r.Path
		out = append(out, u.String())
	}
	if len(out) == 0 {
		out = append(out, st.Endpoint)
	}
	return out
}

// Health words, also in --json.
const (
	healthHealthy  = "healthy"
	healthDegraded = "degraded"
	healthDown     = "down"
)

// assess returns the exit code and a one-word health: healthy (0) when
// every role is served and its last refresh worked, degraded (1) when
// every role is served but a refresh failed, down (2) when a role has no
// valid credentials or the daemon cannot be asked.
func assess(st *daemon.Status) (int, string) {
	if st == nil {
		return exitDown, healthDown
	}
	if len(st.Roles) == 0 {
		return exitDown, healthDown // waiting for a role (st.NoRole says why)
	}
	code, health := exitOK, healthHealthy
	for _, r := range st.Roles {
		switch {
		case !r.Serving:
			return exitDown, healthDown
		case r.LastError != nil:
			code, health = exitDegraded, healthDegraded
		}
	}
	return code, health
}

// statusDoc is the --json document, documented in docs/status.md. The
// daemon's Status is embedded, so its fields sit at the top level.
type statusDoc struct {
	SchemaVersion int `json:"schemaVersion"`
	*daemon.Status
	Running  bool   `json:"running"`
	Health   string `json:"health"`
	ExitCode int    `json:"exitCode"`
	Message  string `json:"message,omitempty"`
	// Warnings are the same sentences the terminal output shows.
	Warnings    []string        `json:"warnings"`
	Environment envcheck.Report `json:"environment"`
}

func statusJSON(v statusView) statusDoc {
	code, health := assess(v.Status)
	env := v.Env
	env.Findings = slices.Clone(env.Findings)
	for i := range env.Findings {
		env.Findings[i].Fix = v.suggest(env.Findings[i].Fix)
	}
	warnings := statusWarnings(v.Status)
	for i := range warnings {
		warnings[i] = v.suggest(warnings[i])
	}
	return statusDoc{
		Status:        v.withSuggestions(v.Status),
		SchemaVersion: daemon.StatusVersion,
		Running:       v.Status != nil,
		Health:        health,
		ExitCode:      code,
		Message:       v.suggest(v.Err),
		Warnings:      warnings,
		Environment:   env,
	}
}

// withSuggestions is st with the credd commands of its hints naming the
// state dir in use (see suggest); st itself is left alone.
func (v statusView) withSuggestions(st *daemon.Status) *daemon.Status {
	if st == nil || v.SuggestStateDir == "" {
		return st
	}
	cp := *st
	cp.Roles = slices.Clone(st.Roles)
	for i := range cp.Roles {
		r := &cp.Roles[i]
		r.LastError = v.suggestInError(r.LastError)
		if r.Next != nil {
			next := *r.Next
			next.LastError = v.suggestInError(next.LastError)
			r.Next = &next
		}
	}
	return &cp
}

func (v statusView) suggestInError(e *daemon.ErrorStatus) *daemon.ErrorStatus {
	if e == nil {
		return nil
	}
	cp := *e
	cp.Hint = v.suggest(e.Hint)
	return &cp
}

// statusWarnings are the things worth saying that no single field says.
func statusWarnings(st *daemon.Status) []string {
	out := []string{}
	if st == nil {
		return out
	}
	for _, r := range st.Roles {
		if d := time.Duration(r.Duration); d > 0 && refresh.LeftAtRefresh(d) <= refresh.ClientWindow {
			out = append(out, fmt.Sprintf("role %s: %s credentials are refreshed with about %s left, within the 15 minutes in which botocore, .NET and Java refetch on every call: use --duration 30m or more (1h recommended)", r.Name, human(d), human(refresh.LeftAtRefresh(d))))
		}
		for _, w := range doctor.CleartextWarnings(r) {
			out = append(out, w.String())
		}
		if r.LastError != nil && r.Serving && !r.Expiration.IsZero() {
			out = append(out, fmt.Sprintf("role %s: refreshing fails (%s); the current credentials are served until they expire %s", r.Name, r.LastError.Code, doctor.Relative(st.Now, r.Expiration)))
		}
	}
	for _, c := range st.Clients {
		if c.LastMinute > refetchWarnPerMinute {
			out = append(out, fmt.Sprintf("%s fetched credentials %d times in the last minute: a long-running process should fetch about once an hour, so it is not caching them or they reach it too close to expiry (a CLI run in a loop fetches once per run, which is fine)", clientLabel(c.Client), c.LastMinute))
		}
	}
	if e := st.ECS; e != nil && e.Error != "" {
		if e.Mirrored != "" {
			out = append(out, fmt.Sprintf("ECS task definition %s: %s; the task metadata of %s is still served", e.TaskDefinition, e.Error, e.Mirrored))
		} else {
			out = append(out, fmt.Sprintf("ECS task definition %s: %s; no task metadata is served until it is fetched", e.TaskDefinition, e.Error))
		}
	}
	// Most SDKs hide why credd refused them, so status says it.
	for _, n := range doctor.RecentRefusals(st) {
		out = append(out, n.String())
	}
	return out
}

// clientLabel names a client family for people, honest about guesses.
func clientLabel(family string) string { return doctor.ClientLabel(family) }

// renderStatus writes the terminal form and returns the exit code.
func renderStatus(w io.Writer, v statusView, color bool) int {
	c := palette(color)
	code, health := assess(v.Status)
	st := v.Status
	if st == nil {
		label := "not running"
		if !v.NotRunning {
			label = "daemon unreachable"
		}
		fmt.Fprintf(w, "credd: %s\n  %s\n", c.health(health, label), esc(v.suggest(v.Err)))
		if !v.NotRunning {
			fmt.Fprintf(w, "  (status %s)\n", health)
		}
		renderEnv(w, v, c)
		return code
	}
	now := st.Now
	serving := 0
	for _, r := range st.Roles {
		if r.Serving {
			serving++
		}
	}
	fmt.Fprintf(w, "credd %s: %s, serving %d of %d role(s)\n", esc(st.Version), c.health(health, health), serving, len(st.Roles))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  daemon\tpid %d, up %s\n", st.PID, human(now.Sub(st.StartedAt)))
	fmt.Fprintf(tw, "  endpoint\t%s\n", esc(st.Endpoint))
	fmt.Fprintf(tw, "  token file\t%s\n", esc(st.TokenFile))
	if st.Sandbox != nil {
		fmt.Fprintf(tw, "  sandbox\tissuer %s, STS %s\n", esc(st.Sandbox.IssuerURL), esc(st.Sandbox.STSURL))
	}
	if len(st.HandedOff) > 0 {
		fmt.Fprintf(tw, "  handed off\t%s\n", esc(strings.Join(st.HandedOff, ", ")))
	}
	if lr := st.LastReload; lr != nil {
		fmt.Fprintf(tw, "  last reload\t%s\n", reloadLine(*lr, now, c))
	}
	if st.NoRole != "" {
		fmt.Fprintf(tw, "  no role\t%s\n", esc(st.NoRole))
		fmt.Fprintf(tw, "  \t%s\n", v.suggest("set what is missing (a Codespaces secret, remoteEnv, or in this shell), then run `credd reload --from-env`"))
	}
	tw.Flush()
	for _, r := range st.Roles {
		renderRole(w, r, now, c, v.suggest)
	}
	if st.ECS != nil {
		renderECS(w, *st.ECS, now, c)
	}
	if ws := statusWarnings(st); len(ws) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.warn("warnings"))
		for _, s := range ws {
			fmt.Fprintf(w, "  - %s\n", esc(v.suggest(s)))
		}
	}
	renderEnv(w, v, c)
	if len(st.Clients) > 0 {
		fmt.Fprintf(w, "\nclients (credentials requests by User-Agent)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, cc := range st.Clients {
			fmt.Fprintf(tw, "  %s\t%d\t%d in the last minute, last %s\n", esc(clientLabel(cc.Client)), cc.Count, cc.LastMinute, doctor.Relative(now, cc.LastSeen))
		}
		tw.Flush()
	}
	if len(st.Refusals) > 0 {
		fmt.Fprintf(w, "\nrefused requests (reason, client, status, count, last)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, rc := range st.Refusals {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", esc(string(rc.Reason)), esc(clientLabel(rc.Client)), rc.Status, rc.Count, doctor.Relative(now, rc.LastSeen))
		}
		tw.Flush()
	}
	if len(st.Requests) > 0 {
		fmt.Fprintf(w, "\nrequests (path, status, count)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, rc := range st.Requests {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", esc(rc.Path), rc.Status, rc.Count)
		}
		tw.Flush()
	}
	return code
}

// renderRole shows one role; suggest adds --state-dir to suggested commands.
func renderRole(w io.Writer, r daemon.RoleStatus, now time.Time, c colors, suggest func(string) string) {
	fmt.Fprintf(w, "\nrole %s (%s)\n", esc(r.Name), esc(r.Path))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  role ARN\t%s\n", esc(r.RoleARN))
	fmt.Fprintf(tw, "  session\t%s, %s credentials\n", esc(r.SessionName), human(time.Duration(r.Duration)))
	switch {
	case r.Serving:
		// STS credentials cannot be revoked one by one: whoever copied them
		// can use them until they expire, whatever happens to credd.
		fmt.Fprintf(tw, "  credentials\t%s, expire %s, %s: valid until then, even if this container stops\n", c.ok("serving"), clockTime(now, r.Expiration), doctor.Relative(now, r.Expiration))
		fmt.Fprintf(tw, "  assumed role\t%s (account %s)\n", esc(r.AssumedRoleARN), esc(r.AccountID))
	case !r.Expiration.IsZero():
		fmt.Fprintf(tw, "  credentials\t%s: the last ones expired %s\n", c.bad("NOT serving"), doctor.Relative(now, r.Expiration))
	default:
		fmt.Fprintf(tw, "  credentials\t%s: none obtained yet\n", c.bad("NOT serving"))
	}
	if !r.NextRefresh.IsZero() {
		fmt.Fprintf(tw, "  next refresh\t%s\n", doctor.Relative(now, r.NextRefresh))
	}
	fmt.Fprintf(tw, "  token source\t%s\n", esc(r.TokenSource))
	if cl := r.Claims; cl != nil {
		for i, line := range doctor.ClaimLines(*cl, now) {
			label := ""
			if i == 0 {
				label = "token"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", label, esc(line))
		}
	}
	if r.STSEndpoint != "" {
		fmt.Fprintf(tw, "  STS\t%s\n", esc(r.STSEndpoint))
	}
	switch e := r.LastError; {
	case e != nil:
		label, step := failedStep(e)
		fmt.Fprintf(tw, "  %s\t%s %s%s: %s %s: %s\n", label, c.bad("FAILED"), doctor.Relative(now, e.At), step, esc(string(e.Kind)), esc(string(e.Code)), esc(e.Message))
		if hint := doctor.ErrorHint(e); hint != "" {
			fmt.Fprintf(tw, "  what to do\t%s\n", esc(suggest(hint)))
		}
	case !r.LastSuccess.IsZero():
		fmt.Fprintf(tw, "  last STS call\tok %s (%s)\n", doctor.Relative(now, r.LastSuccess), doctor.Plural(r.STSCalls, "call"))
	}
	if n := r.Next; n != nil {
		fmt.Fprintf(tw, "  switching to\tsession %s once it has credentials; these are served until then\n", esc(n.SessionName))
		if e := n.LastError; e != nil {
			label, step := failedStep(e)
			fmt.Fprintf(tw, "  \tits %s %s %s%s: %s: %s\n", label, c.bad("FAILED"), doctor.Relative(now, e.At), step, esc(string(e.Code)), esc(e.Message))
		}
	}
	tw.Flush()
	renderSettings(w, r.Settings)
}

// renderSettings shows each setting with the layer it came from (highest
// first: flag, session, environment, config file, defaults file, default).
func renderSettings(w io.Writer, settings []daemon.Setting) {
	if len(settings) == 0 {
		return
	}
	fmt.Fprintf(w, "  settings (value, origin)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", esc(s.Name), esc(s.Value), esc(s.Origin))
	}
	tw.Flush()
}

// reloadLine sums up the last reload.
func reloadLine(lr daemon.ReloadStatus, now time.Time, c colors) string {
	head := doctor.Relative(now, lr.At) + " by " + esc(lr.Trigger)
	if lr.Error != "" {
		return head + ": " + c.bad("REFUSED") + ", the previous settings stay: " + esc(lr.Error)
	}
	var changed []string
	for _, ch := range lr.Changes {
		if ch.Change != daemon.ChangeUnchanged {
			changed = append(changed, esc(ch.Role+" "+ch.Change))
		}
	}
	out := head + ": ok"
	if len(changed) > 0 {
		out += " (" + strings.Join(changed, ", ") + ")"
	} else {
		out += ", nothing changed"
	}
	if len(lr.RestartNeeded) > 0 {
		out += "; " + c.warn("restart needed") + " for " + esc(strings.Join(lr.RestartNeeded, ", "))
	}
	return out
}

// clockTime is t as a UTC time of day, with the date when it is not now's.
func clockTime(now, t time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return t.Format("15:04") + " UTC"
	}
	return t.Format("2006-01-02 15:04") + " UTC"
}

func renderEnv(w io.Writer, v statusView, c colors) {
	r := v.Env
	fmt.Fprintf(w, "\nthis shell (profile %s)\n", esc(r.Profile))
	for _, f := range r.Findings {
		label := fmt.Sprintf("%-7s", f.Severity)
		switch f.Severity {
		case envcheck.Problem:
			label = c.bad(label)
		case envcheck.Warn:
			label = c.warn(label)
		default:
			label = c.ok(label)
		}
		fmt.Fprintf(w, "  %s %s\n", label, esc(f.Message))
		if f.Fix != "" && f.Severity != envcheck.OK {
			fmt.Fprintf(w, "          fix: %s\n", esc(v.suggest(f.Fix)))
		}
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// useColor is true when stdout is a terminal and NO_COLOR is unset
// (https://no-color.org) and TERM is not "dumb".
func useColor(io IO) bool {
	if io.Getenv("NO_COLOR") != "" || io.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := io.Stdout.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// esc shows the control characters and bidi overrides of a value credd
// did not write (a claim, an error from STS, a setting) as escapes, so the
// value cannot drive the terminal. It is applied to values, never to
// output holding credd's own colour codes.
func esc(s string) string { return termsafe.Escape(s) }

// colors wraps words in ANSI colours, or leaves them alone.
type colors struct{ on bool }

func palette(on bool) colors { return colors{on} }

func (c colors) paint(code, s string) string {
	if !c.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c colors) ok(s string) string   { return c.paint("32", s) }
func (c colors) warn(s string) string { return c.paint("33", s) }
func (c colors) bad(s string) string  { return c.paint("1;31", s) }

func (c colors) health(health, word string) string {
	switch health {
	case healthHealthy:
		return c.ok(word)
	case healthDegraded:
		return c.warn(word)
	}
	return c.bad(word)
}

// renderECS shows the mirrored task: what was asked, what is mirrored, and
// since when.
func renderECS(w io.Writer, e daemon.ECSStatus, now time.Time, c colors) {
	state := c.ok("mirrored")
	if e.Mirrored == "" {
		state = c.warn("not fetched yet")
		if e.Error != "" {
			state = c.bad("not fetched")
		}
	}
	fmt.Fprintf(w, "\nECS task %s: %s\n", esc(e.TaskDefinition), state)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if e.Mirrored != "" {
		fmt.Fprintf(tw, "  task definition\t%s\n", esc(e.Mirrored))
	}
	if e.TaskARN != "" {
		fmt.Fprintf(tw, "  task\t%s\n", esc(e.TaskARN))
	}
	fmt.Fprintf(tw, "  cluster\t%s\n", esc(cmp.Or(e.Cluster, "default")))
	fmt.Fprintf(tw, "  container\t%s\n", esc(cmp.Or(e.Container, "the first essential container")))
	fmt.Fprintf(tw, "  metadata\tECS_CONTAINER_METADATA_URI_V4=%s\n", esc(e.MetadataURIV4))
	if !e.LastFetch.IsZero() {
		fmt.Fprintf(tw, "  last fetch\t%s (region %s)\n", doctor.Relative(now, e.LastFetch), esc(e.Region))
	}
	if !e.NextFetch.IsZero() {
		fmt.Fprintf(tw, "  next fetch\t%s\n", doctor.Relative(now, e.NextFetch))
	}
	if ch := e.LastChange; ch != nil {
		fmt.Fprintf(tw, "  changed\t%s -> %s %s\n", esc(ch.From), esc(ch.To), doctor.Relative(now, ch.At))
	}
	if e.Note != "" {
		fmt.Fprintf(tw, "  note\t%s\n", c.warn(esc(e.Note)))
	}
	if e.TagsDenied {
		fmt.Fprintf(tw, "  tags\t%s\n", c.warn("the role may not read the task definition's tags: /taskWithTags has none"))
	}
	if e.Error != "" {
		fmt.Fprintf(tw, "  error\t%s\n", c.bad(esc(e.Error)))
		if e.Failures > 1 {
			fmt.Fprintf(tw, "  \t%d fetches failed in a row; retrying with backoff\n", e.Failures)
		}
	}
	tw.Flush()
}

// human renders a duration for people: 42s, 41m, 2h5m, 3d4h.
func human(d time.Duration) string { return doctor.Human(d) }

// failedStep names what failed: a token that could not be had or was
// refused locally never reached STS, so it is not "the last STS call".
func failedStep(e *daemon.ErrorStatus) (label, step string) {
	switch e.Stage {
	case daemon.StageTokenSource:
		return "last attempt", " getting the identity token (no STS call made)"
	case daemon.StageTokenCheck:
		return "last attempt", " checking the identity token (not sent to STS)"
	}
	return "last STS call", ""
}
