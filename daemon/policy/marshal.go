package policy

import (
	"encoding/json"
	"maps"
	"slices"
)

// MarshalJSON writes the document in IAM's form, so a Document built in Go
// (the sandbox's default trust policy) can be saved and read back by Parse.
func (d *Document) MarshalJSON() ([]byte, error) {
	type stmt struct {
		Sid       string                    `json:"Sid,omitempty"`
		Effect    string                    `json:"Effect"`
		Principal any                       `json:"Principal,omitempty"`
		NotPrinc  any                       `json:"NotPrincipal,omitempty"`
		Action    any                       `json:"Action,omitempty"`
		NotAction any                       `json:"NotAction,omitempty"`
		Condition map[string]map[string]any `json:"Condition,omitempty"`
	}
	out := struct {
		Version   string `json:"Version,omitempty"`
		Statement []stmt `json:"Statement"`
	}{Version: d.Version}
	for _, s := range d.Statements {
		st := stmt{Sid: s.Sid, Effect: s.Effect, Principal: principalJSON(s.Principal), NotPrinc: principalJSON(s.NotPrincipal),
			Action: oneOrMany(s.Action), NotAction: oneOrMany(s.NotAction)}
		for _, c := range s.Conditions {
			if st.Condition == nil {
				st.Condition = map[string]map[string]any{}
			}
			if st.Condition[c.Operator] == nil {
				st.Condition[c.Operator] = map[string]any{}
			}
			st.Condition[c.Operator][c.Key] = oneOrMany(c.Values)
		}
		out.Statement = append(out.Statement, st)
	}
	return json.Marshal(out)
}

func principalJSON(p *Principal) any {
	switch {
	case p == nil:
		return nil
	case p.Any:
		return "*"
	}
	m := map[string]any{}
	if p.Federated != nil {
		m["Federated"] = oneOrMany(p.Federated)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Others)) {
		m[k] = oneOrMany(p.Others[k])
	}
	return m
}

func oneOrMany(ss []string) any {
	switch len(ss) {
	case 0:
		return nil
	case 1:
		return ss[0]
	}
	return ss
}
