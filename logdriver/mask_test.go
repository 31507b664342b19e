package logdriver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
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
	pats := maskPatterns(values, nil, MaskOptions{MinLength: 4})
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
	f.Add([]byte(`{"DB_HOST":"db.internal","dbName":"orders","api_key":["tok-abcdef"],"nested":{"userName":"app-user"}}`),
		[]byte("GET /orders from db.internal with tok-abcdef by app-user"), uint8(4), uint8(9))
	f.Fuzz(func(t *testing.T, valueList, text []byte, s1, s2 uint8) {
		values := bytes.Split(valueList, []byte{0})
		if len(values) > 64 {
			values = values[:64]
		}
		opts := MaskOptions{MinLength: MinMaskMinLength, Base64: true, JSON: true, URL: true}
		m := NewMasker(values, opts)
		want := naiveMask(maskPatterns(values, nil, opts), text)
		got := maskAll(m, text, int(s1)+1, int(s2)+1)
		if !bytes.Equal(got, want) {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}

// base64Encodings are the four ways base64 is written.
var base64Encodings = []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}

// base64Span returns the characters of enc's encoding of before+v+after
// that hold a bit of v, [from, to), with the padding when v ends the data.
func base64Span(enc *base64.Encoding, before, v, after int) (from, to int) {
	from, to = 8*before/6, (8*(before+v)+5)/6
	if after == 0 {
		to = enc.EncodedLen(before + v)
	}
	return from, to
}

// TestMaskBase64WholeForm checks that a value's base64 is masked whole,
// at every alignment and in every encoding: every character that holds a
// bit of it, and the padding when it ends the data (no "*****A=="), and
// nothing of the data around it.
func TestMaskBase64WholeForm(t *testing.T) {
	for _, secret := range []string{"canary-b64-Zq1", "canary-b64-Zq12", "canary-b64-Zq123"} {
		m := NewMasker([][]byte{[]byte(secret)}, MaskOptions{Base64: true})
		for pre := range 6 {
			for post := range 4 {
				data := strings.Repeat("x", pre) + secret + strings.Repeat("y", post)
				for _, enc := range base64Encodings {
					text := enc.EncodeToString([]byte(data))
					from, to := base64Span(enc, pre, len(secret), post)
					want := text[:from] + MaskText + text[to:]
					if got := string(maskAll(m, []byte(text), 5)); got != want {
						t.Errorf("%q after %d bytes, followed by %d: got %q, want %q", secret, pre, post, got, want)
					}
				}
			}
		}
	}
	// As printed by base64(1): the whole line is masked.
	m := NewMasker([][]byte{[]byte(MaskCanary)}, MaskOptions{Base64: true})
	line := base64.StdEncoding.EncodeToString([]byte(MaskCanary)) + "\n"
	if got := string(maskAll(m, []byte(line))); got != MaskText+"\n" {
		t.Errorf("base64 of the secret alone: %q", got)
	}
}

// FuzzBase64Form checks, for any value and data around it, that every
// character of the data's base64 that holds a bit of the value is masked,
// in every encoding.
func FuzzBase64Form(f *testing.F) {
	f.Add([]byte("secret"), []byte("ab"), []byte("c"))
	f.Add([]byte("\xff\xfe\x00\x01"), []byte("\xff"), []byte(""))
	f.Fuzz(func(t *testing.T, v, before, after []byte) {
		if len(v) < MinMaskMinLength || len(v)+len(before)+len(after) > 4096 {
			return
		}
		m := NewMasker([][]byte{v}, MaskOptions{MinLength: MinMaskMinLength, Base64: true})
		data := append(append(append([]byte(nil), before...), v...), after...)
		for _, enc := range base64Encodings {
			text := []byte(enc.EncodeToString(data))
			from, to := base64Span(enc, len(before), len(v), len(after))
			found, _ := m.current.Load().scan(text, true, nil)
			covered := false
			end := -1 // the end of the merged span being built
			start := 0
			for _, s := range found {
				if s.start >= end {
					start, end = s.start, s.end
				}
				end = max(end, s.end)
				if start <= from && end >= to {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("%s: characters [%d,%d) of %q hold the value; masked spans %v", enc.EncodeToString(nil), from, to, text, found)
			}
		}
	})
}

func ExampleMasker_Redact() {
	m := NewMasker([][]byte{[]byte("hunter2-secret")}, MaskOptions{})
	fmt.Println(m.Redact("dial tcp hunter2-secret:514: connection refused"))
	// Output: dial tcp *****:514: connection refused
}

// TestMaskURLForms checks the percent-encoded forms of a value, as a DSN,
// a query string and a path carry it, and that mask_encodings without
// "url" leaves them alone.
func TestMaskURLForms(t *testing.T) {
	secret := "p@ss w/rd+%~é:" + MaskCanary
	texts := []string{
		"postgres://app:" + url.QueryEscape(secret) + "@db.internal/orders",
		"GET /tokens/" + url.PathEscape(secret) + "/info",
		"GET /login?password=" + strings.ReplaceAll(url.QueryEscape(secret), "+", "%20") + "&next=/",
	}
	m := NewMasker([][]byte{[]byte(secret)}, MaskOptions{URL: true})
	for _, text := range texts {
		out := string(maskAll(m, []byte(text), 7))
		if strings.Contains(out, "canary") || !strings.Contains(out, MaskText) {
			t.Errorf("%q -> %q", text, out)
		}
	}
	if got := string(maskAll(m, []byte("orders db.internal"))); got != "orders db.internal" {
		t.Errorf("plain text changed: %q", got)
	}
	off, err := MaskOptions{}.WithEncodings([]string{"base64", "json"})
	if err != nil {
		t.Fatal(err)
	}
	m = NewMasker([][]byte{[]byte(secret)}, off)
	if out := string(maskAll(m, []byte(texts[0]))); out != texts[0] {
		t.Errorf("url off: %q was masked: %q", texts[0], out)
	}
	if _, err := (MaskOptions{}).WithEncodings([]string{"url", "rot13"}); err == nil || !strings.Contains(err.Error(), `"rot13"`) || !strings.Contains(err.Error(), "base64, json, url") {
		t.Errorf("unknown encoding: %v", err)
	}
}

// TestMaskDerivedForms checks forms the engine adds: masked as given and
// trimmed, JSON-escaped, never shorter than the minimum, and kept when
// values are added later.
func TestMaskDerivedForms(t *testing.T) {
	m := NewMasker(nil, MaskOptions{JSON: true})
	line := []byte("  dsn = \"postgres://app:p%40ss-Qx7@db/orders\"\n")
	m.AddForms([][]byte{line, []byte("p%40s")}) // the short form is dropped
	m.Add([][]byte{[]byte("rotated-value-1")})
	js, _ := json.Marshal(map[string]string{"line": strings.TrimSpace(string(line))})
	for text, want := range map[string]string{
		string(line): MaskText, // the form as given, white space and all
		"config: " + strings.TrimSpace(string(line)) + ".": "config: *****.",
		string(js):              `{"line":"*****"}`,
		"p%40s rotated-value-1": "p%40s *****",
	} {
		if got := string(maskAll(m, []byte(text), 3)); got != want {
			t.Errorf("%q -> %q, want %q", text, got, want)
		}
	}
}

// TestMaskJSONPublicFields: a whole-object secret masks its members, but
// not those whose names say they are not secret (an RDS secret's host,
// port, username, dbname...), so ordinary words in the output, such as a
// database name in a URL path, stay readable.
func TestMaskJSONPublicFields(t *testing.T) {
	obj := `{"engine":"postgres","username":"orders","password":"s3cr3t/p@ss-Jq2","host":"db.internal","port":543210,
	  "dbname":"orders","dbInstanceIdentifier":"orders-prod","api_token":"tok-7f3a9c","replicas":[{"host":"r1.internal"}],
	  "pin":"918273","nested":{"DB_HOST":"other.internal","private_key":"pk-Zr81x0"}}`
	m := NewMasker([][]byte{[]byte(obj)}, MaskOptions{JSON: true, URL: true})
	for text, want := range map[string]string{
		"GET /orders/42 on db.internal:543210 (postgres, orders-prod)": "GET /orders/42 on db.internal:543210 (postgres, orders-prod)",
		"replica r1.internal and other.internal":                       "replica r1.internal and other.internal",
		"pw=s3cr3t/p@ss-Jq2 token=tok-7f3a9c pin=918273 key=pk-Zr81x0": "pw=***** token=***** pin=***** key=*****",
	} {
		if got := string(maskAll(m, []byte(text), 5)); got != want {
			t.Errorf("%q -> %q, want %q", text, got, want)
		}
	}
}

func TestPublicField(t *testing.T) {
	for key, want := range map[string]bool{
		"host": true, "Host": true, "DB_HOST": true, "replicaHost": true, "db.host": true, "hostname": true,
		"port": true, "db-port": true, "user": true, "username": true, "user_name": true, "USERNAME": true,
		"master_username": true, "dbname": true, "dbName": true, "DBName": true, "db_name": true, "database": true,
		"engine": true, "region": true, "dbInstanceIdentifier": true, "dbClusterIdentifier": true,
		"password": false, "secret": false, "token": false, "api_key": false, "name": false, "": false,
		"hostKey": false, "host_password": false, "user_token": false, "db": false, "identifier": false,
		"url": false, "dsn": false, "connection_string": false, "private_key": false,
	} {
		if got := PublicField(key); got != want {
			t.Errorf("PublicField(%q) = %v, want %v", key, got, want)
		}
	}
}
