package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/internal/golden"
)

const bridgeIssuer = "https://bridge.example/issuer"

// githubStatus is a role of the github token source, its identity token
// from a credd-bridge (the issue-12 contract's claims).
func githubStatus() *daemon.Status {
	st := healthyStatus()
	r := &st.Roles[0]
	r.TokenSource = "github"
	r.Claims = &daemon.Claims{
		Issuer: bridgeIssuer, Subject: "repo:acme/app:user:alice", Audience: []string{"sts.amazonaws.com"},
		Expiry: now.Add(-14 * time.Minute), IssuedAt: now.Add(-19 * time.Minute), NotBefore: now.Add(-19 * time.Minute),
		Extra: map[string]string{
			"repository": "acme/app", "repository_id": "42", "repository_owner": "acme", "repository_owner_id": "7",
			"actor": "alice", "actor_id": "1001", "repository_permission": "push", "token_kind": "app-user", "jti": "abc",
		},
	}
	r.Settings = []daemon.Setting{
		{Name: "role-arn", Value: roleARN, Origin: "session CREDD_ROLE_ARN"},
		{Name: "token-source", Value: "github", Origin: "default: a bridge URL is set and GITHUB_TOKEN is present"},
		{Name: "audience", Value: "sts.amazonaws.com", Origin: "default"},
		{Name: "bridge-url", Value: bridgeIssuer, Origin: "defaults file /usr/local/share/credd/feature.toml"},
		{Name: "github-repository", Value: "acme/app", Origin: "session GITHUB_REPOSITORY"},
		{Name: "github-url", Value: "https://github.com", Origin: "default"},
	}
	return st
}

func TestStatusShowsABridgeTokensClaims(t *testing.T) {
	tokenMissing := githubStatus()
	{
		r := &tokenMissing.Roles[0]
		r.Serving, r.AssumedRoleARN, r.AccountID, r.Claims = false, "", "", nil
		r.Expiration, r.Obtained, r.NextRefresh, r.LastSuccess = time.Time{}, time.Time{}, now.Add(4*time.Minute), time.Time{}
		r.LastAttempt, r.STSCalls = now.Add(-time.Minute), 0
		r.LastError = &daemon.ErrorStatus{Kind: daemon.KindPermanent, Code: "GitHubTokenMissing", Stage: daemon.StageTokenSource,
			Message: "no GitHub token to prove who you are to the bridge",
			Hint:    "in a Codespace run `credd reload --from-env` from a new terminal, which hands over its GITHUB_TOKEN; elsewhere run `credd login`",
			At:      now.Add(-time.Minute)}
		tokenMissing.Requests, tokenMissing.Clients, tokenMissing.HandedOff = nil, nil, []string{"CREDD_ROLE_ARN", "GITHUB_REPOSITORY"}
	}
	for _, s := range []scenario{
		{name: "github-bridge", status: githubStatus(), env: goodEnv()},
		{name: "github-token-missing", status: tokenMissing, env: goodEnv(), statusExit: 2},
	} {
		t.Run(s.name, func(t *testing.T) {
			var text, js bytes.Buffer
			if code := renderStatus(&text, s.view(), false); code != s.statusExit {
				t.Errorf("exit %d, want %d", code, s.statusExit)
			}
			doc := statusJSON(s.view())
			writeJSON(&js, doc)
			golden.Check(t, "status-"+s.name+".txt", text.Bytes())
			golden.Check(t, "status-"+s.name+".json", js.Bytes())
			noSecrets(t, text.String()+js.String())
		})
	}
}

// A bridge token's claims that say what the bridge vouched for show once,
// among the token's lines (doctor.ClaimLines words them for both commands).
func TestStatusShowsTheBridgesClaimsOnce(t *testing.T) {
	var text bytes.Buffer
	renderStatus(&text, scenario{status: githubStatus(), env: goodEnv()}.view(), false)
	for _, want := range []string{"sub repo:acme/app:user:alice", "repository acme/app", "actor alice", "repository_permission push", "token_kind app-user"} {
		if n := strings.Count(text.String(), want); n != 1 {
			t.Errorf("status shows %q %d times, want once:\n%s", want, n, text.String())
		}
	}
}
