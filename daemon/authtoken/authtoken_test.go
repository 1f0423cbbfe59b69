package authtoken_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/authtoken"
)

const goodToken = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_9"

func TestValid(t *testing.T) {
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"a generated-shape token is valid", goodToken, true},
		{"an empty token is invalid", "", false},
		{"a token with a trailing newline is invalid", goodToken + "\n", false},
		{"a token one character short is invalid", goodToken[1:], false},
		{"a token one character long is invalid", goodToken + "A", false},
		{"standard base64 characters are invalid", strings.Replace(goodToken, "-", "+", 1), false},
		{"a space is invalid", strings.Replace(goodToken, "a", " ", 1), false},
		{"a Bearer prefix is invalid", "Bearer " + goodToken[7:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authtoken.Valid(tt.token); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, dir string) // dir may not exist yet
		wantCreated bool
		wantToken   string // "" = any valid token
	}{
		{
			name:        "a missing state dir is created with a new token",
			setup:       func(t *testing.T, dir string) {},
			wantCreated: true,
		},
		{
			name: "a valid private token is reused",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, goodToken, 0o600)
			},
			wantToken: goodToken,
		},
		{
			name: "a token with a trailing newline is replaced",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, goodToken+"\n", 0o600)
			},
			wantCreated: true,
		},
		{
			name: "a garbage token is replaced",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "not a token", 0o600)
			},
			wantCreated: true,
		},
		{
			name: "a token that others could read is replaced",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, goodToken, 0o644)
			},
			wantCreated: true,
		},
		{
			name: "an empty token file is replaced",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "", 0o600)
			},
			wantCreated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			tt.setup(t, dir)

			tok, created, err := authtoken.LoadOrCreate(dir)
			if err != nil {
				t.Fatalf("LoadOrCreate: %v", err)
			}
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if tt.wantToken != "" && tok != tt.wantToken {
				t.Errorf("token = %q, want %q", tok, tt.wantToken)
			}
			if tt.wantCreated && tok == goodToken {
				t.Errorf("token was not replaced")
			}
			assertTokenFile(t, dir, tok)

			again, created, err := authtoken.LoadOrCreate(dir)
			if err != nil || created || again != tok {
				t.Errorf("second LoadOrCreate = %q, %v, %v; want the same token, reused", again, created, err)
			}
		})
	}
}

func TestLoadOrCreateReplacesASymlinkWithoutTouchingItsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte(goodToken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, authtoken.FileName)); err != nil {
		t.Fatal(err)
	}
	tok, created, err := authtoken.LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = %q, %v, %v; want a new token", tok, created, err)
	}
	assertTokenFile(t, dir, tok)
	if b, _ := os.ReadFile(target); string(b) != goodToken {
		t.Errorf("symlink target changed to %q", b)
	}
}

func TestLoadOrCreateRefusesAnUnsafeStateDir(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr []string
	}{
		{
			name: "a world-writable dir is refused with a chmod hint",
			setup: func(t *testing.T, dir string) {
				mustChmod(t, dir, 0o777)
			},
			wantErr: []string{"world-writable", "chmod 0700"},
		},
		{
			name: "a sticky world-writable dir like /tmp is refused too",
			setup: func(t *testing.T, dir string) {
				mustChmod(t, dir, 0o777|os.ModeSticky)
			},
			wantErr: []string{"world-writable"},
		},
		{
			name: "a dir owned by another user is refused with a chown hint",
			setup: func(t *testing.T, dir string) {
				if os.Geteuid() != 0 {
					t.Skip("needs root to give a dir to another user")
				}
				if err := os.Chown(dir, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"owned by uid 65534", "not by you", "--state-dir"},
		},
		{
			name: "a file in place of the dir is refused",
			setup: func(t *testing.T, dir string) {
				if err := os.Remove(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: []string{"not a directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			_, _, err := authtoken.LoadOrCreate(dir)
			if err == nil {
				t.Fatal("LoadOrCreate succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(dir, authtoken.FileName)); err == nil {
				t.Error("a token was written to the refused dir")
			}
		})
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name      string
		content   *string // nil = no file
		want      string
		wantErr   string
		wantNoEnt bool
	}{
		{name: "a valid token is returned", content: ptr(goodToken), want: goodToken},
		{name: "a missing token says to start the daemon", wantErr: "is the daemon running? start it with `credd daemon`", wantNoEnt: true},
		{name: "a token with a newline is refused", content: ptr(goodToken + "\n"), wantErr: "does not hold a valid credd token"},
		{name: "an empty file is refused", content: ptr(""), wantErr: "start it with `credd daemon`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != nil {
				writeFile(t, dir, *tt.content, 0o600)
			}
			got, err := authtoken.Read(context.Background(), dir, authtoken.Trust{})
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Read error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), goodToken) {
				t.Errorf("error leaks the token: %v", err)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.wantNoEnt {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.wantNoEnt)
			}
		})
	}
}

func TestReadReturnsWhatLoadOrCreateWrote(t *testing.T) {
	dir := t.TempDir()
	tok, _, err := authtoken.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := authtoken.Read(context.Background(), dir, authtoken.Trust{})
	if err != nil || got != tok {
		t.Fatalf("Read = %q, %v; want %q", got, err, tok)
	}
}

func TestNewTokensDiffer(t *testing.T) {
	a, _, err := authtoken.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := authtoken.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two new tokens are equal: %q", a)
	}
}

func assertTokenFile(t *testing.T, dir, tok string) {
	t.Helper()
	if !authtoken.Valid(tok) {
		t.Errorf("token %q is not valid", tok)
	}
	path := filepath.Join(dir, authtoken.FileName)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, want a regular file with -rw-------", fi.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != tok {
		t.Errorf("token file holds %q, want %q (no trailing newline)", b, tok)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestLoadOrCreateMakesTheStateDirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	if _, _, err := authtoken.LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode = %v, want drwx------", fi.Mode())
	}
}

func writeFile(t *testing.T, dir, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, authtoken.FileName)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, path, mode)
}

func mustChmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }
