package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/regularfile"
	"github.com/credd-dev/credd/daemon/token"
)

// maxFileBytes bounds what File reads: a JWT is a few KiB, so a larger file
// is the wrong file.
const maxFileBytes = 1 << 20

// checkTimeout bounds each read by Watch.
const checkTimeout = 5 * time.Second

// File reads the token from a file on every call, so the newest token is
// always used. Watch tells when the file holds a new token.
type File struct {
	path    string
	log     *slog.Logger
	changed chan struct{}
	// retry is how often Watch looks for a missing directory; settle is how
	// long it lets a burst of events (truncate, then write) finish.
	retry, settle time.Duration

	mu sync.Mutex
	// seen fingerprints the token last returned by Token or announced by
	// Watch, so Changed fires for a new token and not for every event in a
	// busy directory such as /tmp.
	seen    fingerprint
	seenSet bool
	// state is how Watch follows the file; stateChanged is closed (and
	// replaced) when it changes.
	state        WatchState
	stateChanged chan struct{}
}

// WatchState says how Watch follows the token file.
type WatchState int

const (
	// NotWatching: Watch is not running, so only Token reads the file.
	NotWatching WatchState = iota
	// Polling: the file's directory cannot be watched (it does not exist
	// yet, or no inotify instance is left), so Watch reads the file every
	// second.
	Polling
	// Watching: the file's directory is watched, so a new token is seen as
	// soon as it is written.
	Watching
)

func (s WatchState) String() string {
	switch s {
	case NotWatching:
		return "not watching"
	case Polling:
		return "polling"
	case Watching:
		return "watching"
	}
	return fmt.Sprintf("WatchState(%d)", int(s))
}

// fingerprint identifies a token without keeping it: ok is false when no
// token could be read.
type fingerprint struct {
	ok  bool
	sum [sha256.Size]byte
}

// NewFile returns a source that reads path. A nil logger discards.
func NewFile(path string, logger *slog.Logger) *File {
	return &File{
		path:         path,
		log:          withComponent(logger, "file").With("path", path),
		changed:      make(chan struct{}, 1),
		retry:        time.Second,
		settle:       50 * time.Millisecond,
		stateChanged: make(chan struct{}),
	}
}

func (f *File) Name() string { return "file" }

// WatchState says how Watch follows the file now, and returns a channel
// that is closed when that changes: whether a new token is seen at once or
// within a second, and when a watch is in place.
func (f *File) WatchState() (WatchState, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, f.stateChanged
}

func (f *File) setState(s WatchState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == s {
		return
	}
	f.state = s
	close(f.stateChanged)
	f.stateChanged = make(chan struct{})
}

// Changed receives a value when the file may hold a token other than the one
// Token last returned. Signals coalesce: one pending value means "read again".
// It only fires while Watch runs.
func (f *File) Changed() <-chan struct{} { return f.changed }

// Token reads the file and returns its content without surrounding
// whitespace. It returns when ctx ends, even if the read has not.
func (f *File) Token(ctx context.Context) (string, error) {
	tok, err := f.read(ctx)
	f.mu.Lock()
	f.seen, f.seenSet = fingerprintOf(tok, err), true
	f.mu.Unlock()
	return tok, err
}

// read reads the file through regularfile: a FIFO, a device or a huge file
// put in its place is refused at once instead of blocking or filling
// memory. Symlinks are followed (a Kubernetes projected volume's token is
// one).
func (f *File) read(ctx context.Context) (string, error) {
	b, fi, err := regularfile.Read(ctx, f.path, regularfile.Options{Max: maxFileBytes})
	if err != nil {
		return "", f.readError(fi, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", &daemon.Error{
			Kind:    daemon.KindNewToken,
			Code:    CodeFileEmpty,
			Message: fmt.Sprintf("token file %s is empty", f.path),
			Hint:    "whatever writes the token has not written it yet; credd reads the file again when it changes",
		}
	}
	if err := oneLine(tok, "the token file must hold"); err != nil {
		return "", err
	}
	return tok, nil
}

// readError classifies a failed read; fi is what was opened, if anything.
func (f *File) readError(fi fs.FileInfo, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not fatal, at start or later: whatever writes the token may not
		// have run yet, and Watch sees the file (and its directory) appear.
		msg := fmt.Sprintf("token file %s does not exist", f.path)
		if dir := filepath.Dir(f.path); !exists(dir) {
			msg += ", nor does its directory " + dir
		}
		return &daemon.Error{Kind: daemon.KindNewToken, Code: CodeFileMissing, Message: msg, Hint: HintFileMissing, Err: err}
	case errors.Is(err, regularfile.ErrTooLarge):
		return &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    token.CodeMalformed,
			Message: fmt.Sprintf("token file %s is larger than %d bytes", f.path, maxFileBytes),
			Hint:    "the token file must hold one JWT; point --token-file at the right file",
			Err:     err,
		}
	case errors.Is(err, regularfile.ErrNotRegular) || errors.Is(err, syscall.EISDIR):
		// A pipe or a device could block the daemon or feed it without
		// end, so only a regular file is read: a person must fix this.
		what := "not a regular file"
		if fi != nil {
			what = regularfile.Kind(fi.Mode())
		}
		hint := "point --token-file at a regular file; credd does not read pipes or devices"
		if (fi != nil && fi.IsDir()) || errors.Is(err, syscall.EISDIR) {
			what, hint = "a directory", "point --token-file at the token file, not its directory"
		}
		return &daemon.Error{
			Kind:    daemon.KindPermanent,
			Code:    CodeFileUnreadable,
			Message: fmt.Sprintf("cannot read token file %s: it is %s, not a regular file", f.path, what),
			Hint:    hint,
			Err:     err,
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return &daemon.Error{
			Kind:    daemon.KindRetryable,
			Code:    CodeFileUnreadable,
			Message: fmt.Sprintf("reading token file %s did not finish in time", f.path),
			Hint:    "check the file system that holds it: a hung network mount?",
			Err:     err,
		}
	}
	// A permission problem needs a person; an I/O error might pass.
	kind := daemon.KindRetryable
	hint := "check the file and the disk"
	if errors.Is(err, fs.ErrPermission) {
		kind, hint = daemon.KindPermanent, fmt.Sprintf("make the file readable by uid %d, which credd runs as", os.Getuid())
	}
	return daemon.Errorf(kind, CodeFileUnreadable, hint, "cannot read token file %s: %w", f.path, err)
}

// HintFileMissing is what to do about a token file that does not exist.
// It has no parentheses: daemon.Error's text puts a hint in them,
// and nested ones read badly.
const HintFileMissing = "create it, and credd reads it as soon as it appears; or point --token-file or AWS_WEB_IDENTITY_TOKEN_FILE at the file your identity provider writes"

// exists reports whether path names anything: a directory that is missing
// is worth naming, as a mount not made yet or a typo in the path.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func fingerprintOf(tok string, err error) fingerprint {
	if err != nil {
		return fingerprint{}
	}
	return fingerprint{ok: true, sum: sha256.Sum256([]byte(tok))}
}

// Watch watches the file's parent directory until ctx is done, so that an
// atomic rename, the Kubernetes projected-volume "..data" symlink swap,
// truncate-and-write and delete-then-recreate are all seen, and signals
// Changed when the file holds a new token. While the directory cannot be
// watched (it does not exist yet, say), Watch polls the file every second
// and retries; WatchState tells which it does. It returns nil when ctx is
// done.
//
// A token file that is a symlink into another directory (other than the
// "..data" swap) is seen only when the link itself changes.
func (f *File) Watch(ctx context.Context) error {
	defer f.setState(NotWatching)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		// Out of inotify instances, say: Token still reads the file on every
		// call, so polling is a fine fallback and no reason to stop the daemon.
		f.log.Warn("cannot watch the token file; polling it every "+f.retry.String(), "err", err)
		f.setState(Polling)
		f.poll(ctx, func() bool { return false })
		return nil
	}
	defer w.Close()
	dir := filepath.Dir(f.path)
	for {
		logged := false
		added := f.poll(ctx, func() bool {
			err := w.Add(dir)
			if err != nil && !logged {
				f.log.Info("cannot watch the token file's directory yet; polling the file every "+f.retry.String(), "dir", dir, "err", err)
				f.setState(Polling)
				logged = true
			}
			return err == nil
		})
		if !added {
			return nil
		}
		f.log.Debug("watching the token file's directory", "dir", dir)
		f.setState(Watching)
		f.check(ctx, false) // whatever happened before the watch was in place
		if err := f.watchEvents(ctx, w, dir); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		f.log.Info("the token file's directory went away", "dir", dir)
		f.setState(Polling)
	}
}

// poll calls done, and checks the file, every f.retry until done reports
// true (poll returns true) or ctx is done (false).
func (f *File) poll(ctx context.Context, done func() bool) bool {
	for {
		if done() {
			return true
		}
		f.check(ctx, false)
		t := time.NewTimer(f.retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// watchEvents handles events until ctx is done or dir goes away (nil) or
// the watcher breaks (an error).
func (f *File) watchEvents(ctx context.Context, w *fsnotify.Watcher, dir string) error {
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch token file: watcher closed")
			}
			if ev.Name == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				_ = w.Remove(dir) // already gone after a rename or delete
				return nil
			}
			if settle == nil {
				settle = time.After(f.settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch token file: watcher closed")
			}
			// An overflow loses events: look at the file anyway.
			f.log.Warn("token file watch error", "err", err)
			if settle == nil {
				settle = time.After(f.settle)
			}
		case <-settle:
			settle = nil
			f.check(ctx, true)
		}
	}
}

// check reads the file and signals Changed if it holds a token other than
// the one last seen. If nothing was seen yet (Token was never called), only
// an event counts as news; a poll or a new watch just records what is there,
// so that starting Watch beside the first Token call costs no extra refresh.
func (f *File) check(ctx context.Context, fromEvent bool) {
	// Bounded, so a read stuck on a hung file system cannot stall the
	// watch, nor keep Watch from returning when ctx ends.
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	tok, err := f.read(ctx)
	if err != nil {
		return // the consumer hears about it when it calls Token
	}
	fp := fingerprintOf(tok, nil)
	f.mu.Lock()
	changed := fp != f.seen && (f.seenSet || fromEvent)
	f.seen, f.seenSet = fp, true
	f.mu.Unlock()
	if changed {
		f.log.Debug("token file changed")
		notify(f.changed)
	}
}
