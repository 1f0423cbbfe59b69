//go:build unix

package authtoken_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/internal/nonfile"
)

// otherUID owns what "another user" made in these tests; no account has it.
const otherUID = 64011

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
}

func mustChown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func TestCheckDir(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, dir string) string // returns the path to check
		trust     authtoken.Trust
		wantOwner int // -1: the caller
		wantErr   []string
		wantNoEnt bool
	}{
		{
			name:      "a private dir of the caller's is accepted",
			setup:     func(t *testing.T, dir string) string { return dir },
			wantOwner: -1,
		},
		{
			name: "a dir under a symlinked parent is accepted (macOS /tmp)",
			setup: func(t *testing.T, dir string) string {
				link := filepath.Join(t.TempDir(), "parent")
				if err := os.Symlink(filepath.Dir(dir), link); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(link, filepath.Base(dir))
			},
			wantOwner: -1,
		},
		{
			name: "a symlink to a private dir is refused, naming its target",
			setup: func(t *testing.T, dir string) string {
				link := filepath.Join(t.TempDir(), "credd-1002")
				if err := os.Symlink(dir, link); err != nil {
					t.Fatal(err)
				}
				return link
			},
			wantErr: []string{"credd-1002 is a symbolic link to <dir>", "rm ", "--state-dir"},
		},
		{
			name: "a symlink given with a trailing slash is refused too",
			setup: func(t *testing.T, dir string) string {
				link := filepath.Join(t.TempDir(), "link")
				if err := os.Symlink(dir, link); err != nil {
					t.Fatal(err)
				}
				return link + "/"
			},
			wantErr: []string{"is a symbolic link to"},
		},
		{
			name: "a group-writable dir is refused with a chmod hint",
			setup: func(t *testing.T, dir string) string {
				mustChmod(t, dir, 0o770)
				return dir
			},
			wantErr: []string{"group-writable (mode 0770", "chmod 0700"},
		},
		{
			name: "a sticky world-writable dir is shown as mode 1777",
			setup: func(t *testing.T, dir string) string {
				mustChmod(t, dir, 0o777|os.ModeSticky)
				return dir
			},
			wantErr: []string{"world-writable (mode 1777", "chmod 0700"},
		},
		{
			name: "a setgid group-writable dir is shown as mode 2770",
			setup: func(t *testing.T, dir string) string {
				mustChmod(t, dir, 0o770|os.ModeSetgid)
				return dir
			},
			wantErr: []string{"mode 2770"},
		},
		{
			name: "a file in place of the dir is refused",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "f")
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: []string{"is a regular file", "not a directory"},
		},
		{
			name:      "a missing dir is fs.ErrNotExist",
			setup:     func(t *testing.T, dir string) string { return filepath.Join(dir, "none") },
			wantNoEnt: true,
		},
		{
			name: "a dir of another user is refused, naming its owner",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				mustChmod(t, dir, 0o755)
				mustChown(t, dir, otherUID)
				return dir
			},
			wantErr: []string{"is owned by uid " + strconv.Itoa(otherUID) + " (mode 0755), not by you", "sudo rm -r", "--state-dir", "XDG_RUNTIME_DIR",
				"as root, credd uses another user's state dir only when it is named"},
		},
		{
			name: "root accepts another user's dir it was pointed at",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				mustChown(t, dir, otherUID)
				return dir
			},
			trust:     authtoken.Trust{Explicit: true},
			wantOwner: otherUID,
		},
		{
			name: "root still refuses another user's group-writable dir it was pointed at",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				mustChown(t, dir, otherUID)
				mustChmod(t, dir, 0o770)
				return dir
			},
			trust:   authtoken.Trust{Explicit: true},
			wantErr: []string{"group-writable (mode 0770, owner uid " + strconv.Itoa(otherUID)},
		},
		{
			name: "root still refuses a symlink it was pointed at",
			setup: func(t *testing.T, dir string) string {
				needRoot(t)
				link := filepath.Join(t.TempDir(), "link")
				if err := os.Symlink(dir, link); err != nil {
					t.Fatal(err)
				}
				mustChown(t, link, otherUID)
				return link
			},
			trust:   authtoken.Trust{Explicit: true},
			wantErr: []string{"is a symbolic link to", "made by uid " + strconv.Itoa(otherUID)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := tt.setup(t, dir)
			owner, err := authtoken.CheckDir(path, tt.trust)
			if tt.wantNoEnt {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("CheckDir = %v, want fs.ErrNotExist", err)
				}
				return
			}
			if tt.wantErr == nil {
				want := tt.wantOwner
				if want == -1 {
					want = os.Geteuid()
				}
				if err != nil || owner != want {
					t.Fatalf("CheckDir = %d, %v; want %d, nil", owner, err, want)
				}
				return
			}
			var te *authtoken.TrustError
			if !errors.As(err, &te) {
				t.Fatalf("CheckDir error = %v, want a *TrustError", err)
			}
			for _, want := range tt.wantErr {
				want = strings.ReplaceAll(want, "<dir>", dir)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), filepath.Clean(path)) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

func TestPrepareDirRefusesWhatAnotherMadeFirst(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr string
	}{
		{
			name: "a symlink to a dir of the caller's is not followed",
			setup: func(t *testing.T, path string) {
				if err := os.Symlink(t.TempDir(), path); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is a symbolic link to",
		},
		{
			name: "a dir of another user is refused",
			setup: func(t *testing.T, path string) {
				needRoot(t)
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
				mustChown(t, path, otherUID)
			},
			wantErr: "owned by uid " + strconv.Itoa(otherUID),
		},
		{
			name: "a group-writable dir is refused",
			setup: func(t *testing.T, path string) {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
				mustChmod(t, path, 0o770)
			},
			wantErr: "group-writable (mode 0770, owner",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "credd-1002")
			tt.setup(t, path)
			err := authtoken.PrepareDir(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("PrepareDir = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if _, err := authtoken.New(path); err == nil {
				t.Error("New wrote a token to the refused dir")
			}
		})
	}
}

func TestPrepareDirCreatesParentsAndAPrivateDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "state")
	if err := authtoken.PrepareDir(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir %v, %v; want a 0700 directory", fi, err)
	}
	if err := authtoken.PrepareDir(path); err != nil {
		t.Errorf("PrepareDir on its own dir again: %v", err)
	}
}

func TestReadRefusesAnUntrustedTokenFile(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		trust   authtoken.Trust
		want    string // the token, when accepted
		wantErr []string
	}{
		{
			name: "a symlink to a valid token is refused",
			setup: func(t *testing.T, dir string) {
				target := filepath.Join(t.TempDir(), "elsewhere")
				if err := os.WriteFile(target, []byte(goodToken), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(dir, authtoken.FileName)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"is a symbolic link, not a regular file", "restart the daemon"},
		},
		{
			name: "a FIFO is refused at once, without a writer",
			setup: func(t *testing.T, dir string) {
				nonfile.FIFO(t, filepath.Join(dir, authtoken.FileName))
			},
			wantErr: []string{"is a FIFO (named pipe), not a regular file"},
		},
		{
			name: "a token others can read is refused",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, goodToken, 0o644)
			},
			wantErr: []string{"can be read or written by others (mode 0644)", "restart the daemon"},
		},
		{
			name: "a token of another user is refused, naming its owner",
			setup: func(t *testing.T, dir string) {
				needRoot(t)
				writeFile(t, dir, goodToken, 0o600)
				mustChown(t, filepath.Join(dir, authtoken.FileName), otherUID)
			},
			wantErr: []string{"is owned by uid " + strconv.Itoa(otherUID) + ", not by you"},
		},
		{
			name: "a huge file is refused without reading it all",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, strings.Repeat("A", 1<<20), 0o600)
			},
			wantErr: []string{"does not hold a valid credd token"},
		},
		{
			name: "root reads the token of the user whose dir it was pointed at",
			setup: func(t *testing.T, dir string) {
				needRoot(t)
				writeFile(t, dir, goodToken, 0o600)
				mustChown(t, filepath.Join(dir, authtoken.FileName), otherUID)
				mustChown(t, dir, otherUID)
			},
			trust: authtoken.Trust{Explicit: true},
			want:  goodToken,
		},
		{
			name: "root refuses a third user's token in the dir it was pointed at",
			setup: func(t *testing.T, dir string) {
				needRoot(t)
				writeFile(t, dir, goodToken, 0o600)
				mustChown(t, filepath.Join(dir, authtoken.FileName), otherUID+1)
				mustChown(t, dir, otherUID)
			},
			trust:   authtoken.Trust{Explicit: true},
			wantErr: []string{"is owned by uid " + strconv.Itoa(otherUID+1) + ", not by uid " + strconv.Itoa(otherUID) + ", who owns the state dir"},
		},
		{
			name: "a dir of another user is refused before its token is read",
			setup: func(t *testing.T, dir string) {
				needRoot(t)
				writeFile(t, dir, goodToken, 0o644)
				mustChown(t, dir, otherUID)
			},
			wantErr: []string{"state dir", "is owned by uid " + strconv.Itoa(otherUID)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := authtoken.Read(ctx, dir, tt.trust)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if ctx.Err() != nil {
				t.Fatal("Read blocked until the deadline")
			}
			if err == nil {
				t.Fatalf("Read = %q, want an error", got)
			}
			for _, want := range append(tt.wantErr, dir) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), goodToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}
