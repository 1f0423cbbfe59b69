// Package control is the daemon's control API over a unix socket in the
// state dir: its routes (status, reload, login, logout), their wire types,
// the server's JSON replies and the client the CLI uses.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/redact"
	"github.com/credd-dev/credd/daemon/regularfile"
)

// SocketName is the control socket's name inside the state dir.
const SocketName = "control.sock"

// maxSocketPath is the longest socket path every unix accepts: sun_path
// holds 108 bytes on Linux but 104 on macOS and the BSDs, NUL included.
const maxSocketPath = 103

// StatusPath is where the daemon's status is served.
const StatusPath = "/v1/status"

// ErrNotRunning means no daemon answers on the control socket.
var ErrNotRunning = errors.New("the credd daemon is not running")

// SocketPath returns the control socket's path in stateDir.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketName) }

// SocketPathFits reports whether stateDir's control socket path is short
// enough for every unix (see maxSocketPath).
func SocketPathFits(stateDir string) bool { return len(SocketPath(stateDir)) <= maxSocketPath }

// StatusProvider is what the control socket needs from the daemon.
type StatusProvider interface {
	Status() daemon.Status
}

// Server serves HTTP on the control socket.
type Server struct {
	mux    *http.ServeMux
	logger *slog.Logger
}

// NewServer returns a Server with GET /v1/status. A nil logger discards.
func NewServer(p StatusProvider, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{mux: http.NewServeMux(), logger: logger.With("component", "control")}
	s.mux.HandleFunc("GET "+StatusPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Status(), "  ")
	})
	return s
}

// Handle adds a route, such as "POST /v1/login", in http.ServeMux pattern
// syntax. Call it before Serve. The handler answers with WriteJSON, or
// WriteError for what Client.Call returns as a *CallError.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve serves on l until ctx is done, then shuts down, closing l (which
// removes the socket file) and returns nil. It returns an error if l fails
// before that. Request contexts end with ctx.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		l.Close()
		return fmt.Errorf("control socket: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	<-errc
	l.Close() // Shutdown closed it already unless Serve never started; closing twice is harmless
	return nil
}

// Listen binds <stateDir>/control.sock with mode 0600, creating stateDir
// (0700) if needed and refusing an unsafe one (see authtoken.PrepareDir).
// A socket left by a daemon that died is removed; one that a live daemon
// answers on is an error naming its pid. Closing the listener removes the
// socket file.
func Listen(stateDir string) (net.Listener, error) {
	if err := authtoken.PrepareDir(stateDir); err != nil {
		return nil, err
	}
	path := SocketPath(stateDir)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, more than the %d a unix socket allows: pass a shorter --state-dir", path, len(path), maxSocketPath)
	}
	if err := clearStale(stateDir, path); err != nil {
		return nil, err
	}

	// Bind in a fresh 0700 dir, make the socket 0600, then move it into
	// place: whatever the umask, nobody else can connect in between.
	tmp, err := os.MkdirTemp(stateDir, ".c")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	tmpPath := filepath.Join(tmp, "s")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ul.SetUnlinkOnClose(false) // the listener below removes the final path
	if err := os.Chmod(tmpPath, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := place(tmpPath, path); err != nil {
		ul.Close()
		if errors.Is(err, fs.ErrExist) {
			// Another daemon bound it since clearStale.
			return nil, fmt.Errorf("another credd daemon started with state dir %s at the same moment: stop it, or pass another --state-dir", stateDir)
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ul.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &listener{UnixListener: ul, path: path, fi: fi, uid: os.Geteuid()}, nil
}

// place moves the bound socket to path without replacing one that a
// concurrent daemon created: link fails if path exists. Filesystems without
// hard links fall back to rename.
func place(from, to string) error {
	err := os.Link(from, to)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Rename(from, to)
}

// clearStale removes a socket nobody answers on, and reports a live daemon.
func clearStale(stateDir, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket: remove it, or pass another --state-dir", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := Client{StateDir: stateDir}.Status(ctx)
	switch {
	case err == nil:
		return fmt.Errorf("another credd daemon is already running (pid %d) with state dir %s: stop it first, or pass another --state-dir", st.PID, stateDir)
	case errors.Is(err, ErrNotRunning):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale control socket: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("something answers on %s, but not as a credd daemon (%v): stop it, or remove the socket", path, err)
	}
}

// listener reports the socket's final path and removes it on Close, unless
// another daemon has put its own socket there since. It drops connections
// from other users but root.
type listener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo
	uid  int // the daemon's
	once sync.Once
}

// Accept returns the next connection from the daemon's own user or root.
// The socket's mode 0600 already keeps others out; this holds should the
// mode or the dir's be loosened.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if uid, ok, err := peerUID(c); err != nil || (ok && uid != l.uid && uid != 0) {
			c.Close()
			continue
		}
		return c, nil
	}
}

func (l *listener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

// Client talks to a running daemon over its control socket. Each call opens
// a new connection, after checking that the state dir, the socket and the
// process answering on it belong to the caller (or, see authtoken.Trust,
// to the owner of a state dir root was pointed at), or to root. Those
// refusals are *authtoken.TrustError, returned as they are.
type Client struct {
	StateDir string
	// Trust is whose state dir to accept; the zero value: only the
	// caller's own.
	Trust authtoken.Trust
	// Timeout bounds each call, the response body included. 0 = 5s.
	Timeout time.Duration
}

// Status returns the daemon's status. The error wraps ErrNotRunning when no
// daemon answers.
func (c Client) Status(ctx context.Context) (daemon.Status, error) {
	resp, err := c.Do(ctx, http.MethodGet, StatusPath, nil)
	if err != nil {
		return daemon.Status{}, err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 4<<20)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(body, 512))
		return daemon.Status{}, fmt.Errorf("credd daemon answered %s on %s: %s", resp.Status, StatusPath, strings.TrimSpace(string(b)))
	}
	var st daemon.Status
	if err := json.NewDecoder(body).Decode(&st); err != nil {
		return daemon.Status{}, fmt.Errorf("read daemon status: %w", err)
	}
	return st, nil
}

// Codes of the control API's own refusals (the daemon's failures carry
// the codes of the package that found them).
const (
	CodeBadRequest      daemon.Code = "BadRequest"      // a body or query the route cannot read
	CodeCannotReload    daemon.Code = "CannotReload"    // the daemon was started without a way to reload
	CodeInvalidSettings daemon.Code = "InvalidSettings" // a reload's settings do not resolve
	CodeNoLogin         daemon.Code = "NoLogin"         // no role uses a device login
	CodeUnknownLogin    daemon.Code = "UnknownLogin"    // the named role does not exist or does not use a device login
)

// CallError is the daemon's refusal of a call: its {"code","message"}
// answer (see WriteError), whose message says what to do.
type CallError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *CallError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// Call sends req (nil for no body) as JSON and decodes a 200 answer into
// out. Any other answer is a *CallError. The error wraps ErrNotRunning
// when no daemon answers.
func (c Client) Call(ctx context.Context, method, path string, req, out any) error {
	var body io.Reader
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("control request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.Do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the daemon's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &CallError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Code, e.Message = "", fmt.Sprintf("the daemon answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("read the daemon's answer: %w", err)
	}
	return nil
}

// Do sends a request to the daemon, for commands beyond status. The caller
// closes the response body. The error wraps ErrNotRunning when no daemon
// answers.
func (c Client) Do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	if c.StateDir == "" {
		return nil, errors.New("no state dir given: pass --state-dir")
	}
	sock := SocketPath(c.StateDir)
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	hc := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return c.dial(ctx, sock)
			},
			DisableKeepAlives: true,
			Proxy:             nil, // never send the control request to an HTTP proxy
		},
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://credd"+path, body)
	if err != nil {
		return nil, fmt.Errorf("control request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	var te *authtoken.TrustError
	switch {
	case err == nil:
		return resp, nil
	case errors.As(err, &te):
		return nil, te
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
		return nil, fmt.Errorf("%w (no socket at %s): start it with `credd daemon`", ErrNotRunning, sock)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("%w (nothing answers on %s): start it with `credd daemon`", ErrNotRunning, sock)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the request's method and URL say nothing here
	}
	return nil, fmt.Errorf("talk to the credd daemon on %s: %w", sock, err)
}

// dial connects to the control socket sock once the state dir, the socket
// file and then the process answering on it have passed the checks that
// Client's comment describes. The peer's uid, read from the connection
// itself, is what counts: the file checks give the clearer messages, but
// the dir could change between them and the connect.
func (c Client) dial(ctx context.Context, sock string) (net.Conn, error) {
	owner, err := authtoken.CheckDir(c.StateDir, c.Trust)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return nil, &authtoken.TrustError{Msg: fmt.Sprintf("control socket %s is %s, not a socket: remove it, then start the daemon with `credd daemon`", sock, regularfile.Kind(fi.Mode()))}
	}
	if err := authtoken.CheckOwner("control socket", sock, fi, owner); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	if err := checkPeer(conn.(*net.UnixConn), sock, owner); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// checkPeer refuses a peer that runs neither as owner nor as root.
func checkPeer(c *net.UnixConn, sock string, owner int) error {
	uid, ok, err := peerUID(c)
	if err != nil {
		return fmt.Errorf("tell who answers on %s: %w", sock, err)
	}
	if !ok || uid == owner || uid == 0 {
		return nil
	}
	whom := "you"
	if owner != os.Geteuid() {
		whom = authtoken.UserName(owner) + ", who owns the state dir"
	}
	return &authtoken.TrustError{Msg: fmt.Sprintf("the process answering on %s runs as %s, not as %s: refusing to trust it, as another user may be posing as your daemon to hand you false credentials. Stop that process and remove the socket (as root if need be), then start your daemon with `credd daemon`, or pass a --state-dir of your own", sock, authtoken.UserName(uid), whom)}
}

// WriteJSON answers a control request with v as JSON, on one line.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v, "") }

// WriteError answers a control request with the daemon's refusal, e's
// message followed by its hint; Client.Call returns it as a *CallError.
// Like status (daemon.Error.Status), the body is redacted: it is an error
// body, and an IdP's words may have reached e unredacted.
func WriteError(w http.ResponseWriter, status int, e *daemon.Error) {
	msg := e.Message
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	WriteJSON(w, status, CallError{Code: string(e.Code), Message: redact.String(msg)})
}

func writeJSON(w http.ResponseWriter, status int, v any, indent string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	_ = enc.Encode(v) // the client may have gone: nothing to do
}
