// Package termsafe makes text that credd did not write safe to print on a
// terminal: a token's claims, an error message, a setting's value. Control
// characters (C0, DEL, C1), invalid UTF-8 and bidirectional overrides are
// shown as escapes (\x1b, \r, \u202e) instead of being interpreted, so a
// value can neither move the cursor, set a hyperlink or a window title,
// rewrite the line it is on, nor reorder what follows it.
package termsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every character a terminal would act on, rather
// than show, written as an escape. Printable text, including non-ASCII
// letters, is left as it is. Escape the values, not output holding
// credd's own colour codes.
func Escape(s string) string {
	i := 0
	for i < len(s) && ' ' <= s[i] && s[i] < 0x7f {
		i++ // the common case: printable ASCII, returned as it is
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case actedOn(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Strings is Escape on each of ss, for a list joined afterwards.
func Strings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Escape(s)
	}
	return out
}

// actedOn reports the non-ASCII characters a terminal acts on: C1 controls
// (U+009B is CSI on terminals that take 8-bit controls) and the invisible
// bidirectional formatting characters that reorder text (Trojan Source,
// CVE-2021-42574), with the line and paragraph separators.
func actedOn(r rune) bool {
	switch {
	case 0x80 <= r && r <= 0x9f:
		return true
	case 0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c, r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
