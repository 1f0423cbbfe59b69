package login

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/test/internal/harness"
	testidp "github.com/credd-dev/credd/test/internal/idp"
)

// clientID is the public client server.js registers.
const clientID = testidp.ClientID

// idp is a running test IdP (test/internal/idp).
type idp struct{ *testidp.IdP }

// startIdP runs the test IdP; args are server.js flags such as
// --id-token-ttl 50. It stops when the test ends.
func startIdP(t *testing.T, args ...string) *idp { return &idp{testidp.Start(t, args...)} }

func (p *idp) admin(t *testing.T, method, path string, out any) { p.Admin(t, method, path, out) }
func (p *idp) polls(t *testing.T) []time.Time                   { return p.Polls(t) }

// approve plays the user at the verification page (testidp.Approve).
func approve(t *testing.T, verificationURI, userCode, user string, deny bool) {
	t.Helper()
	testidp.Approve(t, verificationURI, userCode, user, deny)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// loginProc is a running `credd login`.
type loginProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	stderr strings.Builder
	done   chan struct{}
}

var (
	codeRe = regexp.MustCompile(`and enter the code\s+(\S+)`)
	uriRe  = regexp.MustCompile(`open\s+(http\S+)\s+and enter`)
)

// startLogin runs `credd login` and returns once it has printed the code.
func startLogin(t *testing.T, d *harness.Daemon, args ...string) (*loginProc, string, string) {
	t.Helper()
	l := &loginProc{done: make(chan struct{})}
	l.cmd = exec.Command(string(binary), append([]string{"login", "--state-dir", d.StateDir}, args...)...)
	l.cmd.Env = d.Env
	l.cmd.Stdout = writerFunc(func(b []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.out.Write(b) })
	l.cmd.Stderr = writerFunc(func(b []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.stderr.Write(b) })
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { l.cmd.Wait(); close(l.done) }()
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			l.cmd.Process.Kill()
			<-l.done
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out := l.stdout()
		if c, u := codeRe.FindStringSubmatch(out), uriRe.FindStringSubmatch(out); c != nil && u != nil {
			return l, u[1], c[1]
		}
		select {
		case <-l.done:
			t.Fatalf("credd login exited early (%d):\n%s\n%s", l.cmd.ProcessState.ExitCode(), out, l.errout())
		default:
		}
	}
	t.Fatalf("credd login printed no code:\n%s", l.stdout())
	return nil, "", ""
}

func (l *loginProc) stdout() string { l.mu.Lock(); defer l.mu.Unlock(); return l.out.String() }
func (l *loginProc) errout() string { l.mu.Lock(); defer l.mu.Unlock(); return l.stderr.String() }

// wait waits for `credd login` to exit and returns its exit code and output.
func (l *loginProc) wait(t *testing.T, timeout time.Duration) (int, string) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(timeout):
		t.Fatalf("credd login still running after %s:\n%s", timeout, l.stdout())
	}
	return l.cmd.ProcessState.ExitCode(), l.stdout() + l.errout()
}

func TestTheHeadlessBrowserTalksToTheIdP(t *testing.T) {
	t.Parallel()
	p := startIdP(t)
	resp, err := http.PostForm(p.URL+"/device/auth", url.Values{"client_id": {clientID}, "scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	var da struct {
		UserCode        string `json:"user_code"`
		VerificationURI string `json:"verification_uri"`
		Interval        int
	}
	json.NewDecoder(resp.Body).Decode(&da)
	resp.Body.Close()
	if da.UserCode == "" || da.Interval != 1 {
		t.Fatalf("device authorization answer: %+v", da)
	}
	approve(t, da.VerificationURI, da.UserCode, "alice", false)
}
