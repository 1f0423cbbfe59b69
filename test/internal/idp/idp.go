// Package idp runs the test OpenID Provider (node-oidc-provider, from
// test/login/idp) for the suites under test/, and plays the user at its
// device-code verification page with a cookie-jar browser.
package idp

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
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Dir holds server.js and its node_modules (npm ci --prefix test/login/idp).
var Dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "login", "idp")
}()

// Need skips (or, in CI, fails) when node or the IdP's packages are missing.
func Need(t testing.TB) {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errMods := os.Stat(filepath.Join(Dir, "node_modules", "oidc-provider"))
	if errNode == nil && errMods == nil {
		return
	}
	msg := "the test IdP needs node and its packages: run `npm ci --prefix test/login/idp`"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ClientID is the public client server.js registers.
const ClientID = "credd-test"

// IdP is a running test/login/idp/server.js.
type IdP struct {
	URL string
	mu  sync.Mutex
	out strings.Builder
}

// Start runs the real OpenID Provider on a free loopback port; args are
// server.js flags such as --id-token-ttl 50. It stops when the test ends.
func Start(t testing.TB, args ...string) *IdP {
	t.Helper()
	Need(t)
	ctx, cancel := context.WithCancel(context.Background())
	args = append([]string{"server.js", "--jwk", signingKeyFile(t)}, args...)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = Dir
	stdin, _ := cmd.StdinPipe() // server.js exits when its stdin closes
	stdout, _ := cmd.StdoutPipe()
	p := &IdP{}
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
			t.Logf("IdP output:\n%s", p.Output())
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
		t.Fatalf("the IdP exited at start:\n%s", p.Output())
	case <-time.After(60 * time.Second):
		t.Fatalf("the IdP did not start:\n%s", p.Output())
	}
	return p
}

// signingKeyFile writes a fresh RS256 private key as a JWK for server.js.
func signingKeyFile(t testing.TB) string {
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

// Output is what the IdP printed so far.
func (p *IdP) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Admin calls one of server.js's /test/ endpoints.
func (p *IdP) Admin(t testing.TB, method, path string, out any) {
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

// Polls returns the times of the token requests the IdP has seen.
func (p *IdP) Polls(t testing.TB) []time.Time {
	t.Helper()
	var body struct{ Polls []int64 }
	p.Admin(t, http.MethodGet, "/test/polls", &body)
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

// Approve plays the user at the verification page with a cookie jar, as a
// browser would: it opens the URL, submits the user code, confirms the
// device (or aborts, when deny is set), signs in as user and consents.
func Approve(t testing.TB, verificationURI, userCode, user string, deny bool) {
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
