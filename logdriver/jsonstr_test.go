package logdriver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceJSONString is the escaping appendJSONString must match byte for
// byte, written the plain way, a byte at a time, with the rules of Docker's
// json-file writer (its jsonlog package).
func referenceJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				dst = append(dst, `\ufffd`...)
			case r == '\u2028':
				dst = append(dst, `\u2028`...)
			case r == '\u2029':
				dst = append(dst, `\u2029`...)
			default:
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
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// TestAppendJSONStringAsDocker checks lines against what Docker Engine's
// json-file driver wrote for them (e2e/docker compares with the daemon).
func TestAppendJSONStringAsDocker(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"tab\there ctrl\x01 esc\x1b[31m", `"tab\u0009here ctrl\u0001 esc\u001b[31m"`},
		{"invalid \xff\xfe utf8 \u00e9 ok", `"invalid \ufffd\ufffd utf8 ` + "\u00e9" + ` ok"`},
		{"html <a href=\"x\">&amp;</a> \u2028 \u2029", `"html \u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e \u2028 \u2029"`},
		{"cr\r\n del\x7f back\\slash", `"cr\r\n del` + "\x7f" + ` back\\slash"`},
	} {
		if got := appendJSONString(nil, []byte(tt.line)); string(got) != tt.want {
			t.Errorf("%q: got %s, want %s", tt.line, got, tt.want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "a", "1234567", "12345678", "123456789", "\"", "\\", "\x00\x01\x1f\x20\x7f", "<>&<>&<>&", "!#%'=?;:",
		"\u2028\u2029\u2027\u202a", "\"&\"&<><>\"", "\x24\x26\x3c\x3d\x3e\x3f\x22\x23\x20\x21\x27",
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
