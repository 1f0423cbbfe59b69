package cli

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/credd-dev/credd/daemon/internal/nonfile"
	"github.com/credd-dev/credd/daemon/regularfile"
)

// credd status reads ~/.aws/config and credd doctor a trust policy: a FIFO
// or a device there must give an error at once, as in the daemon, and a
// missing file stays "not there" for envcheck.
func TestReadUserFileRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo, device := filepath.Join(dir, "config"), filepath.Join(dir, "policy.json")
	nonfile.FIFO(t, fifo)
	nonfile.EndlessDevice(t, device)
	for _, path := range []string{fifo, device} {
		if _, err := readUserFile(path); !errors.Is(err, regularfile.ErrNotRegular) {
			t.Errorf("readUserFile(%s) = %v, want ErrNotRegular", path, err)
		}
	}
	if _, err := readUserFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}
