// Package authtoken keeps the ECS endpoint's authorization token in the
// state dir, and owns how secret files there are written and checked.
package authtoken

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// Read returns the token the running daemon serves with, for `credd env`.
func Read(stateDir string) (string, error) {
	path := Path(stateDir)
	b, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no authorization token at %s: is the daemon running? start it with `credd daemon` (or pass the --state-dir it uses): %w", path, err)
	}
	if err != nil {
		return "", fmt.Errorf("read authorization token: %w", err)
	}
	tok := string(b)
	if !Valid(tok) {
		return "", fmt.Errorf("%s does not hold a valid credd token (43 characters of [A-Za-z0-9_-], no newline): is the daemon running? start it with `credd daemon`, which rewrites it", path)
	}
	return tok, nil
}

// PrepareDir creates stateDir with mode 0700 if it is missing, and refuses
// one that another user could tamper with: world-writable, or owned by
// someone else. The token and the control socket live there, so whoever can
// write to it can impersonate the daemon.
func PrepareDir(stateDir string) error {
	if stateDir == "" {
		return errors.New("no state dir given: pass --state-dir")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	fi, err := os.Stat(stateDir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state dir %s is not a directory: pass a --state-dir that is one, or remove the file", stateDir)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("state dir %s is world-writable (mode %04o), so another user could replace the token or the control socket: run `chmod 0700 %s` or pass a private --state-dir", stateDir, fi.Mode().Perm(), stateDir)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("state dir %s is owned by uid %d, not by you (uid %d): run `chown %d %s` as its owner or pass a --state-dir of your own", stateDir, uid, os.Geteuid(), os.Geteuid(), stateDir)
	}
	return nil
}

// reusable reports whether path holds a token that may be served again.
func reusable(path string) (string, bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return "", false
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return "", false
	}
	b, err := readSmall(path)
	if err != nil || !Valid(string(b)) {
		return "", false
	}
	return string(b), true
}

// readSmall reads at most a little more than a token, so a huge file put in
// its place cannot exhaust memory.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4*encodedLen))
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
