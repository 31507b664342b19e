package sources

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDotenvQuotedKeepsSpaces checks that a quoted value keeps the spaces
// that end its lines, the first one included.
func TestDotenvQuotedKeepsSpaces(t *testing.T) {
	fields, err := ParseDotenv([]byte("A='x \ny '  \nB=\"p \nq\"\nC= bare  \n"))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"A": "x \ny ", "B": "p \nq", "C": "bare"} {
		if got := string(fields[k]); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// TestDotenvLinear parses large inputs whose quoted values run on or never
// end, which took time quadratic in the size of the file (a 1 MB file with
// an unterminated quote on line 1 took 42 s). Work is measured as bytes
// allocated, not time: a few times the input, where joining lines one by
// one allocates the square of it.
func TestDotenvLinear(t *testing.T) {
	lines := func(n int, line string) string { return strings.Repeat(line, n) }
	for _, tt := range []struct {
		name, data, err string
	}{
		{"unterminated 64 KiB", "A=\"open\n" + lines(32<<10, "x\n"), "line 1: unterminated quoted value"},
		{"unterminated 8 MiB", "A=\"open\n" + lines(4<<20, "x\n"), "line 1: unterminated quoted value"},
		{"unterminated single 8 MiB", "A='open\n" + lines(4<<20, "x\n"), "line 1: unterminated quoted value"},
		{"long value 8 MiB", "A=\"open\n" + lines(4<<20, "x\n") + "\"\nB=1\n", ""},
		{"many values 8 MiB", lines(1<<20, "A=\"x\"\n"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			fields, err := ParseDotenv([]byte(tt.data))
			runtime.ReadMemStats(&after)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if tt.err == "" && len(fields) == 0 {
				t.Fatal("no fields")
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(8*len(tt.data)+1<<20) {
				t.Fatalf("parsing %d bytes allocated %d bytes", len(tt.data), alloc)
			}
		})
	}
}

// FuzzParseDotenv checks ParseDotenv against the line-joining parser it
// replaced (dotenvOracle), on any input: the same fields, or an error on
// the same line; and an error never shows the text.
//
//	go test ./sources -run '^$' -fuzz FuzzParseDotenv -fuzztime 60s -fuzzminimizetime 2s
func FuzzParseDotenv(f *testing.F) {
	for _, s := range []string{
		"A=1\r\nexport B='x $Y \\n'\nC=\"tab\\tnew\\nq\\\"\" # c\nD=v#notcomment\nE=\"multi\nline\"\n\n# x\n",
		"A='x \ny '  \nB=\"p \nq\"\nC= bare  \n", "A=\"open\nB=2\n", "A=\"a\\\nb\" x\n", "A='it''s'\n",
		"  export  K.e-y = \"v\" # c\r\n", "=x\n", "A B=1\n", "A=\"x\"\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		got, err := ParseDotenv([]byte(data))
		want, werr := dotenvOracle([]byte(data))
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("err = %v, the line-joining parser's %v", err, werr)
		}
		if err != nil {
			if !dotenvError.MatchString(err.Error()) {
				t.Fatalf("the error may show the text: %v", err)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d fields, the line-joining parser's %d", len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Fatalf("%s = %q, the line-joining parser's %q", k, got[k], v)
			}
		}
	})
}

// dotenvError is every error ParseDotenv gives: a line number and no text.
var dotenvError = regexp.MustCompile(`^line [0-9]+( is not KEY=VALUE|: unterminated quoted value|: text after the closing quote)$`)

// dotenvOracle is ParseDotenv as it was before it became linear: it joins
// the lines of a quoted value one by one and looks for the closing quote
// again after each. Too slow for large files, simple enough to trust.
func dotenvOracle(data []byte) (map[string][]byte, error) {
	fields := map[string][]byte{}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimLeft(lines[i], " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, rest, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validDotenvKey(key) {
			return nil, fmt.Errorf("line %d is not KEY=VALUE", lineNo)
		}
		rest = strings.TrimLeft(rest, " \t")
		var value string
		switch {
		case strings.HasPrefix(rest, "'"), strings.HasPrefix(rest, `"`):
			quote := rest[0]
			body := rest[1:]
			for closingQuote(body, quote) < 0 {
				if i+1 >= len(lines) {
					return nil, fmt.Errorf("line %d: unterminated quoted value", lineNo)
				}
				i++
				body += "\n" + lines[i]
			}
			end := closingQuote(body, quote)
			if tail := strings.TrimSpace(body[end+1:]); tail != "" && tail[0] != '#' {
				return nil, fmt.Errorf("line %d: text after the closing quote", lineNo)
			}
			value = body[:end]
			if quote == '"' {
				value = unescapeDouble(value)
			}
		default:
			if j := strings.Index(rest, " #"); j >= 0 {
				rest = rest[:j]
			}
			value = strings.TrimSpace(rest)
		}
		fields[key] = []byte(value)
	}
	return fields, nil
}
