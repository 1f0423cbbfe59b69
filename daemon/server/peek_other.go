//go:build !unix

package server

import "net"

// awaitReadable cannot wait without reading here: the connection is handed
// to the server at once, which reads it under ReadHeaderTimeout.
func awaitReadable(net.Conn) bool { return true }

// hasUnread cannot tell here, so it assumes a request: never lose one.
func hasUnread(net.Conn) bool { return true }

// peekRequest cannot tell here, so it assumes a whole request.
func peekRequest(net.Conn) (data, whole bool) { return true, true }
