//go:build unix

package regularfile

import "syscall"

const (
	openNonBlock = syscall.O_NONBLOCK | syscall.O_CLOEXEC
	openNoFollow = syscall.O_NOFOLLOW
)
