//go:build unix

package nonfile

import (
	"syscall"
	"testing"
)

// FIFO makes a FIFO (named pipe) at path, mode 0600, with no writer:
// opening it to read blocks until someone opens it to write. It skips the
// test where the platform has no FIFOs.
func FIFO(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
}
