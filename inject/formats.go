package inject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shroud-dev/shroud/config"
)

// entry is one KEY = value of a file with [files.values].
type entry struct {
	key   string
	value []byte
	ref   string // for errors
}

// encode writes entries, in order, in a structured format. Every format
// escapes what it must so that any text value reads back byte for byte;
// binary values are refused, as no text format can hold them safely.
func encode(format config.Format, entries []entry) ([]byte, error) {
	for _, e := range entries {
		if !utf8.Valid(e.value) || bytes.IndexByte(e.value, 0) >= 0 {
			return nil, fmt.Errorf("the value of %q for %s is binary (NUL bytes or not UTF-8), which a %s file cannot hold; write it to its own file with value_from", e.ref, e.key, format)
		}
	}
	var b strings.Builder
	switch format {
	case config.JSON:
		b.WriteString("{\n")
		for i, e := range entries {
			fmt.Fprintf(&b, "  %s: %s", jsonString(e.key), jsonString(string(e.value)))
			if i < len(entries)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("}\n")
	case config.Dotenv:
		for _, e := range entries {
			fmt.Fprintf(&b, "%s=%s\n", e.key, dotenvValue(string(e.value)))
		}
	case config.YAML:
		for _, e := range entries {
			k := yamlKey(e.key)
			if utf8.RuneCountInString(k) > 1000 { // YAML caps implicit keys at 1024 characters
				fmt.Fprintf(&b, "? %s\n: %s\n", k, yamlQuote(string(e.value)))
				continue
			}
			fmt.Fprintf(&b, "%s: %s\n", k, yamlQuote(string(e.value)))
		}
	case config.Properties:
		for _, e := range entries {
			fmt.Fprintf(&b, "%s=%s\n", propertiesEscape(e.key, true), propertiesEscape(string(e.value), false))
		}
	default:
		return nil, fmt.Errorf("format %q cannot collect values", format)
	}
	return []byte(b.String()), nil
}

// jsonString is s as a JSON string, without HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a valid UTF-8 string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// dotenvValue writes a value so that dotenv readers (shroud's own, Docker
// Compose, node and python dotenv) and POSIX sh read it back unchanged:
// bare when it holds only safe characters, else in single quotes (nothing is
// expanded), else, when it holds a single quote or a carriage return, in
// double quotes with \\ \" \$ \` \n \r escaped.
func dotenvValue(s string) string {
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_./:@%+,=-", c) >= 0) {
			safe = false
			break
		}
	}
	switch {
	case safe:
		return s
	case !strings.ContainsAny(s, "'\r"):
		return "'" + s + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`", "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

// yamlKey leaves a plain key bare and quotes the rest, including words
// YAML 1.1 reads as booleans or null.
func yamlKey(k string) string {
	plain := k != "" && !(k[0] >= '0' && k[0] <= '9') && k[0] != '-' && k[0] != '.'
	for i := 0; i < len(k) && plain; i++ {
		c := k[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	switch strings.ToLower(k) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~":
		plain = false
	}
	if plain {
		return k
	}
	return yamlQuote(k)
}

// yamlQuote writes a YAML double-quoted scalar that holds s exactly: every
// character outside YAML's printable set, and line breaks, escaped.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 ||
			r == 0xfeff || r >= 0xd800 && r <= 0xdfff || r == 0xfffe || r == 0xffff:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// propertiesEscape writes a Java .properties key or value as
// Properties.store does, so Properties.load (ISO 8859-1) and UTF-8 readers
// alike read it back: \uXXXX for everything outside printable ASCII,
// backslash escapes for \ and control characters, and = : # ! and spaces
// escaped where they would end a key or be lost.
func propertiesEscape(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
