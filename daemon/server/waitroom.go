package server

// A waitRoom tells the limiter when the first bytes of a queued
// connection arrive, without reading them and without an HTTP goroutine
// and buffers per connection: a flood of silent connections then costs
// little more than their descriptors.
type waitRoom interface {
	// watch starts waiting for c's first bytes; the room then calls
	// l.arrived(c, data, whole) once, unless c is closed first.
	watch(c *limitedConn)
	// forget stops waiting for c. Called before c is closed, so that its
	// descriptor is no longer watched when the number is reused.
	forget(c *limitedConn)
	// close stops the room.
	close()
}

// goroutineRoom waits with one goroutine per connection, parked in the
// runtime's poller as a blocked Read would be (a few KiB each).
type goroutineRoom struct{ l *connLimit }

func (r goroutineRoom) watch(c *limitedConn) {
	go func() {
		if !awaitReadable(c.Conn) {
			r.l.arrived(c, false, false)
			return
		}
		data, whole := peekRequest(c.Conn)
		r.l.arrived(c, data, whole)
	}()
}

// forget has nothing to do: closing c ends its goroutine's wait.
func (goroutineRoom) forget(*limitedConn) {}
func (goroutineRoom) close()              {}
