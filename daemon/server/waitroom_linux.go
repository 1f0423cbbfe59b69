package server

import (
	"sync"
	"sync/atomic"
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
// kilobyte besides its socket. The descriptors stay registered with the
// runtime's own poller too, which is allowed: epoll watches files, and one
// file may be in several sets.
type epollRoom struct {
	l    *connLimit
	epfd int
	done atomic.Bool

	mu sync.Mutex // guards watched and next, and orders EPOLL_CTL_DEL before a close
	// watched maps an id, carried in the event's data, to its connection.
	// An id is never reused, unlike a descriptor number, so an event for a
	// connection already gone finds nothing.
	watched map[uint64]*limitedConn
	next    uint64
	closed  bool // epfd is closed: its number may belong to another file now
}

func newEpollRoom(l *connLimit) (*epollRoom, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	r := &epollRoom{l: l, epfd: epfd, watched: make(map[uint64]*limitedConn)}
	go r.run()
	return r, nil
}

func (r *epollRoom) watch(c *limitedConn) {
	rc, ok := rawConn(c.Conn)
	if !ok {
		goroutineRoom{r.l}.watch(c)
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		goroutineRoom{r.l}.watch(c)
		return
	}
	r.next++
	id := r.next
	var err error
	cerr := rc.Control(func(fd uintptr) {
		// One-shot: after the first event the connection is the server's.
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		if err = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err == nil {
			c.roomID.Store(id)
			c.fd = int(fd)
			r.watched[id] = c
		}
	})
	r.mu.Unlock()
	if cerr != nil || err != nil {
		goroutineRoom{r.l}.watch(c) // cannot happen on a live socket; still, never lose it
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
	if !r.closed {
		syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
}

func (r *epollRoom) close() { r.done.Store(true) }

// run hands each connection that became readable to the limiter. It wakes
// at least every 250 ms to see whether the room was closed, and closes the
// epoll descriptor itself, under r.mu, so that no call can be made on that
// number once it may have been reused.
func (r *epollRoom) run() {
	defer func() {
		r.mu.Lock()
		r.closed = true
		syscall.Close(r.epfd)
		r.mu.Unlock()
	}()
	events := make([]syscall.EpollEvent, 128)
	for !r.done.Load() {
		n, err := syscall.EpollWait(r.epfd, events, 250)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return // EBADF or EINVAL: cannot happen while the room is open
		}
		for _, ev := range events[:n] {
			r.fire(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
		}
	}
}

func (r *epollRoom) fire(id uint64) {
	r.mu.Lock()
	c := r.watched[id]
	if c == nil {
		r.mu.Unlock()
		return // closed meanwhile
	}
	data := hasUnread(c.Conn) // readable: bytes, or the peer closed it
	r.unwatch(c)
	r.mu.Unlock()
	r.l.arrived(c, data)
}
