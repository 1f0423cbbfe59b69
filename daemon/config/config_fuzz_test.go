package config

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseFile feeds arbitrary text to the config-file parser: it never
// panics, every error names the file, and what it accepts holds only known
// keys.
func FuzzParseFile(f *testing.F) {
	f.Add("listen = \"127.0.0.1:9911\"\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::123456789012:role/dev\"\n\n[roles.prod-readonly]\nrole_arn = \"arn:aws:iam::210987654321:role/readonly\"\nduration = \"2h\"\n")
	f.Add("token_source = \"file\"\ntoken_file = \"/var/run/secrets/token\"\n")
	f.Add("[roles]\nx = 1\n")
	f.Add("roles = 3\n")
	f.Add("duration = 3600\n[roles.a.b]\nc = \"d\"\n")
	f.Add("unknown_key = \"x\"\n")
	f.Add("a = [1, 2]\n\"quoted key\" = { inline = true }\n")
	f.Fuzz(func(t *testing.T, data string) {
		fc, err := parseFile("fuzz.toml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		known := append(roleKeys(), daemonKeys()...)
		for k := range fc.top {
			if !slices.Contains(known, k) {
				t.Fatalf("accepted unknown top-level key %q", k)
			}
		}
		for name, vals := range fc.roles {
			for k := range vals {
				if !slices.Contains(roleKeys(), k) {
					t.Fatalf("accepted unknown key %q in role %q", k, name)
				}
			}
		}
	})
}
