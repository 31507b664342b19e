package logdriver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaskText replaces every secret value found in the child's output.
const MaskText = "*****"

// DefaultMaskMinLength is the shortest value masked unless configured:
// shorter values ("true", "5432") would mask ordinary text.
const DefaultMaskMinLength = 6

// MinMaskMinLength is the lowest mask_min_length accepted.
const MinMaskMinLength = 4

// MaskOptions says which values are masked and in which forms.
type MaskOptions struct {
	// MinLength drops shorter values and forms; 0 means DefaultMaskMinLength.
	MinLength int
	// Base64 also masks each value's standard and URL-safe base64 forms,
	// at every alignment, so a secret inside a larger base64 blob is caught.
	Base64 bool
	// JSON also masks each value's JSON-escaped forms (as JavaScript, Go and
	// Python write them), so a secret with quotes or newlines is caught
	// inside a JSON log line.
	JSON bool
}

func (o MaskOptions) minLength() int {
	if o.MinLength <= 0 {
		return DefaultMaskMinLength
	}
	return o.MinLength
}

// maskPatterns expands secret values into the byte strings to mask: each
// value, the value with surrounding whitespace trimmed (a file's trailing
// newline), the string and number leaves of a JSON object value, and the
// encoded forms asked for. Patterns shorter than the minimum are dropped.
func maskPatterns(values [][]byte, o MaskOptions) [][]byte {
	min := o.minLength()
	seen := map[string]bool{}
	var out [][]byte
	add := func(p []byte) {
		if len(p) >= min && !seen[string(p)] {
			seen[string(p)] = true
			out = append(out, p)
		}
	}
	var plain [][]byte
	for _, v := range values {
		plain = append(plain, v, bytes.TrimSpace(v))
		plain = append(plain, jsonLeaves(v)...)
	}
	for _, v := range plain {
		if len(v) < min {
			continue
		}
		add(v)
		if o.JSON {
			for _, f := range jsonForms(v) {
				add(f)
			}
		}
		if o.Base64 {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				for shift := range 3 {
					add(base64Form(enc, v, shift))
				}
			}
		}
	}
	return out
}

// jsonLeaves returns the string and number values inside a JSON object or
// array, so a whole-object secret (sm:prod/db) masks its password when the
// child prints only that.
func jsonLeaves(v []byte) [][]byte {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil
	}
	var out [][]byte
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			out = append(out, []byte(x))
		case json.Number:
			out = append(out, []byte(x))
		}
	}
	walk(doc)
	return out
}

// jsonForms returns v as it appears inside a JSON string when encoders
// escape it: minimally (JavaScript), with HTML characters escaped (Go), and
// ASCII-only (Python). Forms equal to v are left out.
func jsonForms(v []byte) [][]byte {
	var forms [][]byte
	if utf8.Valid(v) {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(string(v))
		forms = append(forms, []byte(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(b.String(), "\n"), `"`), `"`)))
		goForm, _ := json.Marshal(string(v))
		forms = append(forms, goForm[1:len(goForm)-1])
		forms = append(forms, asciiJSON(v))
	}
	return slices.DeleteFunc(forms, func(f []byte) bool { return bytes.Equal(f, v) })
}

// asciiJSON escapes v as Python's json.dumps does by default.
func asciiJSON(v []byte) []byte {
	var b []byte
	const hex = "0123456789abcdef"
	u := func(r rune) { b = append(b, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15]) }
	for _, r := range string(v) {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r < 0x20 || r == 0x7f:
			u(r)
		case r < 0x80:
			b = append(b, byte(r))
		case r > 0xffff:
			r1, r2 := utf16Surrogates(r)
			u(r1)
			u(r2)
		default:
			u(r)
		}
	}
	return b
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// base64Form returns the characters of enc's encoding of v that do not
// depend on its neighbours when v starts shift bytes (mod 3) into the
// encoded data: the characters that mix in bits of the bytes before or
// after v are dropped.
func base64Form(enc *base64.Encoding, v []byte, shift int) []byte {
	buf := make([]byte, shift+len(v))
	copy(buf[shift:], v)
	s := enc.WithPadding(base64.NoPadding).EncodeToString(buf)
	// The first shift bytes fill 8*shift bits: characters wholly or partly
	// made of them are chars [0, ceil(8*shift/6)).
	lead := (8*shift + 5) / 6
	// When v ends inside a 3-byte group, the last character also holds bits
	// of the next byte of the data.
	trail := 0
	if (shift+len(v))%3 != 0 {
		trail = 1
	}
	if lead+trail >= len(s) {
		return nil
	}
	return []byte(s[lead : len(s)-trail])
}
