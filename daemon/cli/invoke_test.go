package cli

import (
	"strings"
	"testing"
)

func TestHintsNameCreddAsTheUserCanRunIt(t *testing.T) {
	tests := []struct {
		name   string
		exe    string
		onPath bool
		want   string
	}{
		{"a go run build", "/tmp/go-build928158678/b001/exe/credd", false, "go run ./cmd/credd"},
		{"a go run build while another credd is installed", "/tmp/go-build1/b001/exe/credd", true, "go run ./cmd/credd"},
		{"a build cached by the go command", "/home/u/.cache/go-build/ab/abcdef-d/credd", false, "go run ./cmd/credd"},
		{"the credd that PATH finds", "/usr/local/bin/credd", true, "credd"},
		{"a binary PATH does not find", "/home/u/src/credd/credd", false, "/home/u/src/credd/credd"},
		{"a path the shell would split", "/home/u/my tools/credd", false, `'/home/u/my tools/credd'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commandFor(tt.exe, tt.onPath); got != tt.want {
				t.Errorf("commandFor(%q, %v) = %q, want %q", tt.exe, tt.onPath, got, tt.want)
			}
		})
	}
}

func TestTheDemoHintRunsAsPrinted(t *testing.T) {
	got := servingLines("go run ./cmd/credd", "/tmp/credd-demo-1")
	for _, want := range []string{"Try: go run ./cmd/credd status --state-dir /tmp/credd-demo-1\n", "go install ./cmd/credd", "$(go env GOPATH)/bin"} {
		if !strings.Contains(got, want) {
			t.Errorf("hint lacks %q:\n%s", want, got)
		}
	}
	got = servingLines("credd", "/tmp/credd demo")
	if want := "Try: credd status --state-dir '/tmp/credd demo'\n"; !strings.HasSuffix(got, want) || strings.Contains(got, "go install") {
		t.Errorf("hint = %q, want it to end %q and say nothing of go install", got, want)
	}
}
