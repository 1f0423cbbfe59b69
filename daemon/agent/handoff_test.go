package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/internal/nonfile"
)

func TestLoadHandOff(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    map[string]string
		wantErr string
	}{
		{"none kept", func(*testing.T, string) {}, nil, ""},
		{"what SaveHandOff wrote, allow-listed", func(t *testing.T, path string) {
			if err := SaveHandOff(filepath.Dir(path), map[string]string{"AWS_REGION": "eu-west-1", "LD_PRELOAD": "/x.so"}); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"AWS_REGION": "eu-west-1"}, ""},
		{"a group-readable file", func(t *testing.T, path string) {
			writeHandOffFile(t, path, `{"AWS_REGION":"eu-west-1"}`, 0o640)
		}, nil, "mode 0600"},
		{"a FIFO with no writer, refused at once", func(t *testing.T, path string) {
			nonfile.FIFO(t, path)
		}, nil, "must be a regular file"},
		{"a symlink to a device", func(t *testing.T, path string) {
			nonfile.EndlessDevice(t, path)
		}, nil, "must be a regular file"},
		{"a huge sparse file", func(t *testing.T, path string) {
			writeHandOffFile(t, path, "{}", 0o600)
			nonfile.Huge(t, path)
		}, nil, "larger than 262144 bytes"},
		{"not JSON", func(t *testing.T, path string) {
			writeHandOffFile(t, path, "GITHUB_TOKEN=secret", 0o600)
		}, nil, "not what credd wrote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, filepath.Join(dir, HandOffFile))
			start := time.Now()
			got, err := LoadHandOff(dir)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("LoadHandOff took %v", took)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("LoadHandOff = %v, %v; want an error mentioning %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error quotes the file: %v", err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("LoadHandOff = %v, %v; want %v", got, err, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func writeHandOffFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}
