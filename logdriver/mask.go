package logdriver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
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
	// at every alignment, so a secret inside a larger base64 blob is caught
	// (see base64Forms for what exactly).
	Base64 bool
	// JSON also masks each value's JSON-escaped forms (as JavaScript, Go and
	// Python write them), so a secret with quotes or newlines is caught
	// inside a JSON log line.
	JSON bool
	// URL also masks each value's percent-encoded forms (see urlForms), so
	// a password in a DSN or a token in a query string is caught.
	URL bool
}

// MaskEncodings are the encodings mask_encodings may name, each turning on
// the MaskOptions field of that name.
var MaskEncodings = []string{"base64", "json", "url"}

// WithEncodings returns o with the encodings named on and the others off;
// it fails on a name not in MaskEncodings.
func (o MaskOptions) WithEncodings(names []string) (MaskOptions, error) {
	o.Base64, o.JSON, o.URL = false, false, false
	for _, n := range names {
		switch n {
		case "base64":
			o.Base64 = true
		case "json":
			o.JSON = true
		case "url":
			o.URL = true
		default:
			return o, fmt.Errorf("unknown encoding %q; known: %s", n, strings.Join(MaskEncodings, ", "))
		}
	}
	return o, nil
}

// MinLen is the length of the shortest value or form masked: MinLength,
// or DefaultMaskMinLength when it is 0.
func (o MaskOptions) MinLen() int {
	if o.MinLength <= 0 {
		return DefaultMaskMinLength
	}
	return o.MinLength
}

// maskPatterns expands secret values and derived forms into the byte
// strings to mask. A value gives itself, itself with surrounding white
// space trimmed (a file's trailing newline), the string and number leaves
// of a JSON object value but public ones (see jsonLeaves), and the encoded
// forms of each of these asked for. A derived form (text the engine made from a value: a template
// function's output, a line of a rendered file) gives itself, trimmed, and
// its JSON-escaped forms: nothing is derived from it further. Patterns
// shorter than the minimum are dropped.
func maskPatterns(values, forms [][]byte, o MaskOptions) [][]byte {
	min := o.MinLen()
	seen := map[string]bool{}
	var out [][]byte
	add := func(p []byte) {
		if len(p) >= min && !seen[string(p)] {
			seen[string(p)] = true
			out = append(out, p)
		}
	}
	addEscaped := func(p []byte) {
		if len(p) < min {
			return
		}
		add(p)
		if o.JSON {
			for _, f := range jsonForms(p) {
				add(f)
			}
		}
	}
	expanded := map[string]bool{}
	for _, v := range values {
		for _, p := range append([][]byte{v, bytes.TrimSpace(v)}, jsonLeaves(v)...) {
			if len(p) < min || expanded[string(p)] {
				continue
			}
			expanded[string(p)] = true
			addEscaped(p)
			if o.URL {
				for _, f := range urlForms(p) {
					add(f)
				}
			}
			if o.Base64 {
				for _, a := range base64Alphabets() {
					for shift := range 3 {
						for _, f := range base64Forms(a, p, shift) {
							add(f)
						}
					}
				}
			}
		}
	}
	for _, f := range forms {
		addEscaped(f)
		addEscaped(bytes.TrimSpace(f))
	}
	return out
}

// shortValues counts the distinct values that are not masked because,
// trimmed, they are shorter than the minimum ("5432", "true"). The leaves
// of a JSON value are not counted: its short fields are rarely secret.
func shortValues(values [][]byte, o MaskOptions) int {
	short := map[string]bool{}
	for _, v := range values {
		if t := bytes.TrimSpace(v); len(t) > 0 && len(t) < o.MinLen() {
			short[string(t)] = true
		}
	}
	return len(short)
}

// jsonLeaves returns the string and number values inside a JSON object or
// array, so a whole-object secret (sm:prod/db) masks its password when the
// child prints only that; but not the members PublicField calls public
// (host, port, username...), which would mask ordinary words in the
// output ("orders" in a URL path) and protect nothing. An array's elements
// count as members of the key that holds the array.
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
	var walk func(key string, x any)
	walk = func(key string, x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(key, e)
			}
		case string:
			if !PublicField(key) {
				out = append(out, []byte(x))
			}
		case json.Number:
			if !PublicField(key) {
				out = append(out, []byte(x))
			}
		}
	}
	walk("", doc)
	return out
}

// publicWords are the names of JSON members that hold, by convention,
// what is not secret: where a service is and which account and database
// to use, beside the password. They are the fields of an Amazon RDS or
// Alibaba Cloud database secret, but for password. A key is public when
// its last word, or its last two words run together, is one of them:
// host, DB_HOST, replicaHost, user_name, dbName, dbInstanceIdentifier.
var publicWords = []string{
	"host", "hostname", "port", "user", "username", "dbname", "database",
	"engine", "region", "instanceidentifier", "clusteridentifier",
}

// PublicField reports whether a JSON member named key (or a dotenv or TOML
// key of a file: reference, or the last key of a template's json path) is
// left unmasked because its name says it holds no secret: see
// publicWords. Words are split at every character that is not a letter or
// a digit and where lower case turns to upper case; case is ignored.
func PublicField(key string) bool {
	words := keyWords(key)
	n := len(words)
	if n == 0 {
		return false
	}
	if slices.Contains(publicWords, words[n-1]) {
		return true
	}
	return n >= 2 && slices.Contains(publicWords, words[n-2]+words[n-1])
}

// keyWords splits a key into its lower-case words: at each character that
// is not a letter or a digit, before an upper-case letter that follows a
// lower-case one (dbName), and before the last capital of a run followed by
// a lower-case letter (DBName).
func keyWords(key string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(key)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) ||
			unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			flush()
		}
		cur = append(cur, unicode.ToLower(r))
	}
	flush()
	return words
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

// base64Alphabet is a base64 alphabet and its unpadded encoding.
type base64Alphabet struct {
	chars string
	enc   *base64.Encoding
}

func base64Alphabets() [2]base64Alphabet {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	const urlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return [2]base64Alphabet{{std, base64.RawStdEncoding}, {urlSafe, base64.RawURLEncoding}}
}

// base64Forms returns what to mask so that no character of the base64
// encoding of some data that holds v, shift bytes (mod 3) into it, shows a
// bit of v. Each character encodes 6 bits of the data:
//
//   - the core: the characters made of v's bits only;
//   - at each end where v does not fill a character (a shift of 1 or 2 at
//     the start; a length that ends v inside a 3-byte group at the end), one
//     character mixes v's bits with 2 or 4 bits of the unknown neighbouring
//     byte: it is masked in each of its 4 or 16 possible values, as that
//     character followed (or preceded) by the core. A match of such a form
//     overlaps the core's, and the two become one masked span;
//   - when v ends the data, the padding after its last character ("=" or
//     "=="), so no residue such as "*****A==" is left.
//
// What stays visible is what holds no bit of v: the characters of the
// neighbouring bytes, and the padding when v does not end the data. Not
// caught: an encoding broken by line wraps (base64 wraps at 76 columns) or
// other characters between those of v.
func base64Forms(a base64Alphabet, v []byte, shift int) [][]byte {
	buf := make([]byte, shift+len(v))
	copy(buf[shift:], v)
	s := a.enc.EncodeToString(buf) // the neighbouring bits are zero
	// The shift bytes before v fill 8*shift bits: characters [0, lead-1)
	// are theirs alone, character lead-1 is mixed when shift > 0.
	lead := (8*shift + 5) / 6
	// When v ends inside a 3-byte group, the last character also holds the
	// top bits of the next byte (zero in s), and padding follows it when
	// the data ends there.
	rest := (shift + len(v)) % 3
	trail := min(rest, 1)
	if lead+trail >= len(s) {
		return nil
	}
	core := s[lead : len(s)-trail]
	forms := [][]byte{[]byte(core)}
	if shift > 0 {
		// The mixed first character: its top (8*shift)%6 bits are the
		// previous byte's.
		unknown := 8 * shift % 6
		c := strings.IndexByte(a.chars, s[lead-1])
		for u := range 1 << unknown {
			forms = append(forms, []byte(string(a.chars[c|u<<(6-unknown)])+core))
		}
	}
	if rest > 0 {
		// The mixed last character: its low 6-(8*rest)%6 bits are the next
		// byte's.
		unknown := 6 - 8*rest%6
		c := strings.IndexByte(a.chars, s[len(s)-1])
		for u := range 1 << unknown {
			forms = append(forms, []byte(core+string(a.chars[c|u])))
		}
		// v ends the data: its last character as encoded, and the padding.
		forms = append(forms, []byte(core+s[len(s)-1:]+strings.Repeat("=", 3-rest)))
	}
	return forms
}

// urlForms returns v percent-encoded as URLs carry it: as a query value
// (url.QueryEscape: space as "+"), as a path segment (url.PathEscape), and
// with every byte but RFC 3986's unreserved ones escaped (space as "%20"),
// as JavaScript's encodeURIComponent (but for !'()*), Python's
// quote(safe="") and shroud's urlEncode template function write it. Forms
// equal to v are left out.
func urlForms(v []byte) [][]byte {
	q := url.QueryEscape(string(v))
	forms := [][]byte{[]byte(q), []byte(url.PathEscape(string(v))), []byte(strings.ReplaceAll(q, "+", "%20"))}
	return slices.DeleteFunc(forms, func(f []byte) bool { return bytes.Equal(f, v) })
}
