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
	"sync"
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
// With ErrNotRegular or ErrTooLarge it returns the FileInfo of what it
// found (nil if unknown), so that the caller can name it with Kind.
//
// The file is opened non-blocking, so opening a FIFO returns at once
// instead of waiting for a writer, and is then refused by its fstat: what
// was checked is what was opened. The read runs in its own goroutine, so a
// read stuck on a hung filesystem returns ctx's error when ctx ends (the
// goroutine finishes when the read does). Reads of one path take turns,
// so a path that hangs ties up one goroutine, not one per call.
func Read(ctx context.Context, path string, o Options) ([]byte, fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	release, err := acquire(ctx, path)
	if err != nil {
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
		// Give up the turn before answering, so a caller that returns
		// has left the path free for the next read.
		release()
		done <- result{b, fi, err}
	}()
	select {
	case r := <-done:
		return r.b, r.fi, r.err
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("read %s: %w", path, ctx.Err())
	}
}

// busy holds, for each path being read, a channel closed when that read
// returns.
var busy = struct {
	sync.Mutex
	m map[string]chan struct{}
}{m: map[string]chan struct{}{}}

// acquire waits for path's turn, or for ctx to end.
func acquire(ctx context.Context, path string) (release func(), err error) {
	for {
		busy.Lock()
		prev, ok := busy.m[path]
		if !ok {
			ch := make(chan struct{})
			busy.m[path] = ch
			busy.Unlock()
			return func() {
				busy.Lock()
				delete(busy.m, path)
				busy.Unlock()
				close(ch)
			}, nil
		}
		busy.Unlock()
		select {
		case <-prev:
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: an earlier read has not returned: %w", path, ctx.Err())
		}
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
			// The link's own FileInfo, for a caller that names what it is.
			fi, _ := os.Lstat(path)
			return nil, fi, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is a symbolic link", ErrNotRegular)}
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
