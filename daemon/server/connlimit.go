package server

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Connection limits. A container runs a few dozen AWS clients at most, each
// keeping one or two connections alive, so DefaultMaxConns leaves room for
// bursts; every bound keeps descriptors, goroutines and buffers bounded
// whatever a local process does.
const (
	// DefaultMaxConns bounds the connections handed to the HTTP server
	// (about 20 KiB each: a goroutine and its read and write buffers).
	DefaultMaxConns = 512
	// DefaultMaxQueued bounds the connections accepted but not yet handed
	// over: those that have sent nothing yet, and those whose request waits
	// for a slot (about 1.5 KiB each besides the socket, measured). It
	// holds a storm of 10,000 clients connecting at once, some of which
	// send nothing for over a second while their own process is starved of
	// CPU. A low limit on open files lowers it (see withDefaults).
	DefaultMaxQueued = 16384
	// DefaultSilentGrace is how long a connection that has sent nothing
	// keeps its place while the queue is full. A client on loopback sends
	// its request as soon as it is connected; two seconds also covers a
	// client process starved of CPU by a storm of its own.
	DefaultSilentGrace = 2 * time.Second
	// DefaultStallGrace is how long a connection may go without a byte in
	// the middle of its request before it may be shed to make room: a
	// loopback client sends a request in one write.
	DefaultStallGrace = time.Second
	// DefaultTrustedIdleGrace is how long a keep-alive connection that has
	// shown the right token keeps its slot when idle: a client using its
	// connection is never made to queue up again behind a flood.
	DefaultTrustedIdleGrace = 30 * time.Second
	// SilentTimeout closes a connection that sends nothing at all, like
	// the server's ReadHeaderTimeout for one that sends part of a request.
	SilentTimeout = 5 * time.Second
)

// partialStall is how long a connection handed over with only part of its
// request head may go without a byte before it may be closed for a whole
// request waiting: the rest of a loopback client's request follows within
// microseconds, a slowloris's never.
const partialStall = 100 * time.Millisecond

// fdReserve is what the daemon keeps of its open-file limit for its own
// files; minQueued is the smallest queue, however low that limit.
const fdReserve, minQueued = 128, 64

// ConnLimits configures LimitConns. Zero values mean the defaults above.
type ConnLimits struct {
	MaxConns         int
	MaxQueued        int
	SilentGrace      time.Duration
	StallGrace       time.Duration
	TrustedIdleGrace time.Duration
}

// withDefaults fills in the defaults for a process that may have
// openFiles descriptors open (0: unknown).
func (c ConnLimits) withDefaults(openFiles uint64) ConnLimits {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultMaxQueued
		// Leave descriptors for the server's connections and the daemon's
		// own files, so that accepting never fails with EMFILE.
		if n := openFiles; n > 0 && n < uint64(c.MaxQueued+c.MaxConns+fdReserve) {
			c.MaxQueued = max(int(n)-c.MaxConns-fdReserve, minQueued)
		}
	}
	if c.SilentGrace <= 0 {
		c.SilentGrace = DefaultSilentGrace
	}
	if c.StallGrace <= 0 {
		c.StallGrace = DefaultStallGrace
	}
	if c.TrustedIdleGrace <= 0 {
		c.TrustedIdleGrace = DefaultTrustedIdleGrace
	}
	return c
}

// LimitConns bounds the connections srv serves from l and returns the
// listener to serve. It sets srv.ConnState and srv.ConnContext, chaining
// any hook already set.
//
// A plain limit (golang.org/x/net/netutil.LimitListener) stops accepting at
// the limit, so a process holding idle or silent connections would lock
// every other client out. Here the rule is that no request that was sent
// is ever lost, and that a client which has shown the token keeps its
// connection while it uses it:
//
//   - Connections are accepted as fast as they come and wait, without an
//     HTTP goroutine or buffers, until their first bytes arrive (the
//     queue). Only then are they handed to the server, in arrival order,
//     those whose whole request head has arrived before those that sent
//     only part of one (a slowloris): a flood of silent or partial
//     connections cannot hold the server's slots, and a connection is
//     decided about by what it sends, not by how long it has been open.
//   - A connection that has not sent a whole request head within
//     SilentTimeout of being accepted is closed. When the queue is full,
//     the one queued longest without a whole request head (silent ones
//     first) is closed once SilentGrace old: it sent no request, so none
//     is lost. Otherwise accepting waits, in the kernel's queue.
//   - When every server slot is taken and a request waits in the queue, a
//     slot is freed by closing, in this order: an idle keep-alive
//     connection that never sent the right token, the longest idle first;
//     a connection stalled for StallGrace in the middle of a request; an
//     idle connection that did send the token, once idle for
//     TrustedIdleGrace, the longest idle first. Connections in a handler,
//     or with bytes that the server has not read yet, are never closed:
//     the request waits for a slot.
//
// Closing an idle keep-alive connection is harmless: HTTP clients open a
// new one and resend an idempotent GET.
func LimitConns(srv *http.Server, l net.Listener, limits ConnLimits) net.Listener {
	cl := &connLimit{
		Listener: l,
		limits:   limits.withDefaults(openFileLimit()),
		epoch:    time.Now(),
		active:   make(map[*limitedConn]struct{}),
		changed:  make(chan struct{}, 1),
		roomy:    make(chan struct{}, 1),
		errs:     make(chan error),
		closed:   make(chan struct{}),
	}
	cl.room = newWaitRoom(cl)
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if lc, ok := c.(*limitedConn); ok {
			cl.setState(lc, s)
		}
		if prevState != nil {
			prevState(c, s)
		}
	}
	prevContext := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevContext != nil {
			ctx = prevContext(ctx, c)
		}
		if lc, ok := c.(*limitedConn); ok {
			ctx = context.WithValue(ctx, connKey{}, lc)
		}
		return ctx
	}
	return cl
}

// connKey is the request context key of the connection a request came on.
type connKey struct{}

// markTrusted records that the connection r came on sent the right token,
// which moves it to the back of the line for shedding. It does not
// allocate.
func markTrusted(r *http.Request) {
	if lc, ok := r.Context().Value(connKey{}).(*limitedConn); ok && !lc.trusted.Load() {
		lc.trusted.Store(true)
	}
}

type connLimit struct {
	net.Listener
	limits ConnLimits
	epoch  time.Time // times below are monotonic nanoseconds since epoch
	room   waitRoom

	changed   chan struct{} // buffered 1: wakes Accept (a request arrived, a slot may be free)
	roomy     chan struct{} // buffered 1: wakes the accept loop (the queue shrank)
	errs      chan error    // the underlying Accept's errors, for Serve
	closed    chan struct{}
	starved   atomic.Bool // Accept waits for a slot: idle transitions must wake it
	startOnce sync.Once
	closeOnce sync.Once

	mu sync.Mutex
	// queued holds the connections not handed over yet, by place (silent,
	// partial, ready), each list in the order they got there.
	queued  [placeActive]list.List
	active  map[*limitedConn]struct{}
	isClose bool
}

// place is where a connection is in the limiter.
type place uint8

const (
	placeSilent  place = iota // accepted, nothing received yet
	placePartial              // part of a request head received
	placeReady                // a whole request head received
	placeActive               // handed to the server
	placeGone
)

type limitedConn struct {
	net.Conn
	l         *connLimit
	closeOnce sync.Once
	accepted  int64 // monotonic ns

	trusted atomic.Bool  // a request on it carried the right token
	reads   atomic.Int64 // reads that returned data: a counter, cheaper than a clock
	state   atomic.Int32 // http.ConnState, once handed over
	// When it entered state (monotonic ns) and its reads then; not kept
	// for StateActive, in a handler, which is never shed.
	since, readsThen atomic.Int64

	// Set by the wait room while it watches the connection.
	roomID atomic.Uint64
	fd     int

	// Guarded by l.mu.
	place place
	elem  *list.Element // in l.queued[place]
	// partial: handed over with only part of its request head, which a
	// client on loopback sends in one piece; it stalls after partialStall.
	partial bool
	// When victims last saw reads change, and the count it saw: the time
	// of the last read, to within one look.
	seenReads, seenAt int64
}

func (l *connLimit) now() int64 { return int64(time.Since(l.epoch)) }

// Accept hands the server the next connection whose request has arrived,
// once a slot is free or can be freed (see LimitConns).
func (l *connLimit) Accept() (net.Conn, error) {
	l.startOnce.Do(func() {
		go l.acceptLoop()
		go l.closeSilent()
	})
	for {
		c, victims := l.next()
		if c != nil {
			l.wake(l.roomy)
			return c, nil
		}
		if victims != nil && l.shed(victims) {
			continue
		}
		if err := l.waitForChange(victims != nil); err != nil {
			return nil, err
		}
	}
}

// waitForChange waits until a request arrives or a slot may be free. When
// a request already waits (starved) and nothing could go, it also looks
// again after a while, for a connection that has stalled since.
func (l *connLimit) waitForChange(starved bool) error {
	var again <-chan time.Time
	if starved {
		t := time.NewTimer(min(l.limits.StallGrace/4, partialStall/2))
		defer t.Stop()
		again = t.C
	}
	select {
	case <-l.changed:
	case <-again:
	case err := <-l.errs:
		return err
	case <-l.closed:
		return net.ErrClosed
	}
	return nil
}

// next pops the first ready connection if a slot is free. Otherwise, when
// a request waits, it returns the connections that may be closed to free a
// slot, best first (possibly none: empty but not nil).
func (l *connLimit) next() (*limitedConn, []*limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Whole requests first: a flood of partial ones (a slowloris) must
	// not hold the slots a request that is all there could use.
	from := placeReady
	front := l.queued[from].Front()
	if front == nil {
		from = placePartial
		front = l.queued[from].Front()
	}
	if front == nil {
		l.starved.Store(false)
		return nil, nil
	}
	if len(l.active) < l.limits.MaxConns {
		c := front.Value.(*limitedConn)
		l.queued[from].Remove(front)
		c.elem, c.place, c.partial = nil, placeActive, from == placePartial
		c.since.Store(l.now())
		c.readsThen.Store(c.reads.Load())
		c.state.Store(int32(http.StateNew))
		l.active[c] = struct{}{}
		l.starved.Store(false)
		return c, nil
	}
	l.starved.Store(true)
	return nil, l.victims(l.now())
}

// victims returns the active connections that may be closed to free a
// slot, in the order LimitConns gives. Called with l.mu held.
func (l *connLimit) victims(now int64) []*limitedConn {
	type candidate struct {
		c     *limitedConn
		rank  int
		since int64
	}
	var cs []candidate
	stall := int64(l.limits.StallGrace)
	for c := range l.active {
		state := http.ConnState(c.state.Load())
		if state == http.StateActive {
			continue // in a handler
		}
		since, reads := c.since.Load(), c.reads.Load()
		if reads != c.seenReads {
			c.seenReads, c.seenAt = reads, now
		}
		receiving := reads != c.readsThen.Load()
		last := since
		if receiving {
			last = max(since, c.seenAt)
		}
		switch {
		case state == http.StateNew || receiving:
			// Its request is being read: handed over but not read yet, or
			// bytes read since it was handed over or went idle. Only a
			// stall (a slowloris) makes it a candidate.
			grace := stall
			if c.partial && state == http.StateNew {
				grace = min(stall, int64(partialStall))
			}
			if now-last >= grace {
				cs = append(cs, candidate{c, 1, last})
			}
		case !c.trusted.Load():
			cs = append(cs, candidate{c, 0, since})
		case now-since >= int64(l.limits.TrustedIdleGrace):
			cs = append(cs, candidate{c, 2, since})
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return int(min(max(a.since-b.since, -1), 1))
	})
	out := make([]*limitedConn, len(cs))
	for i, c := range cs {
		out[i] = c.c
	}
	return out
}

// shed closes the first of victims that has no unread bytes, and reports
// whether it closed one. A connection with unread bytes holds a request
// the server has not read yet: closing it would lose that request.
func (l *connLimit) shed(victims []*limitedConn) bool {
	for _, c := range victims {
		if !hasUnread(c.Conn) {
			c.Close()
			return true
		}
	}
	return false
}

// acceptLoop accepts connections into the queue while it has room.
func (l *connLimit) acceptLoop() {
	for {
		if wait, ok := l.makeRoom(); !ok {
			t := time.NewTimer(wait)
			select {
			case <-l.roomy:
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return
			}
			t.Stop()
			continue
		}
		c, err := l.Listener.Accept()
		if err != nil {
			// Serve logs it and, for a temporary error such as EMFILE,
			// backs off before calling Accept again, which paces this loop.
			select {
			case l.errs <- err:
			case <-l.closed:
				return
			}
			continue
		}
		lc := &limitedConn{Conn: c, l: l, accepted: l.now()}
		l.mu.Lock()
		if l.isClose {
			l.mu.Unlock()
			c.Close()
			return
		}
		lc.place, lc.elem = placeSilent, l.queued[placeSilent].PushBack(lc)
		l.mu.Unlock()
		l.room.watch(lc)
	}
}

// closeSilent closes the queued connections that have not sent a whole
// request head within SilentTimeout of being accepted, as the server's
// ReadHeaderTimeout does for those it reads.
func (l *connLimit) closeSilent() {
	t := time.NewTicker(SilentTimeout / 10)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.closed:
			return
		}
		var expired []*limitedConn
		l.mu.Lock()
		for _, q := range []*list.List{&l.queued[placeSilent], &l.queued[placePartial]} {
			for e := q.Front(); e != nil; e = e.Next() {
				c := e.Value.(*limitedConn)
				if time.Duration(l.now()-c.accepted) < SilentTimeout {
					break // about in accept order: the rest are younger
				}
				expired = append(expired, c)
			}
		}
		l.mu.Unlock()
		for _, c := range expired {
			c.Close()
		}
	}
}

// makeRoom reports whether the queue has room for another connection. When
// it is full, it closes the connection that has been queued longest without
// a whole request head, once that is SilentGrace old: silent ones first,
// then partial ones. If none can go yet, wait is when to look again.
func (l *connLimit) makeRoom() (wait time.Duration, ok bool) {
	l.mu.Lock()
	if l.queuedLen() < l.limits.MaxQueued {
		l.mu.Unlock()
		return 0, true
	}
	var oldest *limitedConn
	for _, p := range []place{placeSilent, placePartial} {
		if front := l.queued[p].Front(); front != nil {
			oldest = front.Value.(*limitedConn)
			break
		}
	}
	l.mu.Unlock()
	if oldest == nil {
		return time.Second, false // all have whole requests: wait for a slot
	}
	if age := time.Duration(l.now() - oldest.accepted); age < l.limits.SilentGrace {
		return l.limits.SilentGrace - age, false
	}
	data, whole := peekRequest(oldest.Conn)
	if whole || (data && oldest.place == placeSilent) {
		// Its request arrived this instant: the wait room moves it.
		return time.Millisecond, false
	}
	oldest.Close()
	return 0, true
}

// queuedLen is the number of connections queued. Called with l.mu held.
func (l *connLimit) queuedLen() int {
	n := 0
	for i := range l.queued {
		n += l.queued[i].Len()
	}
	return n
}

// arrived is the wait room's word that c's first bytes arrived (data), and
// whether they hold a whole request head; or, without data, that its
// client closed it first. It queues c for a slot.
func (l *connLimit) arrived(c *limitedConn, data, whole bool) {
	l.mu.Lock()
	if c.place != placeSilent {
		l.mu.Unlock()
		return // shed or closed meanwhile
	}
	if !data {
		l.mu.Unlock()
		c.Close()
		return
	}
	to := placePartial
	if whole {
		to = placeReady
	}
	l.queued[placeSilent].Remove(c.elem)
	c.place, c.elem = to, l.queued[to].PushBack(c)
	l.mu.Unlock()
	l.wake(l.changed)
}

func (l *connLimit) setState(c *limitedConn, s http.ConnState) {
	if s != http.StateActive {
		c.since.Store(l.now())
		c.readsThen.Store(c.reads.Load())
	}
	c.state.Store(int32(s))
	if s == http.StateIdle && l.starved.Load() {
		l.wake(l.changed)
	}
}

func (l *connLimit) wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Close stops accepting and closes the connections not yet handed to the
// server (the server closes its own).
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.room.close()
	})
	err := l.Listener.Close()
	l.mu.Lock()
	l.isClose = true
	var queued []*limitedConn
	for i := range l.queued {
		for e := l.queued[i].Front(); e != nil; e = e.Next() {
			queued = append(queued, e.Value.(*limitedConn))
		}
	}
	l.mu.Unlock()
	for _, c := range queued {
		c.Close()
	}
	return err
}

// Counts reports the connections open now: handed to the server, and
// queued (silent, partial, or with a request waiting for a slot).
func (l *connLimit) Counts() (active, queued int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.active), l.queuedLen()
}

func (c *limitedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

func (c *limitedConn) Close() error {
	c.l.room.forget(c)
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		l := c.l
		l.mu.Lock()
		switch c.place {
		case placeSilent, placePartial, placeReady:
			l.queued[c.place].Remove(c.elem)
		case placeActive:
			delete(l.active, c)
		}
		c.place, c.elem = placeGone, nil
		l.mu.Unlock()
		l.wake(l.changed)
		l.wake(l.roomy)
	})
	return err
}
