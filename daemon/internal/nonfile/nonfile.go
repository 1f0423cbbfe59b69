// Package nonfile puts, for tests, things that are not ordinary small
// regular files where a file is expected: a FIFO with no writer (opening
// it to read blocks), a device that never ends (reading it never stops),
// and a huge sparse file (reading it fills memory). Code that reads a file
// named by a flag, a config or a peer must refuse each at once, without
// blocking or reading; these helpers make the cases for its tests.
package nonfile

import (
	"os"
	"testing"
)

// HugeSize is the size of the file Huge makes: 100 MiB, more than any
// limit credd puts on a file it reads.
const HugeSize = 100 << 20

// EndlessDevice makes path a symbolic link to /dev/zero, a character
// device that never ends. It skips the test where there is no /dev/zero.
func EndlessDevice(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
}

// Huge makes path a sparse regular file of HugeSize bytes, with nothing
// to read on disk. A missing file is made with mode 0600; what a file
// already holds stays as its first bytes.
func Huge(t testing.TB, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Truncate(HugeSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
