package termsafe_test

import (
	"testing"

	"github.com/credd-dev/credd/daemon/termsafe"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"repo:acme/app:ref:refs/heads/main": "repo:acme/app:ref:refs/heads/main",
		"José Müller 東京 🚀":                  "José Müller 東京 🚀",
		"\x1b]8;;http://evil\x07click\x1b]8;;\x07": `\x1b]8;;http://evil\x07click\x1b]8;;\x07`,
		"\rOK":                           `\rOK`,
		"a\nb\tc":                        `a\nb\tc`,
		"\x1b[2J\x1b[31mred":             `\x1b[2J\x1b[31mred`,
		"\x00\x7f":                       `\x00\x7f`,
		"csi\u009b31m":                   `csi\u009b31m`,
		"admin\u202e\u2066txt.exe\u2069": `admin\u202e\u2066txt.exe\u2069`,
		"lrm\u200e rlm\u200f":            `lrm\u200e rlm\u200f`,
		"bad \xff\xfe utf8":              `bad \xff\xfe utf8`,
		`back\slash`:                     `back\slash`,
	} {
		if got := termsafe.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeDoesNotAllocateForPlainText(t *testing.T) {
	s := "arn:aws:iam::123456789012:role/dev"
	if n := testing.AllocsPerRun(100, func() { termsafe.Escape(s) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
