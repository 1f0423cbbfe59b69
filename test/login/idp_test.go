package login

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/credd-dev/credd/test/internal/harness"
)

// clientID is the public client server.js registers.
const clientID = "credd-test"

// idp is a running test/login/idp/server.js.
type idp struct {
	URL string
	mu  sync.Mutex
	out strings.Builder
}

// startIdP runs the real OpenID Provider on a free loopback port; args are
// server.js flags such as --id-token-ttl 50. It stops when the test ends.
func startIdP(t *testing.T, args ...string) *idp {
	t.Helper()
	needIdP(t)
	ctx, cancel := context.WithCancel(context.Background())
	args = append([]string{"server.js", "--jwk", signingKeyFile(t)}, args...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = idpDir
	stdin, _ := cmd.StdinPipe() // server.js exits when its stdin closes
	stdout, _ := cmd.StdoutPipe()
	p := &idp{}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.out.Write(b)
	})
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start the IdP: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("IdP output:\n%s", p.output())
		}
	})
	ready, gone := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(gone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "issuer "); ok {
				ready <- u
			}
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
		}
	}()
	select {
	case p.URL = <-ready:
	case <-gone:
		t.Fatalf("the IdP exited at start:\n%s", p.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("the IdP did not start:\n%s", p.output())
	}
	return p
}

// signingKeyFile writes a fresh RS256 private key as a JWK for server.js.
func signingKeyFile(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "idp-" + rand.Text()[:8], Algorithm: "RS256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwk.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *idp) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// admin calls one of server.js's /test/ endpoints.
func (p *idp) admin(t *testing.T, method, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
}

// polls returns the times of the token requests the IdP has seen.
func (p *idp) polls(t *testing.T) []time.Time {
	t.Helper()
	var body struct{ Polls []int64 }
	p.admin(t, http.MethodGet, "/test/polls", &body)
	var ts []time.Time
	for _, ms := range body.Polls {
		ts = append(ts, time.UnixMilli(ms))
	}
	return ts
}

var (
	formRe  = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input\b[^>]*>`)
	attrRe  = regexp.MustCompile(`([a-zA-Z_-]+)="([^"]*)"`)
)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(tag, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// approve plays the user at the verification page with a cookie jar, as a
// browser would: it opens the URL, submits the user code, confirms the
// device (or aborts, when deny is set), signs in as user and consents.
func approve(t *testing.T, verificationURI, userCode, user string, deny bool) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := client.Get(verificationURI)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 10; step++ {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if strings.Contains(page, "Sign-in Success") {
			if deny {
				t.Fatalf("login succeeded though it was denied")
			}
			return
		}
		if deny && strings.Contains(page, "interrupted") {
			return
		}
		m := formRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("step %d: no form in the page (%s):\n%s", step, resp.Status, page)
		}
		action := attrs(m[1])["action"]
		form := url.Values{}
		for _, in := range inputRe.FindAllString(m[2], -1) {
			a := attrs(in)
			if a["name"] != "" {
				form.Set(a["name"], a["value"])
			}
		}
		switch {
		case form.Has("user_code") && form.Has("confirm"):
			if deny {
				form.Del("confirm")
				form.Set("abort", "yes")
			}
		case form.Has("xsrf"):
			form.Set("user_code", userCode)
		case form.Get("prompt") == "login":
			form.Set("login", user)
			form.Set("password", "secret")
		case form.Get("prompt") == "consent":
		default:
			t.Fatalf("step %d: unexpected form %v:\n%s", step, form, page)
		}
		target, err := resp.Request.URL.Parse(action)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err = client.PostForm(target.String(), form); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("the approval did not finish in 10 steps")
}

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
