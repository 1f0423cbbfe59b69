package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/control"
)

func TestDefaultStateDir(t *testing.T) {
	home := t.TempDir()
	tmpFallback := filepath.Join(os.TempDir(), "credd-"+strconv.Itoa(os.Getuid()))
	long := filepath.Join(home, strings.Repeat("h", 80))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(home, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_RUNTIME_DIR comes first", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": home}, "/run/user/1000/credd"},
		{"else the cache dir under HOME", map[string]string{"HOME": home}, filepath.Join(home, ".cache", "credd")},
		{"XDG_CACHE_HOME before HOME", map[string]string{"HOME": home, "XDG_CACHE_HOME": "/c"}, "/c/credd"},
		{"a relative XDG_CACHE_HOME is ignored", map[string]string{"HOME": home, "XDG_CACHE_HOME": "c"}, filepath.Join(home, ".cache", "credd")},
		{"no HOME falls back to /tmp/credd-<uid>", map[string]string{}, tmpFallback},
		{"a relative HOME falls back", map[string]string{"HOME": "home"}, tmpFallback},
		{"a missing HOME falls back", map[string]string{"HOME": filepath.Join(home, "none")}, tmpFallback},
		{"a HOME that is a file falls back", map[string]string{"HOME": file}, tmpFallback},
		{"a HOME too long for the socket falls back", map[string]string{"HOME": long}, tmpFallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultStateDir(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("DefaultStateDir = %q, want %q", got, tt.want)
			}
			if !control.SocketPathFits(got) {
				t.Errorf("the control socket path in %s is too long for a unix socket", got)
			}
		})
	}
}

func TestStateDirPrefersTheFlagThenTheEnvironment(t *testing.T) {
	env := map[string]string{"XDG_RUNTIME_DIR": "/run/user/7", "CREDD_STATE_DIR": "/env"}
	getenv := func(k string) string { return env[k] }
	if got := StateDir("/flag", getenv); got != "/flag" {
		t.Errorf("StateDir with a flag = %q", got)
	}
	if got := StateDir("", getenv); got != "/env" {
		t.Errorf("StateDir with CREDD_STATE_DIR = %q", got)
	}
	delete(env, "CREDD_STATE_DIR")
	if got := StateDir("", getenv); got != "/run/user/7/credd" {
		t.Errorf("StateDir by default = %q", got)
	}
}
