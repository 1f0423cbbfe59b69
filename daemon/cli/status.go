package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
)

func runStatus(ctx context.Context, args []string, io IO) int {
	fs := newFlagSet("status", io)
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)")
	asJSON := fs.Bool("json", false, "print the status as a JSON document")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	dir := config.StateDir(*stateDir, io.Getenv)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := control.Client{StateDir: dir}.Status(ctx)
	if err != nil {
		if *asJSON {
			writeJSON(io.Stdout, map[string]any{"schemaVersion": daemon.StatusVersion, "running": false, "health": "down", "message": err.Error()})
		} else {
			fmt.Fprintf(io.Stdout, "credd: not serving\n  %s\n", err)
		}
		if errors.Is(err, control.ErrNotRunning) {
			return exitDown
		}
		return exitDown
	}
	code, health := assess(st)
	if *asJSON {
		doc := struct {
			daemon.Status
			Running bool   `json:"running"`
			Health  string `json:"health"`
		}{st, true, health}
		writeJSON(io.Stdout, doc)
		return code
	}
	renderStatus(io.Stdout, st, health)
	return code
}

// assess returns the exit code and a one-word health: healthy (0) when
// every role is served and its last refresh worked, degraded (1) when
// every role is served but a refresh failed, down (2) when a role has no
// valid credentials.
func assess(st daemon.Status) (int, string) {
	code, health := exitOK, "healthy"
	for _, r := range st.Roles {
		switch {
		case !r.Serving:
			return exitDown, "down"
		case r.LastError != nil:
			code, health = exitDegraded, "degraded"
		}
	}
	return code, health
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func renderStatus(w io.Writer, st daemon.Status, health string) {
	now := st.Now
	fmt.Fprintf(w, "credd %s: %s\n", st.Version, health)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  daemon\tpid %d, up %s\n", st.PID, roundDuration(now.Sub(st.StartedAt)))
	fmt.Fprintf(tw, "  endpoint\t%s\n", st.Endpoint)
	fmt.Fprintf(tw, "  token file\t%s\n", st.TokenFile)
	if st.Sandbox != nil {
		fmt.Fprintf(tw, "  sandbox\tissuer %s, STS %s\n", st.Sandbox.IssuerURL, st.Sandbox.STSURL)
	}
	tw.Flush()
	for _, r := range st.Roles {
		fmt.Fprintf(w, "\nrole %s (%s)\n", r.Name, r.Path)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  role ARN\t%s\n", r.RoleARN)
		fmt.Fprintf(tw, "  session\t%s, %s credentials\n", r.SessionName, roundDuration(time.Duration(r.Duration)))
		fmt.Fprintf(tw, "  token source\t%s\n", r.TokenSource)
		if c := r.Claims; c != nil {
			fmt.Fprintf(tw, "  token\tiss %s, sub %s, aud %s, expires %s\n", c.Issuer, c.Subject, strings.Join(c.Audience, ","), relative(now, c.Expiry))
		}
		if r.Serving {
			fmt.Fprintf(tw, "  credentials\tserving, expire %s (%s)\n", relative(now, r.Expiration), r.Expiration.UTC().Format(daemon.ExpirationLayout))
			fmt.Fprintf(tw, "  assumed role\t%s (account %s)\n", r.AssumedRoleARN, r.AccountID)
		} else if !r.Expiration.IsZero() {
			fmt.Fprintf(tw, "  credentials\tNOT serving: the last ones expired %s\n", relative(now, r.Expiration))
		} else {
			fmt.Fprintf(tw, "  credentials\tNOT serving: none fetched yet\n")
		}
		if !r.NextRefresh.IsZero() {
			fmt.Fprintf(tw, "  next refresh\t%s\n", relative(now, r.NextRefresh))
		}
		switch {
		case r.LastError != nil:
			fmt.Fprintf(tw, "  last STS call\tFAILED %s: %s %s: %s\n", relative(now, r.LastError.At), r.LastError.Kind, r.LastError.Code, r.LastError.Message)
			if r.LastError.Hint != "" {
				fmt.Fprintf(tw, "  what to do\t%s\n", r.LastError.Hint)
			}
		case !r.LastSuccess.IsZero():
			fmt.Fprintf(tw, "  last STS call\tok %s (%d calls)\n", relative(now, r.LastSuccess), r.STSCalls)
		}
		tw.Flush()
	}
	if len(st.Requests) > 0 {
		fmt.Fprintf(w, "\nrequests\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, rc := range st.Requests {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", rc.Path, rc.Status, rc.Count)
		}
		tw.Flush()
	}
}

// relative renders t against now as "in 41m" or "3m ago".
func relative(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + roundDuration(d)
	}
	return roundDuration(-d) + " ago"
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	default:
		return d.Round(time.Minute).String()
	}
}
