package server

import (
	"os"
	"sync"
	"syscall"
)

// newWaitRoom returns an epoll room, or a goroutine room if epoll cannot be
// had.
func newWaitRoom(l *connLimit) waitRoom {
	r, err := newEpollRoom(l)
	if err != nil {
		return goroutineRoom{l}
	}
	return r
}

// epollRoom waits for the first bytes of every queued connection with one
// epoll instance and one goroutine, so a queued connection costs about a
// kilobyte besides its socket. The sockets stay registered with the
// runtime's own poller too, which is allowed: one file may be in several
// epoll sets.
//
// The epoll descriptor is itself handed to the runtime's poller (it is
// readable when an event is ready), so the goroutine waits as a blocked
// Read does, never in a blocking epoll_wait: with GOMAXPROCS=1 that would
// hold the only P until sysmon takes it back, stalling every request for
// up to milliseconds. Going through the os.File also means no call is ever
// made on the descriptor's number after it is closed and perhaps reused.
type epollRoom struct {
	l  *connLimit
	ep *os.File
	rc syscall.RawConn

	mu sync.Mutex // guards watched and next; held across EPOLL_CTL_DEL
	// watched maps an id, carried in the event's data, to its connection.
	// An id is never reused, unlike a descriptor number, so an event for a
	// connection already gone finds nothing.
	watched map[uint64]*limitedConn
	next    uint64
}

func newEpollRoom(l *connLimit) (*epollRoom, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	// A non-blocking descriptor is registered with the runtime's poller.
	ep := os.NewFile(uintptr(epfd), "credd-waitroom")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, err
	}
	r := &epollRoom{l: l, ep: ep, rc: rc, watched: make(map[uint64]*limitedConn)}
	go r.run()
	return r, nil
}

func (r *epollRoom) watch(c *limitedConn) {
	conn, ok := rawConn(c.Conn)
	if !ok {
		goroutineRoom{r.l}.watch(c)
		return
	}
	r.mu.Lock()
	r.next++
	id := r.next
	var err error
	cerr := conn.Control(func(fd uintptr) {
		// One-shot: after the first event the connection is the server's.
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		if eerr := r.rc.Control(func(epfd uintptr) {
			err = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}); eerr != nil {
			err = eerr // the room is closed
		}
		if err == nil {
			c.roomID.Store(id)
			c.fd = int(fd)
			r.watched[id] = c
		}
	})
	r.mu.Unlock()
	if cerr != nil || err != nil {
		goroutineRoom{r.l}.watch(c) // a closed room or socket: the goroutine finds out
	}
}

func (r *epollRoom) forget(c *limitedConn) {
	if c.roomID.Load() == 0 {
		return
	}
	r.mu.Lock()
	r.unwatch(c)
	r.mu.Unlock()
}

// unwatch removes c from the set while its descriptor is still open:
// callers hold r.mu, and every close of a watched connection forgets it
// first. Called with r.mu held.
func (r *epollRoom) unwatch(c *limitedConn) {
	id := c.roomID.Swap(0)
	if id == 0 {
		return
	}
	delete(r.watched, id)
	r.rc.Control(func(epfd uintptr) {
		syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_DEL, c.fd, nil)
	})
}

func (r *epollRoom) close() { r.ep.Close() }

// run hands each connection that became readable to the limiter, until
// the room is closed.
func (r *epollRoom) run() {
	events := make([]syscall.EpollEvent, 128)
	for {
		var n int
		var werr error
		err := r.rc.Read(func(epfd uintptr) bool {
			for {
				n, werr = syscall.EpollWait(int(epfd), events, 0)
				if werr != syscall.EINTR {
					return n > 0 || werr != nil // nothing ready: wait for the poller
				}
			}
		})
		if err != nil {
			return // closed
		}
		if werr != nil {
			r.abandon() // cannot happen on an open epoll file; never lose a request
			return
		}
		for _, ev := range events[:n] {
			r.fire(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
		}
	}
}

// abandon hands every watched connection to a goroutine each, and makes
// later ones go there too.
func (r *epollRoom) abandon() {
	r.ep.Close()
	r.mu.Lock()
	var cs []*limitedConn
	for _, c := range r.watched {
		cs = append(cs, c)
	}
	clear(r.watched)
	r.mu.Unlock()
	for _, c := range cs {
		c.roomID.Store(0)
		goroutineRoom{r.l}.watch(c)
	}
}

func (r *epollRoom) fire(id uint64) {
	r.mu.Lock()
	c := r.watched[id]
	if c == nil {
		r.mu.Unlock()
		return // closed meanwhile
	}
	data, whole := peekRequest(c.Conn) // readable: bytes, or the peer closed it
	r.unwatch(c)
	r.mu.Unlock()
	r.l.arrived(c, data, whole)
}
