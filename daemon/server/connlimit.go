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
// reached, a connection that is not doing anything is closed to make room:
// the one idle the longest after a response (keep-alive), or one that has
// been open for newGrace without completing its request headers (a silent
// or slowloris client). A connection just accepted is never shed, so a
// burst of clients all connecting at once waits in the kernel's accept
// queue and is served, rather than being cut. When no connection qualifies,
// Accept waits for one to finish or go idle, or for a silent one to age.
// Closing an idle keep-alive connection is harmless: HTTP clients open a
// new one and resend an idempotent GET.
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

// newGrace is how long a new connection may stay silent before it may be
// shed: ample for a client that connected to send its request.
const newGrace = time.Second

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
	idle  bool      // between requests (StateIdle), as opposed to new
	ready bool      // idle, or new: not in a handler
	since time.Time // when it entered that state
}

// Accept accepts a connection, then makes room for it (see LimitConns),
// waiting if nothing can be shed yet. (Making room before accepting would
// shed a connection for a client that may never come.)
func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		victim, full, wake := l.room(time.Now())
		if victim != nil {
			victim.Close()
			continue
		}
		if !full {
			break
		}
		var timer *time.Timer
		var aged <-chan time.Time
		if wake > 0 {
			timer = time.NewTimer(wake)
			aged = timer.C
		}
		select {
		case <-l.changed:
		case <-aged:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
		if timer != nil {
			timer.Stop()
		}
	}
	lc := &limitedConn{Conn: c, l: l, ready: true, since: time.Now()}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// room reports whether the limit is reached and, if so, the connection to
// close to make room: the longest-idle keep-alive connection, else the
// longest-silent new one past newGrace. With none, wake is when a new one
// will pass newGrace (0: no new connection to wait for).
func (l *connLimit) room(now time.Time) (victim *limitedConn, full bool, wake time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) < l.max {
		return nil, false, 0
	}
	var oldestNew *limitedConn
	for c := range l.conns {
		switch {
		case !c.ready:
		case c.idle:
			if victim == nil || c.since.Before(victim.since) {
				victim = c
			}
		case oldestNew == nil || c.since.Before(oldestNew.since):
			oldestNew = c
		}
	}
	if victim != nil || oldestNew == nil {
		return victim, true, 0
	}
	if age := now.Sub(oldestNew.since); age < newGrace {
		return nil, true, newGrace - age
	}
	return oldestNew, true, 0
}

func (l *connLimit) setState(c *limitedConn, s http.ConnState) {
	idle := s == http.StateIdle
	ready := idle || s == http.StateNew
	l.mu.Lock()
	if _, ok := l.conns[c]; ok && (ready != c.ready || idle != c.idle) {
		c.ready, c.idle, c.since = ready, idle, time.Now()
	}
	l.mu.Unlock()
	if idle {
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
