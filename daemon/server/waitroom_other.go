//go:build !linux

package server

func newWaitRoom(l *connLimit) waitRoom { return goroutineRoom{l} }
