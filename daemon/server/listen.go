package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
)

// CheckListenAddr is the rule for a listen address, and the one place it
// is kept: config checks --listen with it, Listen binds what it returns.
// It returns the port to bind on 127.0.0.1.
//
// Only 127.0.0.1 is accepted: it is the one host every SDK version accepts
// over http (SDK-COMPAT.md rule 1), and the advertised URL must name the
// address actually bound. "localhost" is mapped to 127.0.0.1 rather than
// resolved, because name resolution may yield ::1 (which old clients refuse)
// or, with a tampered hosts file, a non-loopback address. Other loopback
// addresses (127.0.0.2, ::1) are refused with the reason.
func CheckListenAddr(addr string) (port string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w: use 127.0.0.1:PORT", addr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return "", fmt.Errorf("listen address %q: the port must be a number from 0 to 65535: use 127.0.0.1:PORT", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "" || (err == nil && ip.IsUnspecified()):
		return "", fmt.Errorf("listen address %q would listen on every interface: credd listens on loopback only, because the endpoint serves credentials to anyone who can reach it; use 127.0.0.1:PORT", addr)
	case err != nil || !ip.Unmap().IsLoopback():
		return "", fmt.Errorf("listen address %q is not a loopback address: credd listens on loopback only, because the endpoint serves credentials to anyone who can reach it; use 127.0.0.1:PORT", addr)
	case ip.Unmap() != netip.AddrFrom4([4]byte{127, 0, 0, 1}):
		return "", fmt.Errorf("listen address %q is loopback, but not every AWS SDK accepts that host over http (old botocore, the AWS CLI 2.9 and JS v2 accept only 127.0.0.1 and localhost): use 127.0.0.1:PORT", addr)
	}
	return port, nil
}

// Listen binds the endpoint's TCP listener on the address CheckListenAddr
// allows, before anything is served, so that a port in use is reported at
// once.
func Listen(addr string) (net.Listener, error) {
	port, err := CheckListenAddr(addr)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", port))
	if errors.Is(err, syscall.EADDRINUSE) {
		e := &PortInUseError{Port: port, Err: err}
		if n, perr := strconv.ParseUint(port, 10, 16); perr == nil {
			e.HolderUID, e.HolderKnown = portHolderUID(uint16(n))
		}
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("listen on 127.0.0.1:%s: %w", port, err)
	}
	return l, nil
}

// PortInUseError is Listen's error when something else holds the port.
// Who holds it matters: another user listening on credd's port receives
// the authorization token of every SDK that asks it for credentials.
type PortInUseError struct {
	Port string
	// HolderUID is the listening socket's owner, when HolderKnown.
	HolderUID   int
	HolderKnown bool
	Err         error
}

func (e *PortInUseError) Unwrap() error { return e.Err }

func (e *PortInUseError) Error() string {
	addr := "127.0.0.1:" + e.Port
	if e.HolderKnown && e.HolderUID != os.Geteuid() {
		return fmt.Sprintf("listen on %s: the port is held by %s, not by you (uid %d): another user may be posing as credd to collect the authorization token that SDKs send; "+
			"credd wrote a new token, so what that process collected is useless, but SDKs cannot get credentials until the port is free: "+
			"find the process with `ss -ltnp 'sport = :%s'` as root and stop it, or move credd to another port with --listen 127.0.0.1:PORT",
			addr, authtoken.UserName(e.HolderUID), os.Geteuid(), e.Port)
	}
	return fmt.Sprintf("listen on %s: the port is in use; another credd daemon may be running (check with `credd status`), or choose another port with --listen 127.0.0.1:PORT: %v", addr, e.Err)
}

// OtherUser reports whether the port is held by, or may be held by,
// another user: the caller then must not reuse a token that could have
// been sent there.
func (e *PortInUseError) OtherUser() bool {
	return !e.HolderKnown || e.HolderUID != os.Geteuid()
}

// URL returns the credentials URL to advertise for l, e.g.
// http://127.0.0.1:9911/v1/credentials.
func URL(l net.Listener) string {
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		return "http://" + net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port)) + CredentialsPath
	}
	return "http://" + l.Addr().String() + CredentialsPath
}

// NewHTTPServer wraps h in an http.Server with bounded header sizes and
// timeouts, so a slow or hostile local client cannot hold connections
// forever. The server's own errors go to logger at warn level.
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// Equal to ReadHeaderTimeout, which saves net/http one deadline
		// per request; credd serves GET, whose requests have no body.
		ReadTimeout:    5 * time.Second,
		WriteTimeout:   10 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(logger.With("component", "endpoint").Handler(), slog.LevelWarn),
		// Let the handler refuse "OPTIONS *" like every other non-GET,
		// instead of net/http answering 200 itself.
		DisableGeneralOptionsHandler: true,
	}
}
