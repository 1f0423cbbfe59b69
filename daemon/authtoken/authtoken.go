// Package authtoken keeps the ECS endpoint's authorization token in the
// state dir, and owns how secret files there are written and checked.
package authtoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/credd-dev/credd/daemon/regularfile"
)

// FileName is the token file's name inside the state dir.
const FileName = "token"

// rawBytes is the token's entropy; encodedLen its length in base64url.
const (
	rawBytes   = 32
	encodedLen = 43 // base64.RawURLEncoding.EncodedLen(rawBytes)
)

// Valid reports whether token has the exact form credd writes: 43 characters
// of [A-Za-z0-9_-] (32 random bytes, base64url without padding). Anything
// else, a trailing newline included, is refused: several SDKs reject or
// mangle such a header (SDK-COMPAT.md rule 4).
func Valid(token string) bool {
	if len(token) != encodedLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Path returns the token file's path in stateDir.
func Path(stateDir string) string { return filepath.Join(stateDir, FileName) }

// LoadOrCreate returns the token in <stateDir>/token, creating stateDir
// (mode 0700) and a new token when needed. An existing token is reused when
// it is valid, a regular file owned by this user and readable by nobody
// else, so clients that read it once (old botocore, the AWS CLI v2) keep
// working across daemon restarts. Otherwise a new token replaces it
// atomically and created is true.
func LoadOrCreate(stateDir string) (token string, created bool, err error) {
	if err := PrepareDir(stateDir); err != nil {
		return "", false, err
	}
	path := Path(stateDir)
	if tok, ok := reusable(path); ok {
		return tok, false, nil
	}
	tok, err := generate()
	if err != nil {
		return "", false, err
	}
	if err := writeAtomic(stateDir, path, tok); err != nil {
		return "", false, err
	}
	return tok, true, nil
}

// New writes a new token to <stateDir>/token, replacing any earlier one,
// and returns it. The daemon calls it at every start but a supervised
// restart (LoadOrCreate): a token that outlives the daemon could have been
// captured while the daemon was down, by whoever bound its port then, and
// replayed later. The cost falls on processes that hold the old token:
// the SDKs that read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE re-read it per
// request, while a shell holding AWS_CONTAINER_AUTHORIZATION_TOKEN must
// read it again (the endpoint's 401 says so).
func New(stateDir string) (string, error) {
	if err := PrepareDir(stateDir); err != nil {
		return "", err
	}
	tok, err := generate()
	if err != nil {
		return "", err
	}
	if err := writeAtomic(stateDir, Path(stateDir), tok); err != nil {
		return "", err
	}
	return tok, nil
}

// Read returns the token the running daemon serves with, for `credd env`
// and the other clients. It checks the state dir as CheckDir does, then
// opens the token file without following a symlink and without blocking
// on a FIFO: it must be a regular file of the dir's owner (or root) that
// nobody else may read or write. The refusals are *TrustError.
func Read(ctx context.Context, stateDir string, t Trust) (string, error) {
	path := Path(stateDir)
	owner, err := CheckDir(stateDir, t)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no authorization token at %s: is the daemon running? start it with `credd daemon` (or pass the --state-dir it uses): %w", path, err)
	}
	if err != nil {
		return "", err
	}
	b, fi, err := regularfile.Read(ctx, path, regularfile.Options{Max: maxTokenFile, NoFollow: true})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("no authorization token at %s: is the daemon running? start it with `credd daemon` (or pass the --state-dir it uses): %w", path, err)
	case errors.Is(err, regularfile.ErrNotRegular):
		what := "a symbolic link" // with NoFollow, the only refusal without a FileInfo
		if fi != nil {
			what = regularfile.Kind(fi.Mode())
		}
		return "", untrusted("token file %s is %s, not a regular file, so it was not written by credd: refusing to read it; remove it and restart the daemon, which writes a new one", path, what)
	case errors.Is(err, regularfile.ErrTooLarge):
		// Checked below, once the owner is known to be fine.
	case err != nil:
		return "", fmt.Errorf("read authorization token: %w", err)
	}
	if err := CheckOwner("token file", path, fi, owner); err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", untrusted("token file %s can be read or written by others (mode %s): anyone may know this token; restart the daemon, which writes a new one with mode 0600", path, modeString(fi.Mode()))
	}
	tok := string(b)
	if err != nil || !Valid(tok) {
		return "", fmt.Errorf("%s does not hold a valid credd token (43 characters of [A-Za-z0-9_-], no newline): is the daemon running? start it with `credd daemon`, which rewrites it", path)
	}
	return tok, nil
}

// maxTokenFile is a little more than a token, so that a huge file put in
// its place cannot exhaust memory.
const maxTokenFile = 4 * encodedLen

// PrepareDir is the daemon's side of CheckDir: it creates stateDir with
// mode 0700 if it is missing, then checks it. The token and the control
// socket live there, so whoever can write to it can impersonate the
// daemon.
func PrepareDir(stateDir string) error {
	if stateDir == "" {
		return errors.New("no state dir given: pass --state-dir")
	}
	dir := filepath.Clean(stateDir)
	// Only the parents through MkdirAll: the final component is made here,
	// so that one an attacker made first is found by the check below.
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	made := true
	if err := os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		made = false
	} else if err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	if made {
		// Whatever the umask, the dir we made is ours alone.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
	}
	_, err := CheckDir(dir, Trust{})
	return err
}

// reusable reports whether path holds a token that may be served again.
func reusable(path string) (string, bool) {
	b, fi, err := regularfile.Read(context.Background(), path, regularfile.Options{Max: maxTokenFile, NoFollow: true})
	if err != nil || fi.Mode().Perm()&0o077 != 0 || !OwnedByMe(fi) || !Valid(string(b)) {
		return "", false
	}
	return string(b), true
}

func generate() (string, error) {
	b := make([]byte, rawBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate authorization token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeAtomic writes the token to path (see WriteSecretFile).
func writeAtomic(dir, path, tok string) error {
	if err := WriteSecretFile(dir, filepath.Base(path), []byte(tok)); err != nil {
		return fmt.Errorf("write authorization token: %w", err)
	}
	return nil
}

// WriteSecretFile writes data to dir/name, mode 0600, through a synced temp
// file in dir and a rename: a reader never sees a partial file, a crash
// leaves the old content or the new, and a symlink at the name is replaced
// rather than followed. Every secret the daemon keeps in the state dir
// (this token, a kept login, a handed-off environment) is written so.
func WriteSecretFile(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}

// OwnedByMe reports whether the file belongs to this process's user; where
// the owner cannot be told, it trusts the mode checks alone. The other
// files the daemon keeps in the state dir use it too.
func OwnedByMe(fi fs.FileInfo) bool {
	uid, ok := ownerOf(fi)
	return !ok || uid == os.Geteuid()
}
