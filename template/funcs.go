package template

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/shroud-dev/shroud/internal/jsonform"
)

// The function set. Each function that can fail says what is wrong with a
// value (not JSON, no such key, not base64), never what the value is.
//
//	secret REF            the value of a reference, in any form of the grammar
//	                      ("sm:prod/db:password", "file:db.json#user", an ARN)
//	secretPrevious REF    the previous version of a Secrets Manager or KMS
//	                      secret (AWSPREVIOUS / ACSPrevious), for rotating
//	                      between two credentials
//	json KEY              a member of a JSON object: secret "sm:db" | json "host"
//	jsonPath PATH         a nested member: jsonPath "replicas[0].host"
//	base64Encode, base64Decode
//	env NAME              shroud's own environment variable; "" when unset
//	default DEFAULT       DEFAULT when the piped value is empty
//	quote, squote         double quotes (Go syntax, also valid YAML), or
//	                      single quotes for POSIX sh ('it'\''s')
//	toJSON                a JSON string (or any value's JSON form)
//	indent N              N spaces before every non-empty line
//	trim                  without leading and trailing white space
//	lines                 the lines of a value, for range
//	urlEncode             percent-encoding of all but A-Z a-z 0-9 - . _ ~,
//	                      for a password in a URL
//
// JSON members that are not strings come out in their JSON form (5432,
// true, {"a":1}), as everywhere in shroud.
func (t *Template) funcs() template.FuncMap {
	secret := func(previous bool) func(string) (string, error) {
		return func(ref string) (string, error) {
			if t.lookup == nil {
				return "", failf("no values to render with")
			}
			v, err := t.lookup(Ref{Text: ref, Previous: previous})
			if err != nil {
				return "", &lookupError{err}
			}
			return string(v), nil
		}
	}
	return template.FuncMap{
		"secret":         secret(false),
		"secretPrevious": secret(true),
		"json":           jsonMember,
		"jsonPath":       jsonPath,
		"base64Encode":   func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64Decode":   base64Decode,
		"env": func(name string) string {
			v, _ := t.in.LookupEnv(name)
			return v
		},
		"default": func(def, v string) string {
			if v == "" {
				return def
			}
			return v
		},
		"quote":     strconv.Quote,
		"squote":    func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" },
		"toJSON":    toJSON,
		"indent":    indent,
		"trim":      strings.TrimSpace,
		"lines":     lines,
		"urlEncode": urlEncode,
	}
}

// FuncNames lists the template functions, for help and error messages.
func FuncNames() []string {
	return slices.Sorted(maps.Keys((&Template{}).funcs()))
}

// lookupError carries a Lookup error through text/template, which wraps it.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

func jsonMember(key, doc string) (string, error) {
	obj, err := jsonform.Object([]byte(doc))
	if err != nil {
		return "", failf("json %q: %v", key, err)
	}
	raw, ok := obj[key]
	if !ok {
		return "", failf("json %q: no such key; the object has %s", key, jsonform.DescribeKeys(obj))
	}
	text, err := jsonform.Text(raw)
	if err != nil {
		return "", failf("json %q: %v", key, err)
	}
	return string(text), nil
}

// base64Decode accepts standard and URL-safe base64, padded or not.
func base64Decode(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return string(b), nil
		}
	}
	return "", failf("base64Decode: the value is not valid base64")
}

// toJSON encodes v as JSON without HTML escaping. A string that is not
// UTF-8 is an error: JSON would silently replace its bytes.
func toJSON(v any) (string, error) {
	if s, ok := v.(string); ok && !utf8.ValidString(s) {
		return "", failf("toJSON: the value is not valid UTF-8 text")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", failf("toJSON: a value of type %T has no JSON form", v)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// indent puts n spaces before every line that is not empty, for a PEM block
// under a YAML key.
func indent(n int, s string) (string, error) {
	if n < 0 || n > 1000 {
		return "", failf("indent %d: want 0 to 1000 spaces", n)
	}
	pad := strings.Repeat(" ", n)
	ls := strings.SplitAfter(s, "\n")
	for i, l := range ls {
		if l != "" && l != "\n" && l != "\r\n" {
			ls[i] = pad + l
		}
	}
	return strings.Join(ls, ""), nil
}

// lines splits s into lines without their line ends; a final line end does
// not start another line.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// urlEncode percent-encodes every byte but the unreserved characters of
// RFC 3986, so the result is safe in any part of a URL, including a
// password in user:password@host.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
