// Package jsonform holds shroud's rules for reading the members of a JSON
// object secret (DESIGN §4), shared by json-key selection in sources and
// the json and jsonPath template functions, which may not import each
// other: a string member is its text, any other member its compact JSON
// form (5432, true, {"a":1}), never Go's %v form; errors name keys, never
// values.
//
// It imports only the standard library (and internal/bounded, which
// bounds the nesting of what it parses) and knows no backend.
package jsonform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/shroud-dev/shroud/internal/bounded"
)

// Object decodes a JSON object, keeping each member's JSON text. The error
// never passes on the decoder's message, which may quote the value.
func Object(data []byte) (map[string]json.RawMessage, error) {
	if err := bounded.CheckJSON(data); err != nil {
		return nil, fmt.Errorf("the value is not a JSON object shroud reads: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, errors.New("the value is not a JSON object")
	}
	return obj, nil
}

// Text returns a member as shroud writes it: a JSON string's text, or any
// other value's compact JSON form.
func Text(raw json.RawMessage) ([]byte, error) {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []byte(s), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, errors.New("the value is not valid JSON")
	}
	return b.Bytes(), nil
}

// Fields splits a JSON object into the Text of each member.
func Fields(data []byte) (map[string][]byte, error) {
	obj, err := Object(data)
	if err != nil {
		return nil, err
	}
	fields := make(map[string][]byte, len(obj))
	for k, raw := range obj {
		if fields[k], err = Text(raw); err != nil {
			return nil, err
		}
	}
	return fields, nil
}

// DescribeKeys lists up to ten of an object's key names in order, quoted,
// so that a misspelt key is easy to see. Names are not secret; values
// never appear.
func DescribeKeys[V any](obj map[string]V) string {
	if len(obj) == 0 {
		return "no keys"
	}
	names := slices.Sorted(maps.Keys(obj))
	quoted := make([]string, 0, min(len(names), 10))
	for _, n := range names[:min(len(names), 10)] {
		quoted = append(quoted, strconv.Quote(n))
	}
	s := "keys " + strings.Join(quoted, ", ")
	if len(names) > 10 {
		s += fmt.Sprintf(" and %d more", len(names)-10)
	}
	return s
}
