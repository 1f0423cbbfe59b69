// Package jsonobj reads a JSON object's members in the order written,
// keeping duplicates, which encoding/json's maps would fold into the last:
// STS refuses a claim written twice with different values, and IAM
// refuses a session tag key given twice.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Member is a name and value of a JSON object.
type Member struct {
	Name  string
	Value json.RawMessage
}

// Members reads b, which must be one JSON object and nothing more.
func Members(b []byte) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []Member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var m Member
		m.Name, _ = tok.(string)
		if err := dec.Decode(&m.Value); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}
