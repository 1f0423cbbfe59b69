package agent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/login"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/source"
)

const handedGitHubToken = "ghu_16C7e42F292c6912E7710c838347Ae178B4a"

// stubBridge answers POST /token as credd-bridge does (the issue-12
// contract): a JWT from mint, and records what it was sent.
type stubBridge struct {
	srv  *httptest.Server
	mint func(repository, audience string) (string, error)

	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newStubBridge(t *testing.T, mint func(repository, audience string) (string, error)) *stubBridge {
	t.Helper()
	b := &stubBridge{mint: mint}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.requests = append(b.requests, r)
		b.bodies = append(b.bodies, string(raw))
		b.mu.Unlock()
		var req struct{ Audience, Repository string }
		_ = json.Unmarshal(raw, &req)
		tok, err := b.mint(req.Repository, req.Audience)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]string{"code": "signing_failed", "message": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": tok, "expires_at": time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)})
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *stubBridge) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("the bridge was never asked")
	}
	return b.requests[len(b.requests)-1], b.bodies[len(b.bodies)-1]
}

func (b *stubBridge) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

func githubRole(bridgeURL string, env map[string]string) config.Role {
	return config.Role{Name: config.DefaultRoleName, RoleARN: otherARN, TokenSource: config.SourceGitHub,
		BridgeURL: bridgeURL, Audience: config.DefaultAudience, Region: "us-east-1", SessionName: "tester",
		Duration: time.Hour, SourceEnv: env}
}

func bareAgent() *Agent {
	return &Agent{opts: Options{Version: "v9.9.9"}, log: slog.New(slog.DiscardHandler)}
}

func TestGitHubBuilderPresentsTheHandedOverTokenForTheRepository(t *testing.T) {
	b := newStubBridge(t, func(string, string) (string, error) { return "eyJhbGciOiJSUzI1NiJ9.eyJ9.c2ln", nil })
	tests := []struct {
		name     string
		role     config.Role
		wantRepo string
	}{
		{"the repository from GITHUB_REPOSITORY", githubRole(b.srv.URL, map[string]string{"GITHUB_TOKEN": handedGitHubToken, "GITHUB_REPOSITORY": "octo/app"}), "octo/app"},
		{"--github-repository over GITHUB_REPOSITORY", func() config.Role {
			r := githubRole(b.srv.URL, map[string]string{"GITHUB_TOKEN": handedGitHubToken, "GITHUB_REPOSITORY": "octo/app"})
			r.GitHubRepository = "octo/other"
			return r
		}(), "octo/other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built, err := bareAgent().buildSource(context.Background(), &tt.role)
			if err != nil {
				t.Fatal(err)
			}
			if built.src.Name() != config.SourceGitHub || built.audience != config.DefaultAudience {
				t.Errorf("built %s with audience %q", built.src.Name(), built.audience)
			}
			if _, err := built.src.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			req, body := b.last(t)
			if got := req.Header.Get("Authorization"); got != "Bearer "+handedGitHubToken {
				t.Errorf("Authorization = %q, want the handed-over GITHUB_TOKEN", got)
			}
			if got := req.Header.Get("User-Agent"); got != "credd/v9.9.9" {
				t.Errorf("User-Agent = %q, want credd/VERSION", got)
			}
			if want := `{"audience":"sts.amazonaws.com","repository":"` + tt.wantRepo + `"}`; body != want {
				t.Errorf("body = %s, want %s", body, want)
			}
		})
	}
}

// A role with a client ID but no GITHUB_TOKEN signs in with GitHub's
// device flow: until someone runs `credd login` it has no token, says so,
// and the bridge is not asked.
func TestGitHubBuilderWithoutATokenAsksNoBridge(t *testing.T) {
	b := newStubBridge(t, func(string, string) (string, error) { return "x", nil })
	role := githubRole(b.srv.URL, map[string]string{"GITHUB_REPOSITORY": "octo/app"})
	role.ClientID = "Iv1.abc"
	built, err := bareAgent().buildSource(context.Background(), &role)
	if err != nil {
		t.Fatalf("a github role without a GitHub token must build: %v", err)
	}
	if built.login == nil {
		t.Fatal("no login session for `credd login` to start")
	}
	if st := built.login.State(); st.Provider != login.ProviderGitHub || st.Issuer != "https://github.com" || st.ClientID != "Iv1.abc" {
		t.Errorf("login state = %+v, want GitHub's device flow for the client", st)
	}
	if _, ok := built.src.(source.Notifier); !ok {
		t.Error("the source does not tell the refresher of a new login")
	}
	_, err = built.src.Token(context.Background())
	if e := daemon.AsError(err); e == nil || e.Code != login.CodeLoginRequired || !strings.Contains(e.Error(), "credd login") {
		t.Fatalf("err = %v, want %s saying to run credd login", err, login.CodeLoginRequired)
	}
	if b.count() != 0 {
		t.Errorf("the bridge was asked %d times without a token", b.count())
	}
}

func TestAGitHubRoleWithoutATokenStartsAndSaysWhatToDo(t *testing.T) {
	b := newStubBridge(t, func(string, string) (string, error) { return "x", nil })
	role := githubRole(b.srv.URL, map[string]string{"GITHUB_REPOSITORY": "octo/app"})
	role.STSEndpoint = "http://127.0.0.1:1" // never reached: there is no token
	a := startAgent(t, Options{Config: sandboxConfig(t, role)})
	waitLastError(t, a, string(source.CodeGitHubTokenMissing))
	e := a.Status().Roles[0].LastError
	if e.Stage != daemon.StageTokenSource || e.Kind != daemon.KindPermanent || !strings.Contains(e.Hint, "credd reload --from-env") {
		t.Errorf("last error = %+v, want a permanent token-source failure whose hint says how to hand over a token", e)
	}
}

// The whole way, in process: the handed-over GitHub token goes to the
// bridge, its JWT to STS (the sandbox's, trusting the sandbox issuer that
// signs for the stub bridge), and status shows the bridge token's claims.
func TestAGitHubRoleServesCredentialsFromTheBridgesToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{Roles: []sandbox.Role{
		{ARN: otherARN, SubjectPattern: "repo:octo/app:user:*"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	b := newStubBridge(t, func(repository, audience string) (string, error) {
		return sb.Issuer.Mint(audience, map[string]any{
			"sub": "repo:" + repository + ":user:octocat", "repository": repository, "actor": "octocat",
			"repository_permission": "push", "token_kind": "app-user",
		})
	})
	role := githubRole(b.srv.URL, map[string]string{"GITHUB_TOKEN": handedGitHubToken, "GITHUB_REPOSITORY": "octo/app"})
	role.STSEndpoint = sb.STSURL
	a := startAgent(t, Options{Config: sandboxConfig(t, role), Sandbox: sb})

	if code, body := get(t, a.URL(), a.AuthToken()); code != http.StatusOK {
		t.Fatalf("credentials: %d %s", code, body)
	}
	st := a.Status().Roles[0]
	if st.Claims == nil || st.Claims.Subject != "repo:octo/app:user:octocat" ||
		st.Claims.Extra["repository_permission"] != "push" || st.Claims.Extra["token_kind"] != "app-user" {
		t.Errorf("status claims = %+v, want the bridge token's", st.Claims)
	}
	raw, _ := json.Marshal(a.Status())
	if strings.Contains(string(raw), handedGitHubToken) {
		t.Error("the status document holds the GitHub token")
	}
}
