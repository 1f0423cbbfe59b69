package doctor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
)

func TestRecentRefusalsAreExplainedLatestFirst(t *testing.T) {
	f := facts(func(f *Facts) {
		now := f.Status.Now
		f.Status.Refusals = []daemon.RefusalCount{
			{Reason: daemon.RefusedNoToken, Client: "aws-sdk-go-v2", Status: 401, Count: 3, FirstSeen: now.Add(-5 * time.Minute), LastSeen: now.Add(-40 * time.Second)},
			{Reason: daemon.RefusedWrongToken, Client: "none", Status: 401, Count: 1, FirstSeen: now.Add(-10 * time.Second), LastSeen: now.Add(-10 * time.Second)},
			{Reason: daemon.RefusedHost, Client: "curl", Status: 403, Count: 7, FirstSeen: now.Add(-3 * time.Hour), LastSeen: now.Add(-2 * time.Hour)}, // too old
		}
	})
	rep := Diagnose(f)
	i := slices.IndexFunc(rep.Checks, func(c Check) bool { return c.Name == "refusals" })
	if i < 0 {
		t.Fatalf("no refusals check: %v", results(rep.Checks))
	}
	c := rep.Checks[i]
	want := []string{
		"1 request from a client with no User-Agent (the JS SDK v3, the CDK CLI) sent a token that is not the daemon's, the last 10s ago",
		"3 requests from aws-sdk-go-v2 sent no token, the last 40s ago, the first 5m ago",
	}
	if c.Result != Warn || !slices.Equal(c.Detail, want) {
		t.Errorf("check = %s %q, want warn %q", c.Result, c.Detail, want)
	}
	if c.Fix != daemon.RefusedWrongToken.Fix()+"; "+daemon.RefusedNoToken.Fix() {
		t.Errorf("fix = %q", c.Fix)
	}
	if !rep.OK {
		t.Error("a refusal failed the report; it is a warning")
	}
	if !slices.Contains(rep.Actions, c.Fix) {
		t.Errorf("actions %q lack the refusals' fix", rep.Actions)
	}
}

func TestEverySuggestedCommandNamesANonDefaultStateDir(t *testing.T) {
	for _, tt := range []struct{ in, dir, want string }{
		{"run `credd reload --from-env`", "/srv/credd", "run `credd reload --state-dir /srv/credd --from-env`"},
		{`run eval "$(credd env)" in this shell`, "/tmp/my dir", `run eval "$(credd env --state-dir '/tmp/my dir')" in this shell`},
		{"start the daemon: `credd daemon`; then `credd login` and `credd status`", "/x", "start the daemon: `credd daemon --state-dir /x`; then `credd login --state-dir /x` and `credd status --state-dir /x`"},
		{"run `credd exec -- CMD`", "/it's", `run ` + "`credd exec --state-dir '/it'\\''s' -- CMD`"},
		{"already `credd status --state-dir /y`", "/y", "already `credd status --state-dir /y`"},
		{"credd writes a new token; credd doctoring is not a command", "/x", "credd writes a new token; credd doctoring is not a command"},
		{"run `credd reload --from-env`", "", "run `credd reload --from-env`"},
	} {
		if got := WithStateDir(tt.in, tt.dir); got != tt.want {
			t.Errorf("WithStateDir(%q, %q)\n got %q\nwant %q", tt.in, tt.dir, got, tt.want)
		}
	}
}

func TestDoctorsFixesNameANonDefaultStateDir(t *testing.T) {
	f := Facts{Role: "default", StatusErr: "the daemon is not running; start it with `credd daemon`", NotRunning: true, StateDir: "/srv/credd"}
	rep := Diagnose(f)
	if len(rep.Actions) == 0 || !strings.Contains(rep.Actions[0], "`credd daemon --state-dir /srv/credd`") {
		t.Errorf("actions = %q", rep.Actions)
	}
	if !strings.Contains(rep.Checks[0].Detail[0], "`credd daemon --state-dir /srv/credd`") {
		t.Errorf("detail = %q", rep.Checks[0].Detail)
	}
}
