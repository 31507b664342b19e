package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/template"
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
	data, _, err := encodeSpans(format, entries)
	return data, err
}

// encodeSpans is encode, and also says where each entry's value is
// written (quoted or escaped as the format writes it): spans[i] is
// entries[i]'s.
func encodeSpans(format config.Format, entries []entry) ([]byte, []template.Span, error) {
	for _, e := range entries {
		if !utf8.Valid(e.value) || bytes.IndexByte(e.value, 0) >= 0 {
			return nil, nil, fmt.Errorf("the value of %q for %s is binary (NUL bytes or not UTF-8), which a %s file cannot hold; write it to its own file with value_from", e.ref, e.key, format)
		}
	}
	var b strings.Builder
	spans := make([]template.Span, len(entries))
	value := func(i int, v string) {
		spans[i].Start = b.Len()
		b.WriteString(v)
		spans[i].End = b.Len()
	}
	switch format {
	case config.JSON:
		b.WriteString("{\n")
		for i, e := range entries {
			fmt.Fprintf(&b, "  %s: ", jsonString(e.key))
			value(i, jsonString(string(e.value)))
			if i < len(entries)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("}\n")
	case config.Dotenv:
		for i, e := range entries {
			v, err := dotenvValue(string(e.value))
			if err != nil {
				return nil, nil, fmt.Errorf("the value of %q for %s cannot be written to a dotenv file that every reader reads back: %w; write it to its own file with value_from, or use format json", e.ref, e.key, err)
			}
			fmt.Fprintf(&b, "%s=", e.key)
			value(i, v)
			b.WriteByte('\n')
		}
	case config.YAML:
		for i, e := range entries {
			k := yamlKey(e.key)
			if utf8.RuneCountInString(k) > 1000 { // YAML caps implicit keys at 1024 characters
				fmt.Fprintf(&b, "? %s\n: ", k)
			} else {
				fmt.Fprintf(&b, "%s: ", k)
			}
			value(i, yamlQuote(string(e.value)))
			b.WriteByte('\n')
		}
	case config.Properties:
		for i, e := range entries {
			fmt.Fprintf(&b, "%s=", propertiesEscape(e.key, true))
			value(i, propertiesEscape(string(e.value), false))
			b.WriteByte('\n')
		}
	default:
		return nil, nil, fmt.Errorf("format %q cannot collect values", format)
	}
	return []byte(b.String()), spans, nil
}

// jsonString is s as a JSON string, without HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a valid UTF-8 string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// A dotenv file is read by many parsers that disagree on quotes and escapes.
// dotenvValue writes each value in the one form that all of dotenvReaders
// read back byte for byte, or refuses it, naming the reader that would read
// it otherwise:
//
//   - bare, when every byte is in dotenvBare: no reader changes those, and
//     docker run --env-file, which takes everything after = literally,
//     reads them too;
//   - in double quotes, when it holds a single quote or a newline and none
//     of \ " $ ` (inside double quotes sh expands $ and `, node dotenv
//     decodes no escape but \n and \r, the others decode \\ and \"): a
//     newline too, because phpdotenv reads only double-quoted values across
//     lines;
//   - in single quotes otherwise: literal for every reader, with three
//     exceptions the value must avoid (see dotenvSingleQuoted).
//
// A carriage return has no form sh and the dotenv readers share.
func dotenvValue(s string) (string, error) {
	hasNewline, hasSingle := strings.ContainsRune(s, '\n'), strings.ContainsRune(s, '\'')
	doubleSafe := !strings.ContainsAny(s, "\\\"$`")
	switch {
	case strings.Trim(s, dotenvBare) == "":
		return s, nil
	case strings.ContainsRune(s, '\r'):
		return "", errors.New("it holds a carriage return, which POSIX sh cannot read from the \\r escape of dotenv readers, and python-dotenv and node dotenv turn into a newline when it is raw")
	case (hasNewline || hasSingle) && doubleSafe:
		return `"` + s + `"`, nil
	case hasSingle:
		return "", errors.New("it holds a single quote, so it needs double quotes, and with one of \\ \" $ ` too, which need escapes in double quotes that node dotenv does not decode (it reads \\\\ as two characters) while python-dotenv, godotenv and sh do")
	}
	if err := dotenvSingleQuoted(s); err != nil {
		return "", err
	}
	return "'" + s + "'", nil
}

// dotenvBare are the bytes a value may hold unquoted: letters, digits and
// punctuation that neither sh nor any dotenv reader treats specially.
const dotenvBare = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+,=-"

// pythonDotenvVariable is what python-dotenv expands in every value, single
// quoted ones included (its variables.py); compiled on first use, not at
// every start.
var pythonDotenvVariable = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\$\{[^}:]*(?::-[^}]*)?\}`)
})

// dotenvSingleQuoted checks that a value without ' or a carriage return
// reads back from single quotes: python-dotenv decodes \\ and \' there,
// and expands ${NAME}; every reader but sh and phpdotenv takes \' for an
// escaped quote, so a value must not end with a backslash.
func dotenvSingleQuoted(s string) error {
	switch {
	case strings.HasSuffix(s, `\`):
		return errors.New("it ends with a backslash, which python-dotenv, node dotenv and godotenv read as escaping the closing quote")
	case strings.Contains(s, `\\`):
		return errors.New("it holds two backslashes in a row, which python-dotenv reads as one inside quotes, and node dotenv and sh as two")
	case pythonDotenvVariable().MatchString(s):
		return errors.New("it holds ${...}, which python-dotenv (and docker-compose v1) expands even in single quotes")
	}
	return nil
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
