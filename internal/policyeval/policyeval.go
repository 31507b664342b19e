// Package policyeval evaluates identity-based policy documents as AWS IAM
// and Alibaba Cloud RAM do, for the in-process fakes: an explicit Deny
// wins, then an explicit Allow is needed; actions match case-insensitively,
// resources case-sensitively, both with the wildcards * and ?. Elements it
// does not evaluate (Condition, for one) are refused when a document is
// parsed, never ignored.
package policyeval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Decision is the outcome of evaluating one request.
type Decision int

const (
	// Implicit: no statement allows the request (an implicit deny).
	Implicit Decision = iota
	// Allowed: a statement allows it and none denies it.
	Allowed
	// Denied: a statement denies it explicitly.
	Denied
)

// Policy is a parsed identity-based policy.
type Policy struct{ statements []statement }

type statement struct {
	allow                  bool
	actions, resources     []string
	notAction, notResource bool // the lists are NotAction, NotResource
}

// Decide evaluates action on resource.
func (p *Policy) Decide(action, resource string) Decision {
	d := Implicit
	for _, s := range p.statements {
		if anyMatch(s.actions, strings.ToLower(action), true) == s.notAction || anyMatch(s.resources, resource, false) == s.notResource {
			continue
		}
		if !s.allow {
			return Denied
		}
		d = Allowed
	}
	return d
}

func anyMatch(patterns []string, s string, fold bool) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		if fold {
			p = strings.ToLower(p)
		}
		return Match(p, s)
	})
}

// Match reports whether s matches a policy pattern: ? is any one
// character, * any run of characters, which crosses a colon only when the
// * ends an ARN segment (is followed by a colon or ends the pattern), as
// IAM documents it.
func Match(pattern, s string) bool {
	// ok[j]: the pattern so far matches s[:j].
	ok := make([]bool, len(s)+1)
	ok[0] = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		next := make([]bool, len(s)+1)
		if c == '*' {
			crosses := i+1 == len(pattern) || pattern[i+1] == ':'
			for j := 0; j <= len(s); j++ {
				next[j] = ok[j] || (j > 0 && next[j-1] && (crosses || s[j-1] != ':'))
			}
		} else {
			for j := 1; j <= len(s); j++ {
				next[j] = ok[j-1] && (c == '?' || c == s[j-1])
			}
		}
		ok = next
	}
	return ok[len(s)]
}

// Parse reads an identity-based policy whose Version is one of versions
// ("2012-10-17" for IAM, "1" for RAM).
func Parse(doc string, versions ...string) (*Policy, error) {
	raws, err := Statements(doc, versions...)
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	for i, raw := range raws {
		s, err := parseStatement(raw)
		if err != nil {
			return nil, fmt.Errorf("policy statement %d: %w", i, err)
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage) (statement, error) {
	var s statement
	fields, err := Fields(raw, "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource")
	if err == nil {
		s.allow, err = Effect(fields)
	}
	if err == nil {
		s.actions, s.notAction, err = oneOf(fields, "Action", "NotAction")
	}
	if err == nil {
		s.resources, s.notResource, err = oneOf(fields, "Resource", "NotResource")
	}
	return s, err
}

// Statements checks a document's Version and returns its statements: an
// array of them, or a single statement object.
func Statements(doc string, versions ...string) ([]json.RawMessage, error) {
	fields, err := Fields(json.RawMessage(doc), "Version", "Id", "Statement")
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var version string
	if err := Decode(fields["Version"], &version); err != nil || !slices.Contains(versions, version) {
		return nil, fmt.Errorf("policy: Version must be %q", versions)
	}
	var raws []json.RawMessage
	if Decode(fields["Statement"], &raws) != nil {
		raws = []json.RawMessage{fields["Statement"]}
	}
	if len(raws) == 0 || raws[0] == nil {
		return nil, errors.New("policy: no Statement")
	}
	return raws, nil
}

// Fields decodes a JSON object, refusing keys other than known.
func Fields(raw json.RawMessage, known ...string) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := Decode(raw, &fields); err != nil {
		return nil, errors.New("not a JSON object")
	}
	for k := range fields {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("element %q is not evaluated (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return fields, nil
}

// Effect reads a statement's Effect: true for Allow.
func Effect(fields map[string]json.RawMessage) (bool, error) {
	var e string
	if err := Decode(fields["Effect"], &e); err != nil || (e != "Allow" && e != "Deny") {
		return false, errors.New(`Effect must be "Allow" or "Deny"`)
	}
	return e == "Allow", nil
}

// oneOf reads exactly one of a list element and its Not form.
func oneOf(fields map[string]json.RawMessage, name, not string) ([]string, bool, error) {
	switch {
	case fields[name] != nil && fields[not] == nil:
		l, err := List(fields[name])
		return l, false, err
	case fields[not] != nil && fields[name] == nil:
		l, err := List(fields[not])
		return l, true, err
	}
	return nil, false, fmt.Errorf("give %s or %s", name, not)
}

// List reads a string or a non-empty list of strings.
func List(raw json.RawMessage) ([]string, error) {
	var one string
	if Decode(raw, &one) == nil && one != "" {
		return []string{one}, nil
	}
	var many []string
	if err := Decode(raw, &many); err != nil || len(many) == 0 || slices.Contains(many, "") {
		return nil, errors.New("want a string or a list of strings")
	}
	return many, nil
}

// Decode decodes raw into v, refusing unknown fields.
func Decode(raw json.RawMessage, v any) error {
	if raw == nil {
		return errors.New("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
