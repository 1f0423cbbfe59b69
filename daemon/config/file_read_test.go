package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/internal/nonfile"
)

// A config or defaults file that is not a regular file, or is huge, is
// refused at once with an error that says what it is: reading a FIFO would
// block the start (or a SIGHUP reload) until someone wrote to it.
func TestConfigFilesThatAreNotRegularFilesAreRefusedAtOnce(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{"a FIFO with no writer", func(t *testing.T, path string) {
			nonfile.FIFO(t, path)
		}, "is a FIFO (named pipe), not a regular file"},
		{"a symlink to a device", func(t *testing.T, path string) {
			nonfile.EndlessDevice(t, path)
		}, "is a character device, not a regular file"},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is a directory, not a regular file"},
		{"a huge sparse file", func(t *testing.T, path string) {
			nonfile.Huge(t, path)
		}, "is larger than 1048576 bytes"},
	}
	for _, flag := range []string{"--config", "--defaults-file"} {
		for _, tt := range tests {
			t.Run(flag+" "+tt.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "credd.toml")
				tt.prepare(t, path)
				start := time.Now()
				_, err := resolve(t, []string{flag, path, "--token-source", "sandbox"}, nil)
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("resolve took %v", took)
				}
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, path, tt.want)
				}
			})
		}
	}
}

func TestAConfigFileBehindASymlinkIsRead(t *testing.T) {
	target := writeFile(t, "real.toml", `region = "eu-west-1"`)
	link := filepath.Join(t.TempDir(), "credd.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	cfg, err := resolve(t, []string{"--config", link, "--token-source", "sandbox"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Roles) == 0 || cfg.Roles[0].Region != "eu-west-1" {
		t.Fatalf("roles = %+v, want region eu-west-1 from the linked file", cfg.Roles)
	}
}
