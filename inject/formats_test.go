package inject

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/magiconair/properties"
	"go.yaml.in/yaml/v3"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/sources"
)

// awkward values: every format must give them back byte for byte.
var awkward = []string{
	"", "plain", "with space", " leading and trailing ", "it's", `say "hi"`, `back\slash`, "$HOME ${HOME} `id` $(id)",
	"line1\nline2", "crlf\r\nend", "tab\there", "# not a comment", "a=b:c!d#e", "ünïcödé ✓ 😀", "\u2028\u2029\u0085\ufeff",
	"\x01\x1f\x7f", "yes", "null", "~", "-", "---", "0123", "1e3", "@at", "&anchor", "*alias", "!tag", "%pct", "[a, b]", "{a: b}",
	"trailing\\", "'single'", `"double"`, "\\n literal", "= leading equals", ": leading colon", "canary-" + canary,
}

// parsers read each format back with an independent implementation.
var parsers = map[config.Format]func(t testing.TB, data []byte) map[string]string{
	config.JSON: func(t testing.TB, data []byte) map[string]string {
		var m map[string]string
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("json: %v\n%s", err, data)
		}
		return m
	},
	config.YAML: func(t testing.TB, data []byte) map[string]string {
		var m map[string]string
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatalf("yaml: %v\n%s", err, data)
		}
		return m
	},
	// magiconair/properties reads \uXXXX escapes one at a time, so it
	// cannot join the surrogate pairs that Java's Properties.store writes
	// (and Properties.load reads) for characters beyond U+FFFF; those pairs
	// are joined first. TestPropertiesAstral checks the pairs themselves.
	config.Properties: func(t testing.TB, data []byte) map[string]string {
		l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
		p, err := l.LoadBytes(joinSurrogates(data))
		if err != nil {
			t.Fatalf("properties: %v\n%s", err, data)
		}
		return p.Map()
	},
	config.Dotenv: func(t testing.TB, data []byte) map[string]string {
		fields, err := sources.ParseDotenv(data)
		if err != nil {
			t.Fatalf("dotenv: %v\n%s", err, data)
		}
		m := map[string]string{}
		for k, v := range fields {
			m[k] = string(v)
		}
		return m
	},
}

// joinSurrogates rewrites each \uD83D\uDE00-style pair as the character's
// UTF-8, leaving every other escape (\\ included) as it is.
func joinSurrogates(data []byte) []byte {
	var out []byte
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			out = append(out, data[i])
			continue
		}
		hi, ok1 := hex4(i)
		lo, ok2 := hex4(i + 6)
		if ok1 && ok2 && utf16.IsSurrogate(hi) && utf16.IsSurrogate(lo) {
			out = utf8.AppendRune(out, utf16.DecodeRune(hi, lo))
			i += 11
			continue
		}
		out = append(out, data[i]) // an escape: keep it and the escaped byte
		if i+1 < len(data) {
			i++
			out = append(out, data[i])
		}
	}
	return out
}

func entriesOf(values []string, keyed func(i int, v string) string) ([]entry, map[string]string) {
	var es []entry
	want := map[string]string{}
	for i, v := range values {
		k := keyed(i, v)
		es = append(es, entry{key: k, value: []byte(v), ref: "file:x"})
		want[k] = v
	}
	return es, want
}

func TestFormatsRoundTrip(t *testing.T) {
	for format, parse := range parsers {
		t.Run(string(format), func(t *testing.T) {
			values := awkward
			if format == config.Dotenv { // some values are refused (TestDotenvRefusals)
				values = nil
				for _, v := range awkward {
					if _, err := dotenvValue(v); err == nil {
						values = append(values, v)
					}
				}
			}
			entries, want := entriesOf(values, func(i int, _ string) string { return fmt.Sprintf("KEY_%d", i) })
			if format != config.Dotenv { // keys need escaping too
				for i, k := range []string{"a.b", "with space", "k=v:w", "yes", "ünï", "#hash", "!bang", "1st"} {
					entries = append(entries, entry{key: k, value: []byte(awkward[i]), ref: "file:x"})
					want[k] = awkward[i]
				}
			}
			data, err := encode(format, entries)
			if err != nil {
				t.Fatal(err)
			}
			got := parse(t, data)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %q read back as %q\n%s", format, v, got[k], data)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d keys read back, want %d", len(got), len(want))
			}
		})
	}
}

// TestPropertiesAstral checks that a character beyond U+FFFF is written as
// Java's Properties.store writes it: a UTF-16 surrogate pair.
func TestPropertiesAstral(t *testing.T) {
	data, err := encode(config.Properties, []entry{{key: "smile", value: []byte("😀")}})
	if err != nil || string(data) != `smile=\uD83D\uDE00`+"\n" {
		t.Fatalf("got %q, %v", data, err)
	}
}

func TestFormatsRefuseBinary(t *testing.T) {
	for format := range parsers {
		_, err := encode(format, []entry{{key: "K", value: []byte("a\x00" + canary), ref: "file:blob"}})
		if err == nil || !strings.Contains(err.Error(), `"file:blob" for K is binary`) || strings.Contains(err.Error(), canary) {
			t.Errorf("%s: err = %v", format, err)
		}
	}
}

// FuzzFormats checks that every format reads back any text value exactly,
// with an independent parser.
//
//	go test ./inject -run '^$' -fuzz FuzzFormats -fuzztime 60s -fuzzminimizetime 2s
func FuzzFormats(f *testing.F) {
	for _, v := range awkward {
		f.Add("some.key", v)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		if !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
			if _, err := encode(config.JSON, []entry{{key: "K", value: []byte(value)}}); err == nil {
				t.Fatal("binary value accepted")
			}
			return
		}
		for format, parse := range parsers {
			k := key
			if format == config.Dotenv || !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 || strings.TrimSpace(k) == "" {
				k = "KEY" // dotenv keys are variable names, checked with the config
			}
			if _, err := dotenvValue(value); format == config.Dotenv && err != nil {
				continue // refused: FuzzDotenvReaders
			}
			data, err := encode(format, []entry{{key: k, value: []byte(value)}, {key: k + "_2", value: []byte("next")}})
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			got := parse(t, data)
			if got[k] != value || got[k+"_2"] != "next" {
				t.Fatalf("%s: %q = %q read back as %q\n%s", format, k, value, got[k], data)
			}
			// The spans of the values (what masking takes as written) are in
			// order, and the second is "next" as the format writes it.
			_, spans, _ := encodeSpans(format, []entry{{key: k, value: []byte(value)}, {key: k + "_2", value: []byte("next")}})
			want := map[config.Format]string{config.JSON: `"next"`, config.YAML: `"next"`}[format]
			if s0, s1 := spans[0], spans[1]; s0.Start > s0.End || s0.End > s1.Start || s1.End > len(data) || string(data[s1.Start:s1.End]) != cmp.Or(want, "next") {
				t.Fatalf("%s: spans %v in %q", format, spans, data)
			}
		}
	})
}
