package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/shroud-dev/shroud/internal/bounded"
	"github.com/shroud-dev/shroud/internal/jsonform"
)

// objectKeys is an object's value split into its keys, or why it cannot
// be. A resolve splits each object once, however many references select
// keys of it.
type objectKeys struct {
	format string // json, dotenv or toml
	fields map[string][]byte
	err    error
}

// maxKeyedSize bounds a value split into keys: parsing costs far more
// than reading (a 16 MiB TOML file takes its parser tens of seconds), and
// a secret's keys fit in far less (Secrets Manager's values are at most
// 64 KiB).
const maxKeyedSize = 4 << 20

// splitKeys splits the value of obj for key selection: a JSON object for
// cloud secrets; for file: references, a JSON, dotenv or TOML file chosen
// by its extension.
func splitKeys(obj Ref, data []byte) objectKeys {
	k := objectKeys{format: "json"}
	if obj.Backend == File {
		if k.format = fileFormat(obj.ID); k.format == "" {
			k.err = errors.New("#KEY needs a .json, .env or .toml file (or drop #KEY to read the whole file)")
			return k
		}
	}
	if len(data) > maxKeyedSize {
		k.err = fmt.Errorf("the value is larger than %s, the most shroud splits into keys", bounded.Size(maxKeyedSize))
		return k
	}
	switch k.format {
	case "json":
		k.fields, k.err = jsonform.Fields(data)
	case "dotenv":
		k.fields, k.err = ParseDotenv(data)
	case "toml":
		k.fields, k.err = tomlFields(data)
	}
	return k
}

// key returns the value of a key. Errors name the key, never the value.
func (k objectKeys) key(name string) ([]byte, error) {
	if k.err != nil {
		return nil, fmt.Errorf("cannot select key %q: %w", name, k.err)
	}
	v, ok := k.fields[name]
	if !ok {
		return nil, fmt.Errorf("key %q not found; the %s object has %s", name, k.format, jsonform.DescribeKeys(k.fields))
	}
	return v, nil
}

// fileFormat tells the structured format of a file by its name.
func fileFormat(path string) string {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(base, ".json"):
		return "json"
	case strings.HasSuffix(base, ".toml"):
		return "toml"
	case IsDotenvName(path):
		return "dotenv"
	}
	return ""
}

// IsDotenvName reports whether a file is a dotenv file by its name: .env,
// NAME.env or .env.NAME, in any case. Both file: sources and [[files]]
// targets go by it.
func IsDotenvName(path string) bool {
	base := strings.ToLower(filepath.Base(path))
	return base == ".env" || strings.HasSuffix(base, ".env") || strings.HasPrefix(base, ".env.")
}

// tomlFields returns the top-level keys of a TOML document. Strings are their
// text; other values are written in JSON form, as jsonform writes the
// members of JSON secrets.
func tomlFields(data []byte) (map[string][]byte, error) {
	if err := bounded.CheckTOML(data); err != nil {
		return nil, fmt.Errorf("the file is not TOML shroud reads: %w", err)
	}
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if perr, ok := err.(toml.ParseError); ok {
			// The line of the offending byte: the decoder counts an
			// unexpected newline on the line after it.
			start := min(max(perr.Position.Start, 0), len(data))
			return nil, fmt.Errorf("the file is not valid TOML (line %d)", 1+bytes.Count(data[:start], []byte("\n")))
		}
		return nil, fmt.Errorf("the file is not valid TOML")
	}
	fields := make(map[string][]byte, len(doc))
	for k, v := range doc {
		if s, ok := v.(string); ok {
			fields[k] = []byte(s)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("key %q has a value that has no JSON form", k)
		}
		fields[k] = b
	}
	return fields, nil
}

// ParseDotenv parses a dotenv file: KEY=VALUE lines, optional "export ",
// '#' comments, single-quoted values taken literally, double-quoted values
// with \n \r \t \" \\ escapes, unquoted values trimmed and ended by " #".
//
// Nothing is expanded: a secret containing '$' must arrive byte for byte,
// which is why this is not a general-purpose dotenv library. Errors give the
// line number, never the line.
func ParseDotenv(data []byte) (map[string][]byte, error) {
	fields := map[string][]byte{}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	lineNo := 0
	// Each byte is read once: a quoted value is scanned from its opening
	// quote to its closing one, then parsing goes on after that line.
	for pos := 0; pos < len(s); {
		lineNo++
		end := lineEnd(s, pos)
		next := end + 1
		// Only the left: a quoted value may end its first line with spaces.
		line := strings.TrimLeft(s[pos:end], " \t")
		pos = next
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
			start := end - len(rest) + 1 // rest ends the line: its body starts here
			// A quoted value may span lines.
			n := closingQuote(s[start:], quote)
			if n < 0 {
				return nil, fmt.Errorf("line %d: unterminated quoted value", lineNo)
			}
			value = s[start : start+n]
			end = lineEnd(s, start+n)
			if tail := strings.TrimSpace(s[start+n+1 : end]); tail != "" && tail[0] != '#' {
				return nil, fmt.Errorf("line %d: text after the closing quote", lineNo)
			}
			lineNo += strings.Count(value, "\n")
			if quote == '"' {
				value = unescapeDouble(value)
			}
			pos = end + 1
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

// lineEnd returns the index of the newline that ends the line at pos, or
// len(s).
func lineEnd(s string, pos int) int {
	if i := strings.IndexByte(s[pos:], '\n'); i >= 0 {
		return pos + i
	}
	return len(s)
}

func validDotenvKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(isAlnum(c) || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// closingQuote finds the quote that ends s; in double quotes a backslash
// escapes the next byte.
func closingQuote(s string, q byte) int {
	for i := 0; i < len(s); i++ {
		if q == '"' && s[i] == '\\' {
			i++
			continue
		}
		if s[i] == q {
			return i
		}
	}
	return -1
}

func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
