package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxConns bounds the endpoint's open connections. A container runs
// a few dozen AWS clients at most, each keeping one or two connections
// alive; 512 leaves room for bursts and keeps file descriptors, goroutines
// and buffers bounded whatever a local process does.
const DefaultMaxConns = 512

// LimitConns bounds the connections srv serves from l to max (0 means
// DefaultMaxConns) and returns the listener to serve. It sets srv.ConnState,
// chaining any hook already set.
//
// A plain limit (golang.org/x/net/netutil.LimitListener) stops accepting at
// the limit, so a process holding max idle keep-alive connections would
// lock every other client out until IdleTimeout. Here, when the limit is
// reached, the connection that has waited the longest for a request is
// closed to make room: an idle keep-alive connection, or one still sending
// its request headers (net/http calls both "new" or "idle" until the headers
// are read, so a slowloris client is shed first). Only when every
// connection has a request in a handler does Accept wait, and the handler
// answers within the cold-start window. Closing an idle keep-alive
// connection is harmless: HTTP clients open a new one and resend an
// idempotent GET.
func LimitConns(srv *http.Server, l net.Listener, max int) net.Listener {
	if max <= 0 {
		max = DefaultMaxConns
	}
	cl := &connLimit{
		Listener: l,
		max:      max,
		conns:    make(map[*limitedConn]struct{}),
		changed:  make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if lc, ok := c.(*limitedConn); ok {
			cl.setState(lc, s)
		}
		if prev != nil {
			prev(c, s)
		}
	}
	return cl
}

type connLimit struct {
	net.Listener
	max       int
	changed   chan struct{} // a slot freed or a connection went idle; buffered 1
	closed    chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*limitedConn]struct{}
}

type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once
	// Guarded by l.mu.
	evictable bool      // waiting for a request (StateNew or StateIdle)
	since     time.Time // when it became evictable
}

// Accept accepts a connection, then makes room for it: it closes the
// connection that has waited longest for a request, or, when every one has
// a request in a handler, waits for one to finish. (Making room before
// accepting would shed a connection for a client that may never come.)
func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		victim, full := l.room()
		if victim != nil {
			victim.Close()
			continue
		}
		if !full {
			break
		}
		select {
		case <-l.changed:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	lc := &limitedConn{Conn: c, l: l, evictable: true, since: time.Now()}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// room reports whether the limit is reached and, if so, the connection to
// close to make room (nil if every connection is busy).
func (l *connLimit) room() (victim *limitedConn, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) < l.max {
		return nil, false
	}
	for c := range l.conns {
		if c.evictable && (victim == nil || c.since.Before(victim.since)) {
			victim = c
		}
	}
	return victim, true
}

func (l *connLimit) setState(c *limitedConn, s http.ConnState) {
	evictable := s == http.StateNew || s == http.StateIdle
	l.mu.Lock()
	if _, ok := l.conns[c]; ok && evictable != c.evictable {
		c.evictable, c.since = evictable, time.Now()
	}
	l.mu.Unlock()
	if evictable {
		l.signal()
	}
}

func (l *connLimit) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

func (l *connLimit) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Open is the number of connections open now.
func (l *connLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.l.signal()
	})
	return err
}
