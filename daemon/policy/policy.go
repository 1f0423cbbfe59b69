// Package policy evaluates an IAM role trust policy against an identity
// token's claims as IAM does for sts:AssumeRoleWithWebIdentity, and names
// the statement, principal, action or condition that refuses it.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ActionAssumeRoleWithWebIdentity is the action a web-identity trust policy allows.
const ActionAssumeRoleWithWebIdentity = "sts:AssumeRoleWithWebIdentity"

// Document is a parsed IAM policy document.
type Document struct {
	Version    string
	Statements []Statement
}

// Statement is one entry of a policy's Statement.
type Statement struct {
	Sid string
	// Effect is "Allow" or "Deny".
	Effect string
	// Principal and NotPrincipal are nil when absent.
	Principal, NotPrincipal *Principal
	// Action and NotAction list action patterns ("sts:*", "*").
	Action, NotAction []string
	// Conditions are sorted by operator, then key, so output is stable.
	Conditions []Condition
}

// Principal is a statement's Principal (or NotPrincipal).
type Principal struct {
	// Any is "Principal": "*".
	Any bool
	// Federated lists identity-provider ARNs.
	Federated []string
	// Others holds the other principal types (AWS, Service, ...), which
	// never match a web-identity caller.
	Others map[string][]string
}

// Condition is one operator/key/values triple of a Condition block.
type Condition struct {
	// Operator as written, e.g. "ForAnyValue:StringLike" or "StringEqualsIfExists".
	Operator string `json:"operator"`
	// Key as written, e.g. "token.actions.githubusercontent.com:sub".
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// Parse reads a policy document. It accepts what IAM accepts for the parts
// that matter here: Statement as an object or a list, Action and values as a
// string or a list, condition values as strings, booleans or numbers.
func Parse(data []byte) (*Document, error) {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("policy is not a JSON object: %w", err)
	}
	if len(raw.Statement) == 0 {
		return nil, errors.New(`policy has no "Statement"`)
	}
	var stmts []json.RawMessage
	if t := bytes.TrimSpace(raw.Statement); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &stmts); err != nil {
			return nil, fmt.Errorf(`policy "Statement": %w`, err)
		}
	} else {
		stmts = []json.RawMessage{t}
	}
	doc := &Document{Version: raw.Version}
	for i, s := range stmts {
		st, err := parseStatement(s)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		doc.Statements = append(doc.Statements, st)
	}
	return doc, nil
}

func parseStatement(data json.RawMessage) (Statement, error) {
	var raw struct {
		Sid          string                                `json:"Sid"`
		Effect       string                                `json:"Effect"`
		Principal    json.RawMessage                       `json:"Principal"`
		NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
		Action       json.RawMessage                       `json:"Action"`
		NotAction    json.RawMessage                       `json:"NotAction"`
		Condition    map[string]map[string]json.RawMessage `json:"Condition"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Statement{}, fmt.Errorf("not a statement object: %w", err)
	}
	st := Statement{Sid: raw.Sid, Effect: raw.Effect}
	if st.Effect != "Allow" && st.Effect != "Deny" {
		return Statement{}, fmt.Errorf(`"Effect" is %q, want "Allow" or "Deny"`, raw.Effect)
	}
	var err error
	if st.Principal, err = parsePrincipal(raw.Principal); err != nil {
		return Statement{}, fmt.Errorf(`"Principal": %w`, err)
	}
	if st.NotPrincipal, err = parsePrincipal(raw.NotPrincipal); err != nil {
		return Statement{}, fmt.Errorf(`"NotPrincipal": %w`, err)
	}
	if st.Action, err = stringList(raw.Action); err != nil {
		return Statement{}, fmt.Errorf(`"Action": %w`, err)
	}
	if st.NotAction, err = stringList(raw.NotAction); err != nil {
		return Statement{}, fmt.Errorf(`"NotAction": %w`, err)
	}
	if st.Action == nil && st.NotAction == nil {
		return Statement{}, errors.New(`no "Action"`)
	}
	for op, keys := range raw.Condition {
		for key, v := range keys {
			values, err := valueList(v)
			if err != nil {
				return Statement{}, fmt.Errorf("condition %s %q: %w", op, key, err)
			}
			st.Conditions = append(st.Conditions, Condition{Operator: op, Key: key, Values: values})
		}
	}
	slices.SortFunc(st.Conditions, func(a, b Condition) int {
		if c := strings.Compare(a.Operator, b.Operator); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.Key), strings.ToLower(b.Key))
	})
	return st, nil
}

func parsePrincipal(data json.RawMessage) (*Principal, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var s string
	if json.Unmarshal(data, &s) == nil {
		if s != "*" {
			return nil, fmt.Errorf("%q: a string principal must be \"*\"", s)
		}
		return &Principal{Any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errors.New(`want "*" or an object such as {"Federated": "arn:aws:iam::...:oidc-provider/..."}`)
	}
	p := &Principal{}
	for k, v := range m {
		list, err := stringList(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if k == "Federated" {
			p.Federated = list
			continue
		}
		if p.Others == nil {
			p.Others = map[string][]string{}
		}
		p.Others[k] = list
	}
	return p, nil
}

func stringList(data json.RawMessage) ([]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var s string
	if json.Unmarshal(data, &s) == nil {
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, errors.New("want a string or a list of strings")
	}
	return list, nil
}

// valueList reads condition values: a scalar or a list of scalars; IAM
// compares booleans and numbers by their text.
func valueList(data json.RawMessage) ([]string, error) {
	var any_ any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&any_); err != nil {
		return nil, err
	}
	items, ok := any_.([]any)
	if !ok {
		items = []any{any_}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		switch v := it.(type) {
		case string:
			out = append(out, v)
		case bool:
			out = append(out, strconv.FormatBool(v))
		case json.Number:
			out = append(out, v.String())
		default:
			return nil, errors.New("values must be strings, booleans or numbers")
		}
	}
	return out, nil
}
