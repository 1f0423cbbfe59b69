package server_test

import (
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/server"
)

func TestCheckRoleName(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		role    string
		wantErr string // "" = allowed
	}{
		{"a plain name is allowed", "admin", ""},
		{"digits, dots, dashes and underscores are allowed", "0prod.eu-west_1", ""},
		{"64 characters are allowed", long, ""},
		{"65 characters are not", long + "a", "1 to 64"},
		{"an empty name is not allowed", "", "not allowed"},
		{"a leading dot is not allowed", ".hidden", "starting with a letter or digit"},
		{"a slash is not allowed, as it would split the path", "a/b", "not allowed"},
		{"a space is not allowed", "a b", "not allowed"},
		{"a non-ASCII letter is not allowed", "rôle", "not allowed"},
		{"the default role's name is taken", server.DefaultRoleName, "default role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := server.CheckRoleName(tt.role)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckRoleName(%q) = %v, want nil", tt.role, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckRoleName(%q) = %v, want an error containing %q", tt.role, err, tt.wantErr)
			}
		})
	}
}

func TestRolePath(t *testing.T) {
	tests := []struct {
		name, role, want string
	}{
		{"the unnamed role is the default one", "", "/v1/credentials"},
		{"the default role is served on the bare path", server.DefaultRoleName, "/v1/credentials"},
		{"a named role is served on its own segment", "admin", "/v1/credentials/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := server.RolePath(tt.role); got != tt.want {
				t.Errorf("RolePath(%q) = %q, want %q", tt.role, got, tt.want)
			}
		})
	}
}
