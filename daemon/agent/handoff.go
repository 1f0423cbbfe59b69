package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/regularfile"
)

// HandOffFile keeps, in the state dir, the session environment the last
// `credd reload --from-env` handed over. A daemon that restarts (killed,
// crashed, or the container stopped and started) starts from it, so it
// does not fall back to the container's settings, or to no role at all,
// until the next lifecycle hook runs. It may hold GITHUB_TOKEN or the
// Actions request token, which the session already has in its environment:
// it is written 0600 in the 0700 state dir, like the kept login.
const HandOffFile = "session.json"

// maxHandOffFile bounds what LoadHandOff reads.
const maxHandOffFile = 256 << 10

// loadHandOffTimeout bounds LoadHandOff's read, should the state dir hang.
const loadHandOffTimeout = 5 * time.Second

// SaveHandOff writes the handed-off environment, 0600 and atomically.
func SaveHandOff(stateDir string, env map[string]string) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if err := authtoken.WriteSecretFile(stateDir, HandOffFile, data); err != nil {
		return fmt.Errorf("keep the handed-off environment: %w", err)
	}
	return nil
}

// LoadHandOff reads what SaveHandOff wrote: nil and no error when there is
// none. A file others could read or write is refused (it could hand the
// daemon another role), and only allow-listed variables are taken. The
// file is read through regularfile, so a FIFO or a device in its place
// cannot block the start and a huge file cannot fill memory.
func LoadHandOff(stateDir string) (map[string]string, error) {
	path := filepath.Join(stateDir, HandOffFile)
	ctx, cancel := context.WithTimeout(context.Background(), loadHandOffTimeout)
	defer cancel()
	data, fi, err := regularfile.Read(ctx, path, regularfile.Options{Max: maxHandOffFile, NoFollow: true})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	// What was opened is judged before its size: the fix differs.
	if errors.Is(err, regularfile.ErrNotRegular) || (fi != nil && (fi.Mode().Perm()&0o077 != 0 || !authtoken.OwnedByMe(fi))) {
		return nil, fmt.Errorf("the kept session environment %s is not used: it must be a regular file of yours, mode 0600; remove it and run `credd reload --from-env`", path)
	}
	if errors.Is(err, regularfile.ErrTooLarge) {
		return nil, fmt.Errorf("the kept session environment %s is not used: it is larger than %d bytes; remove it and run `credd reload --from-env`", path, maxHandOffFile)
	}
	if err != nil {
		return nil, fmt.Errorf("the kept session environment %s: %w", path, err)
	}
	var env map[string]string
	if err := json.Unmarshal(data, &env); err != nil {
		// The error could quote the file's secrets, so it is not passed on.
		return nil, fmt.Errorf("the kept session environment %s is not used: it is not what credd wrote; remove it and run `credd reload --from-env`", path)
	}
	return config.FilterHandOff(env), nil
}
