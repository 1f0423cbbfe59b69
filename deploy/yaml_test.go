package deploy_test

import (
	"fmt"
	"strconv"
	"strings"
)

// The module has no YAML library (gopkg.in/yaml.v3 is in the module graph
// only indirectly), so the tests read the template with this reader of the
// YAML subset it is written in: block mappings and sequences, plain, quoted
// and block (| and >) scalars, flow sequences, comments, and
// CloudFormation's short-form tags, which become their long form
// ({"Ref": X}, {"Fn::GetAtt": [A, B]}, {"Fn::Sub": ...}), as in the
// CloudFormation User Guide's intrinsic function reference. Scalars stay
// strings. cfn-lint reads the template with a full YAML parser (see
// TestTemplatePassesCfnLint); anything this reader does not know is an
// error, so the template keeps to the subset.

type yamlReader struct {
	lines []string
	i     int
}

func parseYAML(text string) (any, error) {
	r := &yamlReader{lines: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")}
	n, ok := r.peek()
	if !ok {
		return nil, fmt.Errorf("empty document")
	}
	v, err := r.block(n)
	if err != nil {
		return nil, err
	}
	if _, ok := r.peek(); ok {
		return nil, fmt.Errorf("line %d: unexpected indentation", r.i+1)
	}
	return v, nil
}

// peek skips blank and comment lines and returns the next line's indent.
func (r *yamlReader) peek() (int, bool) {
	for ; r.i < len(r.lines); r.i++ {
		t := strings.TrimSpace(r.lines[r.i])
		if t != "" && !strings.HasPrefix(t, "#") {
			return indentOf(r.lines[r.i]), true
		}
	}
	return 0, false
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func (r *yamlReader) block(n int) (any, error) {
	t := strings.TrimSpace(r.lines[r.i])
	if t == "-" || strings.HasPrefix(t, "- ") {
		return r.sequence(n)
	}
	return r.mapping(n)
}

func (r *yamlReader) mapping(n int) (map[string]any, error) {
	m := map[string]any{}
	for {
		ind, ok := r.peek()
		if !ok || ind < n {
			return m, nil
		}
		if ind > n {
			return nil, fmt.Errorf("line %d: unexpected indentation", r.i+1)
		}
		line := r.lines[r.i][n:]
		if strings.HasPrefix(line, "- ") {
			return m, nil
		}
		key, rest, ok := splitKey(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY: VALUE, got %q", r.i+1, line)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("line %d: key %q twice", r.i+1, key)
		}
		r.i++
		v, err := r.value(rest, n)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
}

func (r *yamlReader) sequence(n int) ([]any, error) {
	var out []any
	for {
		ind, ok := r.peek()
		if !ok || ind < n {
			return out, nil
		}
		line := r.lines[r.i][n:]
		if ind != n || !(line == "-" || strings.HasPrefix(line, "- ")) {
			return out, nil
		}
		item := strings.TrimPrefix(strings.TrimPrefix(line, "-"), " ")
		if _, _, isMap := splitKey(item); isMap && !strings.HasPrefix(item, "!") && !strings.HasPrefix(item, "[") {
			// "- key: value" starts a mapping indented past the dash.
			r.lines[r.i] = strings.Repeat(" ", n+2) + item
			m, err := r.mapping(n + 2)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
			continue
		}
		r.i++
		v, err := r.value(item, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// value reads what follows "key:" or "- " on a line of indent n, and the
// nested lines it owns.
func (r *yamlReader) value(rest string, n int) (any, error) {
	rest = stripComment(rest)
	if tag, after, ok := cutTag(rest); ok {
		v, err := r.value(after, n)
		if err != nil {
			return nil, err
		}
		return tagged(tag, v)
	}
	switch {
	case rest == "":
		ind, ok := r.peek()
		if !ok || ind <= n {
			return "", nil
		}
		return r.block(ind)
	case rest == "|" || rest == "|-" || rest == ">" || rest == ">-":
		return r.blockScalar(rest, n), nil
	case rest[0] == '[' || rest[0] == '{':
		f := &flow{s: rest}
		v, err := f.value()
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", r.i, err)
		}
		if f.skipSpace(); f.pos != len(f.s) {
			return nil, fmt.Errorf("line %d: text after %q", r.i, rest[:f.pos])
		}
		return v, nil
	}
	return scalar(rest)
}

func (r *yamlReader) blockScalar(style string, n int) string {
	var lines []string
	indent := -1
	for ; r.i < len(r.lines); r.i++ {
		l := r.lines[r.i]
		if strings.TrimSpace(l) == "" {
			lines = append(lines, "")
			continue
		}
		if indentOf(l) <= n {
			break
		}
		if indent < 0 {
			indent = indentOf(l)
		}
		lines = append(lines, l[min(indent, indentOf(l)):])
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	sep := "\n"
	if style[0] == '>' {
		sep = " "
	}
	s := strings.Join(lines, sep)
	if !strings.HasSuffix(style, "-") {
		s += "\n"
	}
	return s
}

// splitKey splits "key: rest" at the first ": " (or a final ":") outside quotes.
func splitKey(line string) (key, rest string, ok bool) {
	if strings.HasPrefix(line, `"`) || strings.HasPrefix(line, `'`) {
		end := strings.IndexByte(line[1:], line[0])
		if end < 0 {
			return "", "", false
		}
		k, after := line[:end+2], line[end+2:]
		if !strings.HasPrefix(after, ":") {
			return "", "", false
		}
		s, err := scalar(k)
		return fmt.Sprint(s), strings.TrimSpace(after[1:]), err == nil
	}
	if i := strings.Index(line, ": "); i > 0 {
		return line[:i], strings.TrimSpace(line[i+2:]), true
	}
	if strings.HasSuffix(line, ":") && !strings.ContainsAny(line, " ") {
		return strings.TrimSuffix(line, ":"), "", true
	}
	return "", "", false
}

// stripComment drops a " #" comment that is outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

// cutTag splits "!Tag rest".
func cutTag(s string) (tag, rest string, ok bool) {
	if !strings.HasPrefix(s, "!") {
		return "", "", false
	}
	tag, rest, _ = strings.Cut(s[1:], " ")
	return tag, strings.TrimSpace(rest), true
}

// tagged is a short-form tag's long form.
func tagged(tag string, v any) (any, error) {
	switch tag {
	case "Ref":
		return map[string]any{"Ref": v}, nil
	case "Condition":
		return map[string]any{"Condition": v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, ok := strings.Cut(s, ".")
			if !ok {
				return nil, fmt.Errorf("!GetAtt %q is not RESOURCE.ATTRIBUTE", s)
			}
			return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	case "Sub", "Join", "Select", "Split", "If", "Not", "Equals", "And", "Or", "FindInMap", "GetAZs", "ImportValue", "Base64", "Cidr":
		return map[string]any{"Fn::" + tag: v}, nil
	}
	return nil, fmt.Errorf("unknown tag !%s", tag)
}

func scalar(s string) (any, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		return strconv.Unquote(s)
	case strings.HasPrefix(s, `'`):
		if len(s) < 2 || !strings.HasSuffix(s, `'`) {
			return nil, fmt.Errorf("unterminated %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	return s, nil
}

// flow reads a flow collection: [a, "b", !Tag [c]] or {k: v}.
type flow struct {
	s   string
	pos int
}

func (f *flow) skipSpace() {
	for f.pos < len(f.s) && f.s[f.pos] == ' ' {
		f.pos++
	}
}

func (f *flow) value() (any, error) {
	f.skipSpace()
	if f.pos >= len(f.s) {
		return nil, fmt.Errorf("flow value missing in %q", f.s)
	}
	switch c := f.s[f.pos]; c {
	case '!':
		end := strings.IndexByte(f.s[f.pos:], ' ')
		if end < 0 {
			return nil, fmt.Errorf("tag without value in %q", f.s)
		}
		tag := f.s[f.pos+1 : f.pos+end]
		f.pos += end
		v, err := f.value()
		if err != nil {
			return nil, err
		}
		return tagged(tag, v)
	case '[':
		f.pos++
		var out []any
		for {
			f.skipSpace()
			if f.pos < len(f.s) && f.s[f.pos] == ']' {
				f.pos++
				return out, nil
			}
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			f.skipSpace()
			if f.pos < len(f.s) && f.s[f.pos] == ',' {
				f.pos++
			}
		}
	case '{':
		f.pos++
		m := map[string]any{}
		for {
			f.skipSpace()
			if f.pos < len(f.s) && f.s[f.pos] == '}' {
				f.pos++
				return m, nil
			}
			k, err := f.value()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string)
			key = strings.TrimSuffix(key, ":")
			f.skipSpace()
			if f.pos < len(f.s) && f.s[f.pos] == ':' {
				f.pos++
			}
			v, err := f.value()
			if err != nil {
				return nil, err
			}
			m[key] = v
			f.skipSpace()
			if f.pos < len(f.s) && f.s[f.pos] == ',' {
				f.pos++
			}
		}
	case '"', '\'':
		end := strings.IndexByte(f.s[f.pos+1:], c)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string in %q", f.s)
		}
		raw := f.s[f.pos : f.pos+end+2]
		f.pos += end + 2
		return scalar(raw)
	}
	start := f.pos
	for f.pos < len(f.s) && !strings.ContainsRune(",]}", rune(f.s[f.pos])) && !(f.s[f.pos] == ':' && f.pos+1 < len(f.s) && f.s[f.pos+1] == ' ') {
		f.pos++
	}
	return strings.TrimSpace(f.s[start:f.pos]), nil
}
