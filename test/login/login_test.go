package login

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// roleARN is the sandbox role that trusts the test IdP.
const roleARN = "arn:aws:iam::123456789012:role/sso-dev"

// startSTS runs the sandbox STS in the test process, trusting the IdP for
// tokens whose aud is the client ID, as an IAM OIDC provider registered
// with that client ID would.
func startSTS(t *testing.T, p *idp) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{STS: sandbox.STSOptions{
		TrustedIssuers: []string{p.URL},
		Roles:          []sandbox.Role{{ARN: roleARN, Audience: clientID, SubjectPattern: "*", Issuer: p.URL}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Close() })
	return sb
}

// loginDaemon starts credd with --token-source login against the IdP.
func loginDaemon(t *testing.T, p *idp, sb *sandbox.Sandbox, args ...string) *harness.Daemon {
	t.Helper()
	return binary.StartDaemon(t, harness.BaseEnv(), append([]string{
		"--token-source", "login", "--issuer", p.URL, "--client-id", clientID,
		"--role-arn", roleARN, "--sts-endpoint", sb.STSURL, "--region", "us-east-1",
	}, args...)...)
}

// statusDoc is the part of `credd status --json` these tests read.
type statusDoc struct {
	Health string
	Roles  []struct {
		Name           string
		Serving        bool
		AssumedRoleArn string
		Claims         *struct{ Sub, Iss string }
		LastError      *struct{ Code, Message, Hint string }
	}
}

func status(t *testing.T, d *harness.Daemon) statusDoc {
	t.Helper()
	out, _, _ := binary.Run(t, d.Env, "status", "--json", "--state-dir", d.StateDir)
	var doc statusDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return doc
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting until %s", timeout, what)
}

func TestLoginWithADeviceCodeServesCredentials(t *testing.T) {
	t.Parallel()
	p := startIdP(t)
	sb := startSTS(t, p)
	d := loginDaemon(t, p, sb)

	eventually(t, 10*time.Second, "status says to log in", func() bool {
		st := status(t, d)
		e := st.Roles[0].LastError
		return e != nil && e.Code == "LoginRequired" && strings.Contains(e.Hint, "credd login") && !st.Roles[0].Serving
	})

	l, uri, code := startLogin(t, d)
	if !strings.HasPrefix(uri, p.URL+"/device") || !strings.Contains(l.stdout(), "user_code="+code) {
		t.Errorf("credd login printed:\n%s", l.stdout())
	}
	// A second login while the first is pending shows the same code.
	out, stderr, exit := binary.Run(t, d.Env, "login", "--no-wait", "--state-dir", d.StateDir)
	if exit != 0 || !strings.Contains(out, code) {
		t.Errorf("second credd login: exit %d, want the same code %s:\n%s%s", exit, code, out, stderr)
	}

	approve(t, uri, code, "alice", false)
	exit, out = l.wait(t, 30*time.Second)
	if exit != 0 || !strings.Contains(out, "Logged in as alice") {
		t.Fatalf("credd login: exit %d:\n%s", exit, out)
	}
	var st statusDoc
	eventually(t, 10*time.Second, "the role is served", func() bool { st = status(t, d); return st.Roles[0].Serving })
	r := st.Roles[0]
	if r.Claims == nil || r.Claims.Sub != "alice" || r.Claims.Iss != p.URL || !strings.Contains(r.AssumedRoleArn, "assumed-role/sso-dev/") {
		t.Errorf("status after login: %+v", r)
	}
	if n := sb.STS.Calls("AssumeRoleWithWebIdentity"); n < 1 {
		t.Errorf("STS saw %d AssumeRoleWithWebIdentity calls", n)
	}
	cp, stderr, exit := binary.Run(t, d.Env, "credential-process", "--state-dir", d.StateDir)
	if exit != 0 || !strings.Contains(cp, `"SessionToken"`) {
		t.Errorf("credential-process: exit %d: %s", exit, stderr)
	}
	// No token reaches the daemon's log.
	if logs := d.Logs(); strings.Contains(logs, "eyJ") {
		t.Errorf("the daemon logged something JWT-shaped")
	}
}

func TestLoginDeniedAtTheIdPSaysSo(t *testing.T) {
	t.Parallel()
	p := startIdP(t)
	sb := startSTS(t, p)
	d := loginDaemon(t, p, sb)
	l, uri, code := startLogin(t, d)
	approve(t, uri, code, "mallory", true)
	exit, out := l.wait(t, 30*time.Second)
	if exit != 1 || !strings.Contains(out, "denied") {
		t.Errorf("credd login: exit %d, want 1 and 'denied':\n%s", exit, out)
	}
	if st := status(t, d); st.Roles[0].Serving {
		t.Errorf("serving after a denied login")
	}
}

func TestLoginCodeThatExpiresSaysSo(t *testing.T) {
	t.Parallel()
	p := startIdP(t, "--device-code-ttl", "3")
	sb := startSTS(t, p)
	d := loginDaemon(t, p, sb)
	l, _, _ := startLogin(t, d)
	exit, out := l.wait(t, 30*time.Second)
	if exit != 1 || !strings.Contains(out, "expired") || !strings.Contains(out, "credd login") {
		t.Errorf("credd login: exit %d, want 1 and 'expired':\n%s", exit, out)
	}
}

func TestLoginSlowsDownWhenTheIdPAsks(t *testing.T) {
	t.Parallel()
	p := startIdP(t) // interval 1 s
	sb := startSTS(t, p)
	d := loginDaemon(t, p, sb)
	p.admin(t, "POST", "/test/slow-down?n=1", nil)
	l, uri, code := startLogin(t, d)
	eventually(t, 10*time.Second, "the first poll", func() bool { return len(p.polls(t)) >= 1 })
	approve(t, uri, code, "alice", false)
	exit, out := l.wait(t, 30*time.Second)
	if exit != 0 {
		t.Fatalf("credd login: exit %d:\n%s", exit, out)
	}
	polls := p.polls(t)
	if len(polls) < 2 {
		t.Fatalf("polls: %v", polls)
	}
	// RFC 8628 §3.5: after slow_down, the interval grows by 5 s (1 → 6).
	if gap := polls[1].Sub(polls[0]); gap < 5800*time.Millisecond {
		t.Errorf("the poll after slow_down came %s later, want at least 6s", gap)
	}
}

func TestLoginRenewsTheIDTokenAndSaysWhenItCannot(t *testing.T) {
	t.Parallel()
	// ID tokens live 50 s: the daemon renews at half-life, 25 s.
	p := startIdP(t, "--id-token-ttl", "50")
	sb := startSTS(t, p)
	d := loginDaemon(t, p, sb)
	l, uri, code := startLogin(t, d)
	approve(t, uri, code, "alice", false)
	if exit, out := l.wait(t, 30*time.Second); exit != 0 {
		t.Fatalf("credd login: exit %d:\n%s", exit, out)
	}
	eventually(t, 10*time.Second, "the role is served", func() bool { return status(t, d).Roles[0].Serving })

	eventually(t, 45*time.Second, "the ID token is renewed", func() bool {
		return strings.Contains(d.Logs(), "ID token renewed")
	})

	// The IdP revokes the grant: the next renewal is refused.
	p.admin(t, "POST", "/test/revoke", nil)
	var st statusDoc
	eventually(t, 45*time.Second, "status says login required", func() bool {
		st = status(t, d)
		e := st.Roles[0].LastError
		return e != nil && e.Code == "LoginRequired"
	})
	r := st.Roles[0]
	if !r.Serving || st.Health != "degraded" {
		t.Errorf("after a refused renewal: serving %v, health %s; want the last credentials served, degraded", r.Serving, st.Health)
	}
	if !strings.Contains(r.LastError.Message, "login required") || !strings.Contains(r.LastError.Hint, "credd login") {
		t.Errorf("last error: %+v", r.LastError)
	}
	if _, stderr, exit := binary.Run(t, d.Env, "credential-process", "--state-dir", d.StateDir); exit != 0 {
		t.Errorf("credential-process after a refused renewal: exit %d: %s", exit, stderr)
	}
}
