package authtoken

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/credd-dev/credd/daemon/regularfile"
)

// Trust is whose state dir a client accepts. The zero value accepts only a
// dir of the caller's own; the daemon always uses it.
//
// Root is the one exception: with Explicit set, a client running as root
// accepts a state dir owned by another user, as in `sudo credd status
// --state-dir /run/user/1000/credd` in a devcontainer whose daemon runs as
// the remote user. The token file and the daemon answering on the control
// socket must then belong to that same user (or root). Set Explicit only
// for a dir the user named (--state-dir, CREDD_STATE_DIR), never for the
// computed default: anyone can create /tmp/credd-0 before root does.
type Trust struct {
	Explicit bool
}

// TrustError refuses a state dir, a file in it or a daemon that another
// user could control. Its message names the path, what was found and what
// to do, and is meant to reach the user as it is.
type TrustError struct{ Msg string }

func (e *TrustError) Error() string { return e.Msg }

func untrusted(format string, args ...any) error {
	return &TrustError{Msg: fmt.Sprintf(format, args...)}
}

// CheckDir checks that stateDir may be trusted with the token and the
// control socket, for the daemon and every client alike, and returns its
// owner's uid: the token file and the daemon must belong to that user (or
// root). The dir itself is looked at with Lstat, so a symlink there is
// refused (a symlink among its parents, such as macOS's /tmp, is fine); it
// must be a directory owned by the caller (see Trust) that neither its
// group nor others may write to. A missing dir is an error wrapping
// fs.ErrNotExist; the refusals are *TrustError.
func CheckDir(stateDir string, t Trust) (owner int, err error) {
	if stateDir == "" {
		return 0, errors.New("no state dir given: pass --state-dir")
	}
	dir := filepath.Clean(stateDir) // a trailing slash would make Lstat follow a link
	fi, err := os.Lstat(dir)
	if err != nil {
		return 0, fmt.Errorf("state dir: %w", err)
	}
	me := os.Geteuid()
	uid, known := ownerOf(fi)
	if !known {
		uid = me // the mode checks still apply
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(dir)
		if err != nil {
			target = "(unreadable: " + err.Error() + ")"
		}
		return 0, untrusted("state dir %s is a symbolic link to %s, made by %s: credd does not follow it, since whoever made the link chooses where it points. Remove the link (`rm %s`; in /tmp only its owner or root can), or pass the real directory with --state-dir", dir, target, UserName(uid), dir)
	}
	if !fi.IsDir() {
		return 0, untrusted("state dir %s is %s (owner %s), not a directory: remove it, or pass another --state-dir (or set XDG_RUNTIME_DIR)", dir, regularfile.Kind(fi.Mode()), UserName(uid))
	}
	if uid != me && (me != 0 || !t.Explicit) {
		rootNote := ""
		if me == 0 {
			rootNote = " (as root, credd uses another user's state dir only when it is named with --state-dir or CREDD_STATE_DIR)"
		}
		return 0, untrusted("state dir %s is owned by %s (mode %s), not by you%s: another user may have made it to feed you false credentials, so credd will not use it. Have its owner or root remove it (`sudo rm -r %s`), or use a directory of your own: pass --state-dir, or set XDG_RUNTIME_DIR", dir, UserName(uid), modeString(fi.Mode()), rootNote, dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		how := "group-writable"
		if perm&0o002 != 0 {
			how = "world-writable"
		}
		return 0, untrusted("state dir %s is %s (mode %s, owner %s), so another user could replace the token or the control socket: run `chmod 0700 %s`, or pass a private --state-dir", dir, how, modeString(fi.Mode()), UserName(uid), dir)
	}
	return uid, nil
}

// CheckOwner refuses a file in the state dir (described by what, e.g.
// "control socket") that belongs neither to owner, the state dir's owner
// that CheckDir returned, nor to root.
func CheckOwner(what, path string, fi fs.FileInfo, owner int) error {
	uid, ok := ownerOf(fi)
	if !ok || uid == owner || uid == 0 {
		return nil
	}
	whose := "you"
	if owner != os.Geteuid() {
		whose = UserName(owner) + ", who owns the state dir"
	}
	return untrusted("%s %s is owned by %s, not by %s: another user put it there, so credd will not trust it. Remove it (as root if need be) and restart the daemon", what, path, UserName(uid), whose)
}

// UserName names a uid for a message: "uid 1001 (alice)", or "uid 1001"
// when no account has it.
func UserName(uid int) string {
	s := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		s += " (" + u.Username + ")"
	}
	return s
}

// modeString is the permission bits in octal with the setuid, setgid and
// sticky bits, as chmod takes them: "1777", not Go's "dtrwxrwxrwx".
func modeString(m fs.FileMode) string {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return fmt.Sprintf("%04o", p)
}
