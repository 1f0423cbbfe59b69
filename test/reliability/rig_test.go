package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/agent"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/refresh"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// Compressed time: credentials live a few seconds, backoff is in
// milliseconds. Production defaults are 1h, 1s..1m and 5m.
const (
	testLifetime   = 3 * time.Second
	backoffBase    = 100 * time.Millisecond
	backoffMax     = 400 * time.Millisecond
	permanentPause = 2 * time.Second
	stsTimeout     = 500 * time.Millisecond
)

type rigOptions struct {
	// lifetime caps the sandbox's credentials; 0 = testLifetime.
	lifetime time.Duration
	// tokenFile: the role reads its token from a file (the rig's
	// TokenFile) instead of minting from the sandbox issuer.
	tokenFile bool
	// noToken: with tokenFile, the file is not written at start.
	noToken bool
	// refresh overrides the compressed defaults above.
	refresh refresh.Config
	// keepAlive is the number of idle connections the rig's client keeps.
	keepAlive int
	// before runs once the sandbox is up, before the daemon starts.
	before func(*rig)
	// quiet captures logs at info level instead of debug (no line per
	// request), so a long run does not grow the heap.
	quiet bool
}

// rig is an in-process credd daemon (daemon/agent, the real wiring) against
// a sandbox STS reached through a front door the test can shut.
type rig struct {
	t         testing.TB
	sb        *sandbox.Sandbox
	front     *frontDoor
	agent     *agent.Agent
	logs      *harness.LockedBuffer
	client    *http.Client
	tokenFile string
	stateDir  string

	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	secrets map[string]string // value → what it is
	polls   []poll
}

// poll is one look at the refresher's status.
type poll struct {
	at          time.Time
	lastAttempt time.Time
	calls       int64
	serving     bool
	lastCode    daemon.Code
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	if o.lifetime == 0 {
		o.lifetime = testLifetime
	}
	rc := o.refresh
	if rc.BackoffBase == 0 {
		rc.BackoffBase = backoffBase
	}
	if rc.BackoffMax == 0 {
		rc.BackoffMax = backoffMax
	}
	if rc.PermanentPause == 0 {
		rc.PermanentPause = permanentPause
	}
	if rc.AttemptTimeout == 0 {
		rc.AttemptTimeout = 2 * time.Second
	}
	logs := &harness.LockedBuffer{}
	level := slog.LevelDebug
	if o.quiet {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.Start(ctx, sandbox.Options{
		Issuer: sandbox.IssuerOptions{Logger: logger},
		STS:    sandbox.STSOptions{Logger: logger, MaxLifetime: o.lifetime},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// Registered first, so they run last, after the daemon has stopped,
	// and also when the rig fails half-built.
	t.Cleanup(func() { cancel(); sb.Close() })
	r := &rig{t: t, sb: sb, logs: logs, cancel: cancel, done: make(chan error, 1), secrets: map[string]string{}}
	r.front = newFrontDoor(t, sb.STS.Handler())
	t.Cleanup(r.front.Close)

	dir, err := os.MkdirTemp("", "credd-rel-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r.stateDir = filepath.Join(dir, "s")
	role := config.Role{Name: "default", TokenSource: config.SourceSandbox, Audience: config.DefaultAudience,
		Region: "us-east-1", SessionName: "tester", Duration: time.Hour, STSEndpoint: r.front.URL()}
	if o.tokenFile {
		r.tokenFile = filepath.Join(dir, "token")
		role.TokenSource, role.TokenFile = config.SourceFile, r.tokenFile
		role.Issuer, role.RoleARN = sb.IssuerURL, sandbox.DefaultRoleARN
		if !o.noToken {
			r.writeToken(r.mint(nil))
		}
	}
	if o.before != nil {
		o.before(r)
	}
	a, err := agent.Start(ctx, agent.Options{
		Config:            config.Config{Listen: "127.0.0.1:0", StateDir: r.stateDir, Roles: []config.Role{role}},
		Version:           "reliability",
		Logger:            logger,
		Sandbox:           sb,
		Refresh:           rc,
		STSAttemptTimeout: stsTimeout,
	})
	if err != nil {
		r.cancel = nil
		t.Fatal(err)
	}
	r.agent = a
	r.addSecret(a.AuthToken(), "authorization token")
	go func() { r.done <- a.Run(ctx) }()
	go r.pollStatus(ctx)
	r.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: max(o.keepAlive, 2), Proxy: nil,
	}}
	t.Cleanup(func() {
		r.stop()
		r.client.CloseIdleConnections()
		r.checkNoSecrets()
		if t.Failed() {
			t.Logf("daemon logs:\n%s", r.logs.String())
		}
	})
	return r
}

// stop ends the agent (as SIGTERM would) and waits for Run to return.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("agent Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Errorf("agent did not stop within 10s")
	}
}

func (r *rig) pollStatus(ctx context.Context) {
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rs := r.agent.Status().Roles[0]
		p := poll{at: time.Now(), lastAttempt: rs.LastAttempt, calls: rs.STSCalls, serving: rs.Serving}
		if rs.LastError != nil {
			p.lastCode = rs.LastError.Code
		}
		r.mu.Lock()
		if n := len(r.polls); n == 0 || r.polls[n-1].calls != p.calls || !r.polls[n-1].lastAttempt.Equal(p.lastAttempt) || r.polls[n-1].serving != p.serving || r.polls[n-1].lastCode != p.lastCode {
			r.polls = append(r.polls, p)
		}
		r.mu.Unlock()
	}
}

// attemptTimes returns when STS attempts started, from `since` on: the
// arrival times the front door saw or, when none reached it (the port was
// shut), the distinct LastAttempt times the status poller saw (which may
// miss one under load, merging two gaps).
func (r *rig) attemptTimes(since time.Time) []time.Time {
	var out []time.Time
	for _, at := range r.front.Arrivals() {
		if !at.Before(since) {
			out = append(out, at)
		}
	}
	if len(out) > 0 {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var prev time.Time
	for _, p := range r.polls {
		if !p.lastAttempt.Equal(prev) && !p.lastAttempt.Before(since) {
			out = append(out, p.lastAttempt)
		}
		prev = p.lastAttempt
	}
	return out
}

func (r *rig) status() daemon.RoleStatus { return r.agent.Status().Roles[0] }

func (r *rig) calls() int64 { return r.status().STSCalls }

// mint returns a token from the sandbox issuer with claim overrides.
func (r *rig) mint(overrides map[string]any) string {
	tok, err := r.sb.Issuer.Mint(config.DefaultAudience, overrides)
	if err != nil {
		r.t.Fatal(err)
	}
	r.addSecret(tok, "identity token")
	return tok
}

// writeToken replaces the token file atomically, as projected volumes do.
func (r *rig) writeToken(content string) {
	tmp := r.tokenFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, r.tokenFile); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) addSecret(v, what string) {
	if v == "" {
		return
	}
	r.mu.Lock()
	r.secrets[v] = what
	r.mu.Unlock()
}

// response is one GET of the endpoint.
type response struct {
	sent, recv time.Time
	status     int
	code       string // error code, for non-200
	message    string
	expiration time.Time // for 200
	accessKey  string
	err        error
}

// get fetches the default role's credentials with the right token.
func (r *rig) get() response {
	return r.getWith(r.client, r.agent.URL(), r.agent.AuthToken())
}

func (r *rig) getWith(c *http.Client, url, auth string) response {
	res := response{sent: time.Now()}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	res.recv = time.Now()
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		res.err = err
		return res
	}
	res.status = resp.StatusCode
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		res.err = errors.New("Content-Type " + ct)
		return res
	}
	r.checkBody(body)
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil {
			res.err = err
		}
		res.code, res.message = e.Code, e.Message
		return res
	}
	var creds struct{ AccessKeyId, SecretAccessKey, Token, Expiration string }
	if err := json.Unmarshal(body, &creds); err != nil {
		res.err = err
		return res
	}
	res.accessKey = creds.AccessKeyId
	res.expiration, res.err = time.Parse(daemon.ExpirationLayout, creds.Expiration)
	r.addSecret(creds.SecretAccessKey, "secret access key")
	r.addSecret(creds.Token, "session token")
	if creds.AccessKeyId == "" || creds.SecretAccessKey == "" || creds.Token == "" {
		res.err = errors.New("200 with an empty field")
	}
	return res
}

// checkBody fails the test if an error body carries a secret.
func (r *rig) checkBody(body []byte) {
	if !bytes.HasPrefix(body, []byte(`{"code"`)) {
		return // a credentials body holds secrets by design
	}
	if what := r.leak(string(body)); what != "" {
		r.t.Errorf("an error body holds the %s: %s", what, body)
	}
}

// waitServing polls until the endpoint answers 200, or fails after limit.
func (r *rig) waitServing(limit time.Duration) response {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		res := r.get()
		if res.status == http.StatusOK && res.err == nil {
			return res
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("not serving after %v: last answer %d %s %v; status %+v", limit, res.status, res.code, res.err, r.status().LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sampler fetches credentials every interval until stopped.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	got  []response
}

func (r *rig) sample(interval time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			res := r.get()
			s.mu.Lock()
			s.got = append(s.got, res)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(interval):
			}
		}
	}()
	return s
}

func (s *sampler) end() []response {
	close(s.stop)
	<-s.done
	return s.got
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ`)

// leak names the secret s holds, or "".
func (r *rig) leak(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for v, what := range r.secrets {
		if strings.Contains(s, v) {
			return what
		}
	}
	if jwtRE.MatchString(s) {
		return "JWT"
	}
	return ""
}

// checkNoSecrets scans the rig's logs and status for every secret it saw.
func (r *rig) checkNoSecrets() {
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if what := r.leak(line); what != "" {
			r.t.Errorf("a log line holds the %s: %.200s", what, line)
		}
	}
	doc, _ := json.Marshal(r.agent.Status())
	if what := r.leak(string(doc)); what != "" {
		r.t.Errorf("the status holds the %s", what)
	}
}

// frontDoor serves the sandbox STS on its own port so a test can shut it
// (connection refused) and open it again on the same port.
type frontDoor struct {
	t        testing.TB
	h        http.Handler
	addr     string
	mu       sync.Mutex
	srv      *http.Server
	arrivals []time.Time
	reserved int // the port's socket while shut, else -1
	wg       sync.WaitGroup
}

func newFrontDoor(t testing.TB, sts http.Handler) *frontDoor {
	f := &frontDoor{t: t, reserved: -1}
	f.h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		f.mu.Lock()
		f.arrivals = append(f.arrivals, time.Now())
		f.mu.Unlock()
		sts.ServeHTTP(w, req)
	})
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	f.serve(l)
	return f
}

func (f *frontDoor) URL() string { return "http://" + f.addr }

// Arrivals are the times STS requests arrived.
func (f *frontDoor) Arrivals() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.arrivals...)
}

func (f *frontDoor) serve(l net.Listener) {
	srv := &http.Server{Handler: f.h, ReadHeaderTimeout: 5 * time.Second}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	f.wg.Go(func() { srv.Serve(l) })
}

// Shut stops listening: connections are refused until Open. The port
// stays bound (a socket bound but not listening), so no other test's
// listener can take it meanwhile and answer in its place.
func (f *frontDoor) Shut() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	// The listening socket is released once its Accept returns: retry.
	fd, err := reservePort(f.addr)
	for deadline := time.Now().Add(2 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		fd, err = reservePort(f.addr)
	}
	if err != nil {
		f.t.Fatalf("keep %s bound: %v", f.addr, err)
	}
	f.mu.Lock()
	f.reserved = fd
	f.mu.Unlock()
}

// Open listens on the same port again.
func (f *frontDoor) Open() {
	f.mu.Lock()
	fd := f.reserved
	f.reserved = -1
	f.mu.Unlock()
	if fd < 0 {
		return
	}
	if err := syscall.Listen(fd, 128); err != nil {
		f.t.Fatalf("listen on %s again: %v", f.addr, err)
	}
	file := os.NewFile(uintptr(fd), "sts-front-door")
	l, err := net.FileListener(file)
	file.Close()
	if err != nil {
		f.t.Fatalf("listen on %s again: %v", f.addr, err)
	}
	f.serve(l)
}

// reservePort binds a TCP socket to addr without listening on it, so that
// connections to addr are refused.
func reservePort(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return -1, err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (f *frontDoor) Close() {
	f.mu.Lock()
	srv, fd := f.srv, f.reserved
	f.srv, f.reserved = nil, -1
	f.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	if fd >= 0 {
		syscall.Close(fd)
	}
	f.wg.Wait()
}
