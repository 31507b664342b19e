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
// true, {"a":1}), as everywhere in shroud. No function makes a result
// larger than MaxOutput, and each checks the render's deadline (see
// limits.go).
func (t *Template) funcs() template.FuncMap {
	secret := func(previous bool) func(string) (string, error) {
		name := "secret"
		if previous {
			name = "secretPrevious"
		}
		return func(ref string) (string, error) {
			if t.lookup == nil {
				return "", failf("no values to render with")
			}
			r := Ref{Text: ref, Previous: previous}
			v, err := t.lookup(r)
			if err != nil {
				return "", &lookupError{err}
			}
			if t.following() {
				t.cur.taint(Derived{Func: name, Ref: r, Text: string(v), Source: len(bytes.TrimSpace(v))})
			}
			return string(v), nil
		}
	}
	return template.FuncMap{
		"secret":         timed1(t, secret(false)),
		"secretPrevious": timed1(t, secret(true)),
		"json":           followed2(t, "json", timed2(t, jsonMember)),
		"jsonPath":       followed2(t, "jsonPath", timed2(t, jsonPath)),
		"base64Encode":   followed1(t, "base64Encode", timed1(t, base64Encode)),
		"base64Decode":   followed1(t, "base64Decode", timed1(t, base64Decode)),
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
		"quote":     followed1(t, "quote", timed1(t, quote)),
		"squote":    followed1(t, "squote", timed1(t, squote)),
		"toJSON":    followed1(t, "toJSON", timed1(t, toJSON)),
		"indent":    followed2(t, "indent", timed2(t, indent)),
		"trim":      followed1(t, "trim", timed1(t, trim)),
		"lines":     followed1(t, "lines", timed1(t, lines)),
		"urlEncode": followed1(t, "urlEncode", timed1(t, urlEncode)),
	}
}

func trim(s string) (string, error) { return strings.TrimSpace(s), nil }

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

func base64Encode(s string) (string, error) {
	if err := sized("base64Encode", base64.StdEncoding.EncodedLen(len(s))); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func quote(s string) (string, error) {
	if err := sized("quote", grownLen(s, quoteGrowth)+2); err != nil {
		return "", err
	}
	return strconv.Quote(s), nil
}

// squote single-quotes s for POSIX sh, closing and reopening the quotes
// around each quote inside.
func squote(s string) (string, error) {
	n := grownLen(s, func(b byte) int {
		if b == '\'' {
			return 3
		}
		return 0
	})
	if err := sized("squote", n+2); err != nil {
		return "", err
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
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
	size := 0
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return "", failf("toJSON: the value is not valid UTF-8 text")
		}
		size = grownLen(v, jsonGrowth) + 2
	case []string:
		for _, s := range v {
			size += grownLen(s, jsonGrowth) + 3
		}
	default:
		b, _ := fmtSize(v)
		size = 6 * b
	}
	if err := sized("toJSON", size); err != nil {
		return "", err
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
	padded := 0
	for l := range strings.Lines(s) {
		if l != "\n" && l != "\r\n" {
			padded++
		}
	}
	if err := sized("indent", len(s)+n*padded); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(s) + n*padded)
	for l := range strings.Lines(s) {
		if l != "\n" && l != "\r\n" {
			for range n {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
	}
	return b.String(), nil
}

// lines splits s into lines without their line ends; a final line end does
// not start another line.
func lines(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	s = strings.TrimSuffix(s, "\n")
	if n := strings.Count(s, "\n") + 1; n > maxLines {
		return nil, failf("lines: the value has %d lines, more than %d, the limit", n, maxLines)
	}
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls, nil
}

// urlEncode percent-encodes every byte but the unreserved characters of
// RFC 3986, so the result is safe in any part of a URL, including a
// password in user:password@host.
func urlEncode(s string) (string, error) {
	if err := sized("urlEncode", grownLen(s, urlGrowth)); err != nil {
		return "", err
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(grownLen(s, urlGrowth))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlGrowth(c) == 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String(), nil
}
