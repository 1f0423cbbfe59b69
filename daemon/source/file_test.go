package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/internal/nonfile"
	"github.com/credd-dev/credd/daemon/source"
)

func TestFileToken(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, path string)
		want     string
		wantCode daemon.Code
		wantKind daemon.Kind
		wantMsg  string
		wantHint string
	}{
		{
			name:  "a token with a trailing newline is returned trimmed",
			setup: writeFile("  header.payload.sig\n"),
			want:  "header.payload.sig",
		},
		{
			name:     "a missing file may appear later",
			setup:    func(*testing.T, string) {},
			wantCode: "TokenFileMissing", wantKind: daemon.KindNewToken,
			wantMsg:  "does not exist",
			wantHint: source.HintFileMissing,
		},
		{
			name:     "a file of whitespace is empty",
			setup:    writeFile(" \n\n"),
			wantCode: "TokenFileEmpty", wantKind: daemon.KindNewToken,
		},
		{
			name:     "a file with two tokens is malformed and the hint says so",
			setup:    writeFile("a.b.c\nd.e.f\n"),
			wantCode: "MalformedToken", wantKind: daemon.KindPermanent,
			wantHint: "the token file must hold one JWT; got 2 lines",
		},
		{
			name:     "a directory is unreadable",
			setup:    func(t *testing.T, path string) { mkdir(t, path) },
			wantCode: "TokenFileUnreadable", wantKind: daemon.KindPermanent,
			wantHint: "not its directory",
		},
		{
			name:     "a file larger than 1 MiB is the wrong file",
			setup:    writeFile(strings.Repeat("a", 1<<20+1)),
			wantCode: "MalformedToken", wantKind: daemon.KindPermanent,
		},
		{
			name:     "a FIFO with no writer is refused at once, not waited on",
			setup:    func(t *testing.T, path string) { nonfile.FIFO(t, path) },
			wantCode: "TokenFileUnreadable", wantKind: daemon.KindPermanent,
			wantMsg:  "it is a FIFO (named pipe), not a regular file",
			wantHint: "point --token-file at a regular file; credd does not read pipes or devices",
		},
		{
			name: "a symlink to a FIFO is refused too",
			setup: func(t *testing.T, path string) {
				nonfile.FIFO(t, path+".fifo")
				symlink(t, filepath.Base(path)+".fifo", path)
			},
			wantCode: "TokenFileUnreadable", wantKind: daemon.KindPermanent,
			wantMsg: "FIFO",
		},
		{
			name: "a device that never ends is refused, not read",
			setup: func(t *testing.T, path string) {
				nonfile.EndlessDevice(t, path)
			},
			wantCode: "TokenFileUnreadable", wantKind: daemon.KindPermanent,
			wantMsg:  "it is a character device, not a regular file",
			wantHint: "credd does not read pipes or devices",
		},
		{
			name: "a huge sparse file is refused by its size, unread",
			setup: func(t *testing.T, path string) {
				writeFile("a.b.c")(t, path)
				nonfile.Huge(t, path)
			},
			wantCode: "MalformedToken", wantKind: daemon.KindPermanent,
			wantMsg: "larger than 1048576 bytes",
		},
		{
			name: "a file without read permission is unreadable",
			setup: func(t *testing.T, path string) {
				if os.Getuid() == 0 {
					t.Skip("root reads any file")
				}
				writeFile("a.b.c")(t, path)
				if err := os.Chmod(path, 0); err != nil {
					t.Fatal(err)
				}
			},
			wantCode: "TokenFileUnreadable", wantKind: daemon.KindPermanent,
			wantHint: "make the file readable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			tt.setup(t, path)
			// Whatever the file is, Token answers long before this.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := source.NewFile(path, nil).Token(ctx)
			if ctx.Err() != nil {
				t.Fatalf("Token blocked until its deadline: %v", err)
			}
			if tt.wantCode == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Token = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			e := wantError(t, err, tt.wantCode, tt.wantKind)
			wantContains(t, "hint", e.Hint, tt.wantHint)
			if tt.wantMsg != "" {
				wantContains(t, "message", e.Message, path, tt.wantMsg)
			}
			if got != "" {
				t.Errorf("Token returned %q with an error", got)
			}
		})
	}
}

func TestFileTokenRereadsTheFileOnEveryCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	f := source.NewFile(path, nil)
	for _, want := range []string{"one.a.b", "two.a.b"} {
		writeFile(want+"\n")(t, path)
		if got, err := f.Token(context.Background()); err != nil || got != want {
			t.Fatalf("Token = %q, %v; want %q", got, err, want)
		}
	}
	if f.Name() != "file" {
		t.Errorf("Name = %q", f.Name())
	}
}

func TestFileWatchSeesEachWayATokenIsReplaced(t *testing.T) {
	tests := []struct {
		name string
		// setup writes the first token and returns the path to read.
		setup   func(t *testing.T, dir, tok string) string
		replace func(t *testing.T, dir, tok string)
	}{
		{
			name:  "an atomic rename over the file",
			setup: plainFile,
			replace: func(t *testing.T, dir, tok string) {
				tmp := filepath.Join(dir, ".token.tmp")
				writeFile(tok)(t, tmp)
				rename(t, tmp, filepath.Join(dir, "token"))
			},
		},
		{
			name: "the Kubernetes projected-volume ..data symlink swap",
			setup: func(t *testing.T, dir, tok string) string {
				mkdir(t, filepath.Join(dir, "..2025_01_01_00_00_00.1"))
				writeFile(tok)(t, filepath.Join(dir, "..2025_01_01_00_00_00.1", "token"))
				symlink(t, "..2025_01_01_00_00_00.1", filepath.Join(dir, "..data"))
				symlink(t, "..data/token", filepath.Join(dir, "token"))
				return filepath.Join(dir, "token")
			},
			replace: func(t *testing.T, dir, tok string) {
				// What kubelet's AtomicWriter does.
				mkdir(t, filepath.Join(dir, "..2025_01_01_01_00_00.2"))
				writeFile(tok)(t, filepath.Join(dir, "..2025_01_01_01_00_00.2", "token"))
				symlink(t, "..2025_01_01_01_00_00.2", filepath.Join(dir, "..data_tmp"))
				rename(t, filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data"))
				if err := os.RemoveAll(filepath.Join(dir, "..2025_01_01_00_00_00.1")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "a truncate then a write",
			setup: plainFile,
			replace: func(t *testing.T, dir, tok string) {
				fh, err := os.OpenFile(filepath.Join(dir, "token"), os.O_WRONLY|os.O_TRUNC, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				time.Sleep(10 * time.Millisecond) // a slow writer
				if _, err := fh.WriteString(tok + "\n"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "a delete then a re-create",
			setup: plainFile,
			replace: func(t *testing.T, dir, tok string) {
				if err := os.Remove(filepath.Join(dir, "token")); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
				writeFile(tok)(t, filepath.Join(dir, "token"))
			},
		},
	}
	for _, tt := range tests {
		t.Run("sees "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, second := validJWT(t, 1), validJWT(t, 2)
			f := source.NewFile(tt.setup(t, dir, first), nil)
			if got, err := f.Token(context.Background()); err != nil || got != first {
				t.Fatalf("first Token = %q, %v", got, err)
			}
			startWatch(t, f)
			// The change must arrive as events (a change made earlier is
			// caught when the watch starts, which
			// TestFileWatchWaitsForTheDirectoryToAppear covers).
			waitWatchState(t, f, source.Watching)
			tt.replace(t, dir, second)
			waitChanged(t, f, time.Second)
			if got, err := f.Token(context.Background()); err != nil || got != second {
				t.Fatalf("Token after change = %q, %v; want the second token", got, err)
			}
		})
	}
}

func TestFileTokenHonoursItsContext(t *testing.T) {
	path := plainFile(t, t.TempDir(), validJWT(t, 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := source.NewFile(path, nil).Token(ctx)
	e := wantError(t, err, "TokenFileUnreadable", daemon.KindRetryable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	wantContains(t, "message", e.Message, path)
}

// Regression (issue 13): a FIFO renamed over the token file wedged the
// watch in open(2), so Watch never returned and SIGTERM hung; the next
// Token call hung too.
func TestFileWatchSurvivesAFIFOSwappedIn(t *testing.T) {
	dir := t.TempDir()
	path := plainFile(t, dir, validJWT(t, 1))
	f := source.NewFile(path, nil)
	if _, err := f.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Watch(ctx) }()
	waitWatchState(t, f, source.Watching)

	nonfile.FIFO(t, filepath.Join(dir, ".fifo"))
	rename(t, filepath.Join(dir, ".fifo"), path)
	select {
	case <-f.Changed():
		t.Fatal("Changed fired for a FIFO")
	case <-time.After(300 * time.Millisecond): // past the watch's settle time
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := f.Token(tctx)
	blocked := tctx.Err() != nil
	tcancel()
	if blocked {
		t.Fatal("Token blocked on the FIFO")
	}
	e := wantError(t, err, "TokenFileUnreadable", daemon.KindPermanent)
	wantContains(t, "message", e.Message, path, "FIFO")

	// A regular file put back is seen, and served.
	want := validJWT(t, 2)
	writeFile(want)(t, filepath.Join(dir, ".tmp"))
	rename(t, filepath.Join(dir, ".tmp"), path)
	waitChanged(t, f, time.Second)
	if got, err := f.Token(context.Background()); err != nil || got != want {
		t.Fatalf("Token after the FIFO was replaced = %q, %v", got, err)
	}

	// And a FIFO again, just before the stop: Watch still returns at once.
	nonfile.FIFO(t, filepath.Join(dir, ".fifo"))
	rename(t, filepath.Join(dir, ".fifo"), path)
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not return after cancel with a FIFO as the token file")
	}
}

func TestFileWatchStartsAndStopsWithAFIFOInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	nonfile.FIFO(t, path)
	f := source.NewFile(path, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Watch(ctx) }()
	waitWatchState(t, f, source.Watching) // its first check read the FIFO
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not return")
	}
}

func TestFileWatchIgnoresWhatDoesNotChangeTheToken(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
	}{
		{"another file in the directory is written", func(t *testing.T, dir string) {
			for range 5 {
				writeFile("log line")(t, filepath.Join(dir, "other.log"))
			}
		}},
		{"the same token is written again", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "token"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(string(b))(t, filepath.Join(dir, "token"))
		}},
		{"the token file is emptied", func(t *testing.T, dir string) {
			writeFile("")(t, filepath.Join(dir, "token"))
		}},
	}
	for _, tt := range tests {
		t.Run("ignores that "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := source.NewFile(plainFile(t, dir, validJWT(t, 1)), nil)
			if _, err := f.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			startWatch(t, f)
			waitWatchState(t, f, source.Watching)
			tt.change(t, dir)
			select {
			case <-f.Changed():
				t.Fatal("Changed fired")
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

func TestFileWatchWaitsForTheDirectoryToAppear(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	f := source.NewFile(filepath.Join(dir, "token"), nil)
	_, err := f.Token(context.Background())
	e := wantError(t, err, "TokenFileMissing", daemon.KindNewToken)
	wantContains(t, "message", e.Message, "nor does its directory "+dir)
	startWatch(t, f)
	waitWatchState(t, f, source.Polling)
	mkdir(t, dir)
	want := validJWT(t, 1)
	writeFile(want)(t, filepath.Join(dir, "token"))
	waitChanged(t, f, 2*time.Second) // the watch is retried every second
	if got, err := f.Token(context.Background()); err != nil || got != want {
		t.Fatalf("Token = %q, %v", got, err)
	}
	waitWatchState(t, f, source.Watching)
}

// `docker run -v` makes a directory of a bind-mount source that does not
// exist yet; once someone puts the file in its place, credd serves.
func TestFileWatchSeesADirectoryReplacedByTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	mkdir(t, path)
	f := source.NewFile(path, nil)
	_, err := f.Token(context.Background())
	wantError(t, err, "TokenFileUnreadable", daemon.KindPermanent)
	startWatch(t, f)
	waitWatchState(t, f, source.Watching)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	want := validJWT(t, 1)
	writeFile(want)(t, path)
	waitChanged(t, f, time.Second)
	if got, err := f.Token(context.Background()); err != nil || got != want {
		t.Fatalf("Token = %q, %v", got, err)
	}
}

func TestFileWatchSurvivesTheDirectoryBeingReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	mkdir(t, dir)
	f := source.NewFile(plainFile(t, dir, validJWT(t, 1)), nil)
	if _, err := f.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	startWatch(t, f)
	waitWatchState(t, f, source.Watching)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitWatchState(t, f, source.Polling) // the watch saw the directory go
	mkdir(t, dir)
	want := validJWT(t, 2)
	writeFile(want)(t, filepath.Join(dir, "token"))
	waitChanged(t, f, 2*time.Second)
	if got, err := f.Token(context.Background()); err != nil || got != want {
		t.Fatalf("Token = %q, %v", got, err)
	}
}

func TestFileWatchReturnsNilWhenCancelled(t *testing.T) {
	for _, tt := range []struct {
		name  string
		state source.WatchState
	}{
		{"watching", source.Watching},
		{"polling for a missing directory", source.Polling},
	} {
		t.Run("while "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.state == source.Polling {
				dir = filepath.Join(dir, "missing")
			}
			f := source.NewFile(filepath.Join(dir, "token"), nil)
			if got, _ := f.WatchState(); got != source.NotWatching {
				t.Fatalf("WatchState before Watch = %v", got)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- f.Watch(ctx) }()
			waitWatchState(t, f, tt.state)
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Watch = %v", err)
				}
			case <-time.After(time.Second):
				t.Fatal("Watch did not return")
			}
			if got, _ := f.WatchState(); got != source.NotWatching {
				t.Errorf("WatchState after Watch returned = %v", got)
			}
		})
	}
}

// startWatch runs f.Watch until the test ends.
func startWatch(t *testing.T, f *source.File) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch = %v", err)
		}
	})
}

// waitWatchState waits until Watch follows f as want says.
func waitWatchState(t *testing.T, f *source.File, want source.WatchState) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		got, changed := f.WatchState()
		if got == want {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("WatchState = %v, want %v", got, want)
		}
	}
}

func waitChanged(t *testing.T, f *source.File, within time.Duration) {
	t.Helper()
	select {
	case <-f.Changed():
	case <-time.After(within):
		t.Fatalf("no Changed signal within %s", within)
	}
}

func plainFile(t *testing.T, dir, tok string) string {
	t.Helper()
	path := filepath.Join(dir, "token")
	writeFile(tok+"\n")(t, path)
	return path
}

func writeFile(content string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
