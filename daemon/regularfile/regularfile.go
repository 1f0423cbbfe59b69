// Package regularfile reads small files that someone else may have put in
// the daemon's way: a token file, a kept login, a config file. A FIFO, a
// device or a socket in their place must not block the daemon, and a huge
// file must not fill its memory.
package regularfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by Read's error for a path that is not a regular
// file (a FIFO, a device, a socket, a directory, or with NoFollow a
// symlink).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by Read's error for a file larger than its limit.
var ErrTooLarge = errors.New("file too large")

// Options tune Read.
type Options struct {
	// Max is the most bytes Read accepts; a larger file is ErrTooLarge.
	Max int64
	// NoFollow refuses a symlink at the path itself (ErrNotRegular),
	// rather than reading what it points to.
	NoFollow bool
}

// Read returns the content of the regular file at path and its FileInfo.
//
// The file is opened non-blocking, so opening a FIFO returns at once
// instead of waiting for a writer, and is then refused by its fstat: what
// was checked is what was opened. The read runs in its own goroutine, so a
// read stuck on a hung filesystem returns ctx's error when ctx ends (the
// goroutine finishes when the read does).
func Read(ctx context.Context, path string, o Options) ([]byte, fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	type result struct {
		b   []byte
		fi  fs.FileInfo
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, fi, err := read(path, o)
		done <- result{b, fi, err}
	}()
	select {
	case r := <-done:
		return r.b, r.fi, r.err
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("read %s: %w", path, ctx.Err())
	}
}

func read(path string, o Options) ([]byte, fs.FileInfo, error) {
	flags := os.O_RDONLY | openNonBlock
	if o.NoFollow {
		flags |= openNoFollow
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if o.NoFollow && errors.Is(err, syscall.ELOOP) {
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is a symbolic link", ErrNotRegular)}
		}
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is %s", ErrNotRegular, Kind(fi.Mode()))}
	}
	if o.Max > 0 && fi.Size() > o.Max {
		return nil, fi, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, fi.Size(), o.Max)}
	}
	limit := o.Max
	if limit <= 0 {
		limit = 1 << 30
	}
	// The file may grow after the fstat: read one byte past the limit to
	// tell.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fi, err
	}
	if int64(len(b)) > limit {
		return nil, fi, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
	}
	return b, fi, nil
}

// Kind names a file mode's type for a person: "a FIFO", "a directory"...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}
