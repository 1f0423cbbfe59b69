//go:build !unix

package nonfile

import "testing"

// FIFO makes a FIFO (named pipe) at path, mode 0600, with no writer:
// opening it to read blocks until someone opens it to write. It skips the
// test where the platform has no FIFOs, as this one has none.
func FIFO(t testing.TB, path string) {
	t.Helper()
	t.Skip("no FIFOs on this platform")
}
