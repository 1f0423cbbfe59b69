//go:build !linux

package control

import "net"

// peerUID cannot tell the peer here without golang.org/x/sys
// (LOCAL_PEERCRED, getpeereid), which credd does not depend on: ok is
// false and the checks of the state dir and of the socket's owner stand
// alone.
func peerUID(*net.UnixConn) (uid int, ok bool, err error) { return 0, false, nil }
