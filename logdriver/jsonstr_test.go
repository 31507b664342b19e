package logdriver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceJSONString is the escaping appendJSONString must match byte for
// byte, written the plain way: a byte at a time.
func referenceJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "a", "1234567", "12345678", "123456789", "\"", "\\", "\x00\x01\x1f\x20\x7f",
		"tab\there \"quoted\" back\\slash é \xff\xfe \x00\x1f\x7f \u2028 <&>",
		`{"ts":"2024-05-01T12:00:00Z","level":"info","msg":"user action"}`,
		"日本語のログ行", "\xe6\x97", "x\xe6\x97\xa5\xe6\x97", strings.Repeat("ab\"c", 40),
	} {
		got := appendJSONString([]byte("prefix"), []byte(s))
		want := referenceJSONString([]byte("prefix"), []byte(s))
		if !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("plain ascii text, long enough for words"))
	f.Add([]byte("tab\there \"quoted\" back\\slash é \xff\xfe \x00\x1f\x7f \u2028"))
	f.Fuzz(func(t *testing.T, s []byte) {
		out := appendJSONString(nil, s)
		if want := referenceJSONString(nil, s); !bytes.Equal(out, want) {
			t.Fatalf("%q: got %s, want %s", s, out, want)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: invalid JSON %q: %v", s, out, err)
		}
		if want := strings.ToValidUTF8(string(s), "\uFFFD"); utf8.Valid(s) && got != want {
			t.Fatalf("%q round-trips to %q", s, got)
		}
		if !utf8.Valid(s) {
			// Each invalid byte becomes one U+FFFD.
			var want []rune
			for b := s; len(b) > 0; {
				r, n := utf8.DecodeRune(b)
				want = append(want, r)
				b = b[n:]
			}
			if got != string(want) {
				t.Fatalf("%q decodes to %q, want %q", s, got, string(want))
			}
		}
	})
}
