package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/doctor"
	"github.com/credd-dev/credd/daemon/policy"
)

func runDoctor(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("doctor", io)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	profile := fs.String("profile", "", "the role to check (default: the default role)")
	trustPolicy := fs.String("trust-policy", "", "the role's trust policy JSON file, evaluated against the token's claims")
	asJSON := fs.Bool("json", false, "print the diagnosis as a JSON document (schema: docs/status.md)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	f := gatherDoctor(ctx, doctorDeps{
		stateDir:   config.StateDir(*stateDir, io.Getenv),
		role:       *profile,
		policyFile: *trustPolicy,
		io:         io,
		http:       &http.Client{Timeout: 5 * time.Second},
		now:        time.Now,
	})
	rep := diagnose(f)
	if *asJSON {
		writeJSON(io.Stdout, rep)
	} else {
		renderDoctor(io.Stdout, rep, useColor(io))
	}
	return rep.ExitCode
}

// The doctor's facts and report under the names status_test.go uses (they
// can go once it says doctor.Facts and so on).
type (
	doctorFacts = doctor.Facts
	clockFact   = doctor.Clock
	fetchFact   = doctor.Fetch
)

type doctorDeps struct {
	stateDir, role, policyFile string
	io                         IO
	http                       *http.Client
	now                        func() time.Time
}

func gatherDoctor(ctx context.Context, d doctorDeps) doctor.Facts {
	v := gatherStatus(ctx, d.stateDir, d.io)
	f := doctor.Facts{Status: v.Status, StatusErr: v.Err, NotRunning: v.NotRunning, Role: orDefaultRole(d.role), Env: v.Env, PolicyFile: d.policyFile, StateDir: v.SuggestStateDir}
	if d.policyFile != "" {
		if b, err := readUserFile(d.policyFile); err != nil {
			f.PolicyErr = err.Error()
		} else if f.Policy, err = policy.Parse(b); err != nil {
			f.PolicyErr = err.Error()
		}
	}
	r, ok := doctor.RoleOf(v.Status, f.Role)
	if !ok {
		return f
	}
	if r.STSEndpoint != "" {
		f.Clock = measureSkew(ctx, d.http, r.STSEndpoint, d.now)
	}
	if tok, err := authtoken.Read(ctx, d.stateDir, clientTrust(d.stateDir, d.io.Getenv)); err == nil {
		urls := roleURLs(*v.Status)
		for _, u := range urls {
			if strings.HasSuffix(u, r.Path) {
				f.Fetch = fetchWithToken(ctx, d.http, u, tok)
			}
		}
	} else {
		f.Fetch = &doctor.Fetch{Err: "cannot read the daemon's token file: " + err.Error()}
	}
	return f
}

// measureSkew compares the Date header of any answer from the STS endpoint
// with the middle of the request's round trip.
func measureSkew(ctx context.Context, hc *http.Client, endpoint string, now func() time.Time) *doctor.Clock {
	cf := &doctor.Clock{URL: endpoint}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		cf.Err = err.Error()
		return cf
	}
	start := now()
	resp, err := hc.Do(req)
	if err != nil {
		cf.Err = err.Error()
		return cf
	}
	resp.Body.Close()
	end := now()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		cf.Err = "the answer has no usable Date header"
		return cf
	}
	mid := start.Add(end.Sub(start) / 2)
	// Date has whole seconds: up to a second of skew is noise.
	cf.Skew = date.Sub(mid.Truncate(time.Second))
	return cf
}

// fetchWithToken asks the endpoint as an SDK would, keeping nothing of the
// credentials but their account and expiry.
func fetchWithToken(ctx context.Context, hc *http.Client, u, token string) *doctor.Fetch {
	ff := &doctor.Fetch{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		ff.Err = err.Error()
		return ff
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "credd/"+version()+" doctor")
	resp, err := hc.Do(req)
	if err != nil {
		ff.Err = err.Error()
		return ff
	}
	defer resp.Body.Close()
	ff.Status = resp.StatusCode
	var body struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		AccountID  string `json:"AccountId"`
		Expiration string `json:"Expiration"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		ff.Err = "the answer is not JSON"
		return ff
	}
	ff.Code, ff.Message, ff.AccountID = body.Code, body.Message, body.AccountID
	if t, err := time.Parse(daemon.ExpirationLayout, body.Expiration); err == nil {
		ff.Expiration = t
	}
	return ff
}

// diagnose is the doctor's report on f with the command's exit code: 2 when
// the daemon is not running, 1 when a check fails.
func diagnose(f doctor.Facts) doctor.Report {
	rep := doctor.Diagnose(f)
	switch {
	case f.NotRunning:
		rep.ExitCode = exitDown
	case !rep.OK:
		rep.ExitCode = exitFailure
	}
	return rep
}

func renderDoctor(w io.Writer, rep doctor.Report, color bool) {
	c := palette(color)
	fmt.Fprintf(w, "credd doctor: role %s\n\n", esc(rep.Role))
	for _, ch := range rep.Checks {
		label := fmt.Sprintf("%-4s", ch.Result)
		switch ch.Result {
		case doctor.OK:
			label = c.ok(label)
		case doctor.Warn:
			label = c.warn(label)
		case doctor.Fail:
			label = c.bad("FAIL")
		}
		for i, d := range ch.Detail {
			if i == 0 {
				fmt.Fprintf(w, "  %s  %-13s %s\n", label, ch.Name, esc(d))
				continue
			}
			fmt.Fprintf(w, "  %4s  %-13s %s\n", "", "", esc(d))
		}
		if len(ch.Detail) == 0 {
			fmt.Fprintf(w, "  %s  %s\n", label, ch.Name)
		}
	}
	if rep.Claims != nil && rep.Suggestion != nil {
		renderSuggestion(w, *rep.Claims, *rep.Suggestion)
	}
	fmt.Fprintln(w)
	if len(rep.Actions) == 0 {
		fmt.Fprintf(w, "%s: nothing to fix.\n", c.ok("All good"))
		return
	}
	fmt.Fprintln(w, "What to do, most likely cause first:")
	for i, a := range rep.Actions {
		fmt.Fprintf(w, "  %d. %s\n", i+1, esc(a))
	}
}

func renderSuggestion(w io.Writer, cl daemon.Claims, s policy.Suggestion) {
	fmt.Fprintln(w, "\nSTS refused the role for a token with these claims (the token itself is not shown):")
	keys := []string{"iss " + cl.Issuer, "sub " + cl.Subject, "aud " + strings.Join(cl.Audience, ", ")}
	for _, k := range append(keys, doctor.ExtraClaims(cl)...) {
		fmt.Fprintf(w, "  %s\n", esc(k))
	}
	fmt.Fprintln(w, "\nA trust policy statement that allows exactly this token, ready to paste:")
	writeIndented(w, struct {
		Effect    string
		Principal map[string]string
		Action    string
		Condition map[string]map[string]string
	}{"Allow", map[string]string{"Federated": s.Federated}, policy.ActionAssumeRoleWithWebIdentity, s.Condition})
	if s.Broader != nil {
		fmt.Fprintln(w, "\nOr, to allow every branch, tag, environment and pull request of the repository, this Condition:")
		writeIndented(w, map[string]any{"Condition": s.Broader})
	}
}

// writeIndented prints v as JSON for a terminal. JSON escapes C0 controls;
// esc also escapes the C1 controls and bidi overrides it lets through, as
// \uXXXX, so the snippet stays valid JSON to paste.
func writeIndented(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "  ", "  ")
	for i, line := range strings.Split(string(b), "\n") {
		if i == 0 {
			line = "  " + line
		}
		fmt.Fprintf(w, "%s\n", esc(line))
	}
}
