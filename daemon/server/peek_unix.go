//go:build unix

package server

import (
	"bytes"
	"net"
	"sync"
	"syscall"
)

// awaitReadable waits until c has bytes to read, without reading them, and
// reports whether it does: false when the peer closed it first, or when
// it was closed or its read deadline passed. The goroutine waits in the
// runtime's poller, as a blocked Read would, but with no buffer.
func awaitReadable(c net.Conn) bool {
	rc, ok := rawConn(c)
	if !ok {
		return true
	}
	var data bool
	err := rc.Read(func(fd uintptr) bool {
		n, err := peek(fd)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return false // nothing yet: wait for readability
		}
		data = err == nil && n > 0
		return true
	})
	return err == nil && data
}

// hasUnread reports whether c holds bytes not read yet: a request sent and
// not answered. A connection its peer closed (or reset) has none.
func hasUnread(c net.Conn) bool {
	rc, ok := rawConn(c)
	if !ok {
		return true // cannot tell: assume a request, never lose one
	}
	var data bool
	if err := rc.Control(func(fd uintptr) {
		n, err := peek(fd)
		data = err == nil && n > 0
	}); err != nil {
		return false // closed
	}
	return data
}

// headPeek is how much of a request peekRequest looks at: the server's
// MaxHeaderBytes. A head that does not end within it counts as whole; the
// server refuses it (431).
const headPeek = 16 << 10

var peekBufs = sync.Pool{New: func() any { return new([headPeek]byte) }}

// peekRequest reports, without reading, whether c holds bytes (false also
// when its peer closed it), and whether they hold a whole request head, up
// to its blank line. Go's server ends a line at "\n" with or without "\r".
func peekRequest(c net.Conn) (data, whole bool) {
	rc, ok := rawConn(c)
	if !ok {
		return true, true // cannot tell: hand it over
	}
	buf := peekBufs.Get().(*[headPeek]byte)
	defer peekBufs.Put(buf)
	n := 0
	if err := rc.Control(func(fd uintptr) {
		n, _, _ = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil || n <= 0 {
		return false, false
	}
	head := buf[:n]
	whole = n == len(buf) || bytes.Contains(head, []byte("\r\n\r\n")) || bytes.Contains(head, []byte("\n\n"))
	clear(head) // it holds the authorization token: keep no copy
	return true, whole
}

func peek(fd uintptr) (int, error) {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}

func rawConn(c net.Conn) (syscall.RawConn, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}
