package envcheck

import (
	"bufio"
	"bytes"
	"strings"
)

// ParseINI reads an AWS shared config or credentials file for the parts
// that decide the credential chain: [section] headers,
// "key = value" lines, full-line comments starting with # or ;, and
// indented continuation lines (nested settings such as "s3 =" followed by
// indented keys) which belong to the key above and are skipped. Section
// names are trimmed ("[ profile dev ]" is "profile dev"); keys are
// lower-cased as the SDKs compare them case-insensitively; a key given twice
// keeps the last value. Lines it cannot read are skipped (the SDKs would
// fail on them, which is not what this check is about).
//
// A short reader keeps the binary free of an INI dependency whose own rules
// (quoting, multi-line values, key case) differ from the SDKs' in places
// that matter here; only the presence of a few keys in one section counts.
func ParseINI(data []byte) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		raw := strings.TrimSuffix(sc.Text(), "\r")
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				cur = nil
				continue
			}
			name := strings.Join(strings.Fields(line[1:end]), " ")
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			cur = out[name]
			continue
		}
		if cur == nil || raw[0] == ' ' || raw[0] == '\t' {
			continue // outside a section, or a nested setting
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		cur[strings.ToLower(strings.TrimSpace(k))] = stripComment(strings.TrimSpace(v))
	}
	return out
}

// stripComment drops an inline comment (" #" or " ;", whitespace first), as
// the Go and Java SDKs do; botocore keeps it, which changes no key's presence.
func stripComment(v string) string {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return v
}
