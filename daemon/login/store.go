package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/regularfile"
)

// Store keeps a session's refresh token across daemon restarts, so that a
// login survives a container stop. A Session calls it from one goroutine
// at a time.
type Store interface {
	// Load returns the kept refresh token, or "" and nil when none is kept.
	// An error means something is kept that must not be used; the session
	// logs it and goes on as if nothing were kept.
	Load() (string, error)
	// Save keeps refreshToken, replacing what was kept. A GitHub login
	// may instead hand it a token that never expires, in a form that
	// NewGitHubFileStore's store recognises.
	Save(refreshToken string) error
	// Erase forgets the kept token; nothing kept is not an error.
	Erase() error
}

// maxKeptFile bounds what Load reads: a refresh token is a few KB at most,
// so a huge file put in its place cannot exhaust memory.
const maxKeptFile = 64 << 10

// loadTimeout bounds Load's read, should the state dir's file system hang.
const loadTimeout = 5 * time.Second

// FileStore keeps one login's refresh token in
// <state-dir>/login-<16 hex of sha256(issuer NUL client ID)>.json, mode
// 0600: the name tells logins apart without showing the issuer, and the
// file says which login it belongs to, which Load checks. A GitHub login's
// store (NewGitHubFileStore) has a name and content of its own.
type FileStore struct {
	dir, path        string
	issuer, clientID string
	github           bool
	now              func() time.Time
}

// keptFile is the file's content. RefreshToken and AccessToken are
// secrets: the file is written 0600 and its content never logged.
type keptFile struct {
	Issuer       string `json:"issuer"`
	ClientID     string `json:"clientId"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// Provider is ProviderGitHub in a GitHub login's file.
	Provider string `json:"provider,omitempty"`
	// AccessToken is a GitHub token that never expires, kept instead of
	// a refresh token, which such a token comes without.
	AccessToken string    `json:"accessToken,omitempty"`
	SavedAt     time.Time `json:"savedAt"`
}

// NewFileStore returns the store of the login to issuer as clientID in
// stateDir (which the daemon has already created and checked).
func NewFileStore(stateDir, issuer, clientID string) *FileStore {
	return &FileStore{
		dir:      stateDir,
		path:     filepath.Join(stateDir, KeptFileName(issuer, clientID)),
		issuer:   issuer,
		clientID: clientID,
		now:      time.Now,
	}
}

// NewGitHubFileStore returns the store of the GitHub login (Options.GitHub)
// to githubURL ("" = DefaultGitHubURL) as clientID in stateDir.
func NewGitHubFileStore(stateDir, githubURL, clientID string) *FileStore {
	githubURL = NormalizeGitHubURL(githubURL)
	return &FileStore{
		dir:      stateDir,
		path:     filepath.Join(stateDir, GitHubKeptFileName(githubURL, clientID)),
		issuer:   githubURL,
		clientID: clientID,
		github:   true,
		now:      time.Now,
	}
}

// KeptFileName is the name of the file that keeps the login to issuer as
// clientID.
func KeptFileName(issuer, clientID string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + clientID))
	return "login-" + hex.EncodeToString(sum[:8]) + ".json"
}

// GitHubKeptFileName is the name of the file that keeps the GitHub login to
// githubURL (normalized, see NormalizeGitHubURL) as clientID; it differs
// from any OIDC login's.
func GitHubKeptFileName(githubURL, clientID string) string {
	sum := sha256.Sum256([]byte(githubURL + "\x00" + clientID))
	return "login-github-" + hex.EncodeToString(sum[:8]) + ".json"
}

// Path is the file's path.
func (f *FileStore) Path() string { return f.path }

// Load reads the kept token, refusing a file another user could have read
// or written, and one kept for another issuer or client. It reads through
// regularfile, so a FIFO or a device put there cannot block the daemon and
// a huge file cannot fill its memory.
func (f *FileStore) Load() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	data, fi, err := regularfile.Read(ctx, f.path, regularfile.Options{Max: maxKeptFile, NoFollow: true})
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if errors.Is(err, regularfile.ErrNotRegular) {
		what := "not a regular file"
		if fi != nil {
			what = regularfile.Kind(fi.Mode())
		}
		return "", fmt.Errorf("the kept login %s is not used: it is %s, not a regular file: remove it and run `credd login`", f.path, what)
	}
	if fi != nil {
		if err := safeFile(fi); err != nil {
			return "", fmt.Errorf("the kept login %s is not used: %w", f.path, err)
		}
	}
	if errors.Is(err, regularfile.ErrTooLarge) {
		return "", fmt.Errorf("the kept login %s is not used: it is larger than %d bytes; a new `credd login` replaces it", f.path, maxKeptFile)
	}
	if err != nil {
		return "", fmt.Errorf("read the kept login %s: %w", f.path, err)
	}
	var k keptFile
	if err := json.Unmarshal(data, &k); err != nil {
		// The error could quote the file, so it is not passed on.
		return "", fmt.Errorf("the kept login %s is not used: it is not a credd login file; a new `credd login` replaces it", f.path)
	}
	if k.Issuer != f.issuer || k.ClientID != f.clientID {
		return "", fmt.Errorf("the kept login %s is not used: it belongs to issuer %q, client %q; a new `credd login` replaces it", f.path, k.Issuer, k.ClientID)
	}
	if f.github {
		return f.loadGitHub(k)
	}
	if k.Provider != "" || k.AccessToken != "" {
		return "", fmt.Errorf("the kept login %s is not used: it is not an OIDC login; a new `credd login` replaces it", f.path)
	}
	if k.RefreshToken == "" {
		return "", fmt.Errorf("the kept login %s is not used: it holds no refresh token; a new `credd login` replaces it", f.path)
	}
	return k.RefreshToken, nil
}

// loadGitHub returns the refresh token of a GitHub login's file, or its
// access token marked by keepGitHubToken.
func (f *FileStore) loadGitHub(k keptFile) (string, error) {
	switch {
	case k.Provider != ProviderGitHub:
		return "", fmt.Errorf("the kept login %s is not used: it is not a GitHub login; a new `credd login` replaces it", f.path)
	case (k.RefreshToken == "") == (k.AccessToken == ""):
		return "", fmt.Errorf("the kept login %s is not used: it must hold either a refresh token or an access token; a new `credd login` replaces it", f.path)
	case k.AccessToken != "":
		return keepGitHubToken(k.AccessToken), nil
	}
	return k.RefreshToken, nil
}

// safeFile refuses what is not a regular file of ours that only we can
// read: a refresh token others could read is a login others could use.
func safeFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("it is not a regular file (mode %s): remove it and run `credd login`", fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("others could read or change it (mode %04o): remove it, revoke the session at the IdP if others may have read it, and run `credd login`", perm)
	}
	if !authtoken.OwnedByMe(fi) {
		return fmt.Errorf("it is owned by another user, not by you (uid %d): remove it and run `credd login`", os.Geteuid())
	}
	return nil
}

// Save writes the token with authtoken.WriteSecretFile (0600, synced, then
// renamed over the file): a crash leaves the old token or the new one, never
// half of one, and a symlink at the path is replaced, not followed.
func (f *FileStore) Save(refreshToken string) error {
	k := keptFile{Issuer: f.issuer, ClientID: f.clientID, RefreshToken: refreshToken, SavedAt: f.now().UTC()}
	if f.github {
		k.Provider = ProviderGitHub
		if token, ok := keptGitHubToken(refreshToken); ok {
			k.RefreshToken, k.AccessToken = "", token
		}
	}
	data, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("keep the login: %w", err)
	}
	if err := authtoken.WriteSecretFile(f.dir, filepath.Base(f.path), data); err != nil {
		return fmt.Errorf("keep the login in %s: %w", f.path, err)
	}
	return nil
}

// Erase removes the file.
func (f *FileStore) Erase() error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("erase the kept login %s: %w (remove it yourself)", f.path, err)
	}
	return nil
}
