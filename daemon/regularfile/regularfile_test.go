//go:build unix

package regularfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/internal/nonfile"
	"github.com/credd-dev/credd/daemon/regularfile"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	nonfile.FIFO(t, fifo)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		opts     regularfile.Options
		want     string
		wantErr  error
		wantText string
	}{
		{"a small regular file is read", small, regularfile.Options{Max: 10}, "hello", nil, ""},
		{"a file over the limit is refused", big, regularfile.Options{Max: 10}, "", regularfile.ErrTooLarge, "100 bytes, more than 10"},
		{"a FIFO is refused at once, without a writer", fifo, regularfile.Options{Max: 10}, "", regularfile.ErrNotRegular, "FIFO"},
		{"a directory is refused", dir, regularfile.Options{Max: 10}, "", regularfile.ErrNotRegular, "a directory"},
		{"a device is refused", "/dev/zero", regularfile.Options{Max: 10}, "", regularfile.ErrNotRegular, "character device"},
		{"a symlink is followed by default", link, regularfile.Options{Max: 10}, "hello", nil, ""},
		{"a symlink is refused with NoFollow", link, regularfile.Options{Max: 10, NoFollow: true}, "", regularfile.ErrNotRegular, "symbolic link"},
		{"a missing file is fs.ErrNotExist", filepath.Join(dir, "none"), regularfile.Options{}, "", os.ErrNotExist, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b, _, err := regularfile.Read(ctx, tt.path, tt.opts)
			if tt.wantErr == nil {
				if err != nil || string(b) != tt.want {
					t.Fatalf("Read = %q, %v; want %q", b, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Read error = %v; want %v mentioning %q", err, tt.wantErr, tt.wantText)
			}
			if ctx.Err() != nil {
				t.Fatal("Read blocked until the deadline")
			}
		})
	}
}

func TestReadHonoursAnEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := regularfile.Read(ctx, "/dev/null", regularfile.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with an ended context = %v, want context.Canceled", err)
	}
}

func TestReadReturnsTheFileInfoOfWhatItRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	nonfile.FIFO(t, fifo)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	nonfile.Huge(t, big) // sparse: nothing to read
	for _, tt := range []struct {
		path string
		opts regularfile.Options
		want string
	}{
		{fifo, regularfile.Options{}, "a FIFO (named pipe)"},
		{link, regularfile.Options{}, "a FIFO (named pipe)"},
		{link, regularfile.Options{NoFollow: true}, "a symbolic link"},
		{big, regularfile.Options{Max: 1 << 20}, "a regular file"},
	} {
		_, fi, err := regularfile.Read(context.Background(), tt.path, tt.opts)
		if err == nil || fi == nil || regularfile.Kind(fi.Mode()) != tt.want {
			t.Errorf("Read(%s, %+v) = %v, %v; want %s and an error", tt.path, tt.opts, fi, err, tt.want)
		}
	}
}
