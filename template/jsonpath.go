package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shroud-dev/shroud/internal/jsonform"

	"github.com/shroud-dev/shroud/internal/plural"
)

// A path step is an object key or an array index.
type step struct {
	key   string
	index int // when key is empty and isIndex
	isIdx bool
}

// parsePath reads the path syntax of jsonPath:
//
//	replicas[0].host        keys joined by '.', array indexes in brackets
//	$.replicas[0].host      an optional leading '$'
//	labels["app.kubernetes.io/name"]   a key with '.' or brackets, quoted
//	$                       the whole value
func parsePath(p string) ([]step, error) {
	fail := func(format string, args ...any) ([]step, error) {
		return nil, failf("jsonPath %q: %s", p, fmt.Sprintf(format, args...))
	}
	if p == "" {
		return fail(`empty path; give keys like "replicas[0].host", or "$" for the whole value`)
	}
	s := strings.TrimPrefix(p, "$")
	var steps []step
	first := len(s) == len(p) // no '$': the path may start with a bare key
	for s != "" {
		switch {
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return fail("'[' without ']'")
			}
			inner := s[1:end]
			if len(inner) > 0 && (inner[0] == '"' || inner[0] == '\'') {
				key, rest, err := quotedKey(s[1:])
				if err != nil {
					return fail("%v", err)
				}
				if !strings.HasPrefix(rest, "]") {
					return fail("want ']' after a quoted key")
				}
				steps = append(steps, step{key: key})
				s = rest[1:]
				break
			}
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 || inner != strconv.Itoa(n) {
				return fail("%q is not an array index; use [0], [1], ... or a quoted key [\"a.b\"]", inner)
			}
			steps = append(steps, step{index: n, isIdx: true})
			s = s[end+1:]
		case s[0] == '.' || first:
			if s[0] == '.' {
				s = s[1:]
			}
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return fail("empty key; quote keys that are empty or hold '.', '[': [\"a.b\"]")
			}
			if strings.ContainsAny(s[:end], `]"'`) {
				return fail("key %q holds a quote or ']'; write it quoted in brackets", s[:end])
			}
			steps = append(steps, step{key: s[:end]})
			s = s[end:]
		default:
			return fail("want '.' or '[' before %q", s)
		}
		first = false
	}
	return steps, nil
}

// quotedKey reads a JSON-style "..." or a '...' string at the start of s.
func quotedKey(s string) (key, rest string, err error) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			if q == '\'' {
				return strings.ReplaceAll(s[1:i], `\'`, `'`), s[i+1:], nil
			}
			if err := json.Unmarshal([]byte(s[:i+1]), &key); err != nil {
				return "", "", errors.New("a quoted key has an invalid escape")
			}
			return key, s[i+1:], nil
		}
	}
	return "", "", errors.New("a quoted key is not closed")
}

// jsonPath returns the member of doc at path: a string member's text, or
// any other member's compact JSON.
func jsonPath(path, doc string) (string, error) {
	steps, err := parsePath(path)
	if err != nil {
		return "", err
	}
	raw := json.RawMessage(doc)
	if !json.Valid(raw) {
		return "", failf("jsonPath %q: the value is not JSON", path)
	}
	at := "$"
	for _, st := range steps {
		if st.isIdx {
			var arr []json.RawMessage
			if json.Unmarshal(raw, &arr) != nil {
				return "", failf("jsonPath %q: %s is %s, not an array", path, at, kind(raw))
			}
			if st.index >= len(arr) {
				return "", failf("jsonPath %q: %s has %s, no [%d]", path, at, plural.Count(len(arr), "element"), st.index)
			}
			raw = arr[st.index]
			at += fmt.Sprintf("[%d]", st.index)
			continue
		}
		obj, err := jsonform.Object(raw)
		if err != nil {
			return "", failf("jsonPath %q: %s is %s, not an object", path, at, kind(raw))
		}
		next, ok := obj[st.key]
		if !ok {
			return "", failf("jsonPath %q: %s has no key %q; it has %s", path, at, st.key, jsonform.DescribeKeys(obj))
		}
		raw = next
		at += pathKey(st.key)
	}
	text, err := jsonform.Text(raw)
	if err != nil {
		return "", failf("jsonPath %q: the value is not valid JSON", path)
	}
	return string(text), nil
}

func pathKey(k string) string {
	if k != "" && !strings.ContainsAny(k, `.[]"'`) {
		return "." + k
	}
	b, _ := json.Marshal(k)
	return "[" + string(b) + "]"
}

// kind names a JSON value's type, never its content.
func kind(raw json.RawMessage) string {
	s := strings.TrimLeft(string(raw), " \t\r\n")
	if s == "" {
		return "empty"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
