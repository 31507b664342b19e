package logdriver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// maskAll runs text through a fresh stream in the given write sizes and
// returns everything emitted.
func maskAll(m *Masker, text []byte, sizes ...int) []byte {
	var st maskStream
	var out, held []byte
	for len(text) > 0 {
		n := len(text)
		if len(sizes) > 0 {
			n = min(n, sizes[0])
			sizes = append(sizes[1:], sizes[0])
		}
		buf := append(append([]byte(nil), held...), text[:n]...)
		text = text[n:]
		emit, hold := st.process(m, buf, false)
		out = append(out, emit...)
		held = append([]byte(nil), buf[hold:]...)
	}
	emit, _ := st.process(m, held, true)
	return append(out, emit...)
}

// naiveMask is the specification: every occurrence of every pattern, found
// by brute force; overlapping occurrences become one MaskText.
func naiveMask(patterns [][]byte, text []byte) []byte {
	var spans []span
	for i := range text {
		for _, p := range patterns {
			if len(p) >= minPattern && bytes.HasPrefix(text[i:], p) {
				if k := len(spans); k > 0 && i < spans[k-1].end {
					spans[k-1].end = max(spans[k-1].end, i+len(p))
				} else {
					spans = append(spans, span{i, i + len(p)})
				}
			}
		}
	}
	var out []byte
	at := 0
	for _, s := range spans {
		out = append(append(out, text[at:s.start]...), MaskText...)
		at = s.end
	}
	return append(out, text[at:]...)
}

func TestMaskSplitEverywhere(t *testing.T) {
	secret := "canary-mask-Qw3rT9"
	m := NewMasker([][]byte{[]byte(secret)}, MaskOptions{})
	text := []byte("before " + secret + " middle " + secret + secret + " after\n")
	want := "before ***** middle ***** after\n" // adjacent copies touch, not overlap
	want = strings.Replace(want, "***** after", "********** after", 1)
	for size := 1; size <= len(text); size++ {
		got := string(maskAll(m, text, size))
		if got != want {
			t.Fatalf("writes of %d bytes: got %q, want %q", size, got, want)
		}
	}
	// Every split point of a two-write stream.
	for i := range text {
		if got := string(maskAll(m, text, i+1, len(text))); got != want {
			t.Fatalf("split at %d: %q", i+1, got)
		}
	}
}

// TestMaskHoldsOnlyPossibleStarts checks that output is not delayed: only
// the tail that may begin a secret is kept back, never a whole line.
func TestMaskHoldsOnlyPossibleStarts(t *testing.T) {
	m := NewMasker([][]byte{[]byte("topsecret-value")}, MaskOptions{})
	var st maskStream
	emit, hold := st.process(m, []byte("\x1b[31mred prompt> "), false)
	if string(emit) != "\x1b[31mred prompt> " || hold != len("\x1b[31mred prompt> ") {
		t.Fatalf("emit %q hold %d", emit, hold)
	}
	text := []byte("progress 50% top")
	emit, hold = st.process(m, text, false)
	if string(emit) != "progress 50% " || string(text[hold:]) != "top" {
		t.Fatalf("emit %q held %q", emit, text[hold:])
	}
	text = []byte("topsecret-val")
	emit, hold = st.process(m, text, false)
	if string(emit) != "" || hold != 0 {
		t.Fatalf("emit %q hold %d", emit, hold)
	}
	text = []byte("topsecret-value-able topsecret-vax.")
	emit, hold = st.process(m, text, false)
	if string(emit) != "*****-able topsecret-vax." || hold != len(text) {
		t.Fatalf("emit %q held %q", emit, text[hold:])
	}
}

func TestMaskForms(t *testing.T) {
	secret := []byte("p@ss\"word\n/é<1>")
	m := NewMasker([][]byte{append(secret, '\n'), []byte(`{"user":"app","password":"json-leaf-Zx81"}`)}, MaskOptions{Base64: true, JSON: true})
	js, _ := json.Marshal(map[string]string{"msg": string(secret)})
	var py strings.Builder
	py.WriteString(`{"msg": "`)
	py.Write(asciiJSON(secret))
	py.WriteString(`"}`)
	for _, text := range []string{
		"raw " + string(secret) + " end",
		"go json " + string(js),
		"python json " + py.String(),
		"leaf json-leaf-Zx81 end",
	} {
		out := maskAll(m, []byte(text), 3)
		if bytes.Contains(out, secret) || bytes.Contains(out, []byte("json-leaf-Zx81")) || !bytes.Contains(out, []byte(MaskText)) {
			t.Errorf("%q -> %q", text, out)
		}
	}
	// base64 of the secret inside larger data, at every alignment, in both
	// alphabets.
	for pre := range 6 {
		for post := range 4 {
			data := append(append(bytes.Repeat([]byte{'x'}, pre), secret...), bytes.Repeat([]byte{'y'}, post)...)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				text := "token=" + enc.EncodeToString(data) + ";"
				out := maskAll(m, []byte(text), 7)
				if !bytes.Contains(out, []byte(MaskText)) {
					t.Errorf("pre %d post %d: base64 not masked: %q", pre, post, out)
				}
				// What is left cannot decode to the secret.
				if dec, err := enc.DecodeString(strings.TrimSuffix(strings.TrimPrefix(string(out), "token="), ";")); err == nil && bytes.Contains(dec, secret) {
					t.Errorf("pre %d post %d: %q still decodes to the secret", pre, post, out)
				}
			}
		}
	}
}

func TestMaskMinLength(t *testing.T) {
	m := NewMasker([][]byte{[]byte("short"), []byte("longer-one")}, MaskOptions{})
	if got := string(maskAll(m, []byte("short longer-one"))); got != "short *****" {
		t.Fatalf("got %q", got)
	}
	m = NewMasker([][]byte{[]byte("short")}, MaskOptions{MinLength: 4})
	if got := string(maskAll(m, []byte("short"))); got != "*****" {
		t.Fatalf("got %q", got)
	}
}

// TestMaskRotation checks that after new values arrive, old ones stay
// masked too.
func TestMaskRotation(t *testing.T) {
	m := NewMasker([][]byte{[]byte("old-value-111")}, MaskOptions{})
	var st maskStream
	text := []byte("a old-value-1")
	emit, hold := st.process(m, text, false)
	if string(emit) != "a " {
		t.Fatalf("emit %q", emit)
	}
	m.Add([][]byte{[]byte("new-value-222")})
	text = append(text[hold:], "11 new-value-222 b"...)
	emit, _ = st.process(m, text, true)
	if string(emit) != "***** ***** b" {
		t.Fatalf("emit %q", emit)
	}
}

func TestMaskManyPatternsAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "abcdefgh"
	var values [][]byte
	for range 100 {
		v := make([]byte, 4+r.IntN(12))
		for i := range v {
			v[i] = alphabet[r.IntN(len(alphabet))]
		}
		values = append(values, v)
	}
	m := NewMasker(values, MaskOptions{MinLength: 4})
	pats := maskPatterns(values, MaskOptions{MinLength: 4})
	for trial := range 200 {
		text := make([]byte, r.IntN(300))
		for i := range text {
			text[i] = alphabet[r.IntN(len(alphabet))]
		}
		want := naiveMask(pats, text)
		got := maskAll(m, text, 1+r.IntN(40), 1+r.IntN(40))
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d:\n got %q\nwant %q", trial, got, want)
		}
	}
}

// FuzzMask checks the streaming masker against the brute-force
// specification, for any values, text and write sizes.
func FuzzMask(f *testing.F) {
	f.Add([]byte("abcd\x00abcdef\x00bcde"), []byte("xxabcdefabcdebcdeyy"), uint8(3), uint8(5))
	f.Add([]byte("secret-one\x00secret-two"), []byte("secret-onsecret-twosecret-one"), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, valueList, text []byte, s1, s2 uint8) {
		values := bytes.Split(valueList, []byte{0})
		if len(values) > 64 {
			values = values[:64]
		}
		opts := MaskOptions{MinLength: MinMaskMinLength, Base64: true, JSON: true}
		m := NewMasker(values, opts)
		want := naiveMask(maskPatterns(values, opts), text)
		got := maskAll(m, text, int(s1)+1, int(s2)+1)
		if !bytes.Equal(got, want) {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}

// FuzzBase64Form checks that the form masked for an alignment is inside the
// encoding of any data holding the value at that alignment.
func FuzzBase64Form(f *testing.F) {
	f.Add([]byte("secret"), []byte("ab"), []byte("c"))
	f.Fuzz(func(t *testing.T, v, before, after []byte) {
		data := append(append(append([]byte(nil), before...), v...), after...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			form := base64Form(enc, v, len(before)%3)
			if len(v) >= 3 && len(form) == 0 {
				t.Fatalf("no form for %d bytes", len(v))
			}
			if s := enc.EncodeToString(data); !strings.Contains(s, string(form)) {
				t.Fatalf("%s does not contain %s", s, form)
			}
		}
	})
}

func ExampleMasker_Redact() {
	m := NewMasker([][]byte{[]byte("hunter2-secret")}, MaskOptions{})
	fmt.Println(m.Redact("dial tcp hunter2-secret:514: connection refused"))
	// Output: dial tcp *****:514: connection refused
}
