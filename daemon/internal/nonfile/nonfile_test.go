package nonfile_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/credd-dev/credd/daemon/internal/nonfile"
)

func TestFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	nonfile.FIFO(t, path)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("mode %v, want a named pipe", fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
		t.Errorf("permissions %v, want at most 0600", perm)
	}
}

func TestEndlessDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device")
	nonfile.EndlessDevice(t, path)
	if target, err := os.Readlink(path); err != nil || target != "/dev/zero" {
		t.Fatalf("Readlink = %q, %v; want /dev/zero", target, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
		t.Errorf("mode %v, want a character device", fi.Mode())
	}
}

func TestHuge(t *testing.T) {
	dir := t.TempDir()
	t.Run("a new file", func(t *testing.T) {
		path := filepath.Join(dir, "new")
		nonfile.Huge(t, path)
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Size() != nonfile.HugeSize {
			t.Errorf("mode %v, size %d; want a regular file of %d bytes", fi.Mode(), fi.Size(), nonfile.HugeSize)
		}
		if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
			t.Errorf("permissions %v, want at most 0600", perm)
		}
	})
	t.Run("an existing file keeps its first bytes", func(t *testing.T) {
		path := filepath.Join(dir, "old")
		if err := os.WriteFile(path, []byte("head"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		nonfile.Huge(t, path)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 4)
		if _, err := f.Read(buf); err != nil || string(buf) != "head" {
			t.Errorf("first bytes %q, %v; want %q", buf, err, "head")
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != nonfile.HugeSize || fi.Mode().Perm() != 0o640 {
			t.Errorf("size %d, mode %v; want %d and 0640 kept", fi.Size(), fi.Mode().Perm(), nonfile.HugeSize)
		}
	})
}
