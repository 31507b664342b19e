package config

import (
	"strings"

	"github.com/BurntSushi/toml"
)

// structureLines returns the lines of a TOML document with everything that
// is not structure removed: comments and the bodies of multi-line strings.
// Line numbers stay as they are, and each line keeps its text up to and
// including the opening quotes of a multi-line string, so columns found
// there hold in the document too.
//
// The decoder (BurntSushi/toml) does not tell where a key is, so errors find
// the line of a header or a key by reading these lines: a template whose
// text holds "[aws]" or "name = ..." is never taken for a header or a key.
func structureLines(data []byte) []string {
	lines := strings.Split(string(data), "\n")
	open := "" // the delimiter of the multi-line string being read, or ""
	for n, l := range lines {
		var b strings.Builder
		for i := 0; i < len(l); {
			if open != "" {
				i = multiLineEnd(l, i, open)
				if i < 0 {
					break // the string goes on on the next line
				}
				b.WriteString(open)
				open = ""
				continue
			}
			switch c := l[i]; {
			case c == '#':
				i = len(l)
			case strings.HasPrefix(l[i:], `"""`), strings.HasPrefix(l[i:], "'''"):
				open = l[i : i+3]
				b.WriteString(open)
				i += 3
			case c == '"' || c == '\'':
				end := i + 1
				for end < len(l) && l[end] != c {
					if c == '"' && l[end] == '\\' {
						end++ // an escaped character, perhaps a quote
					}
					end++
				}
				end = min(end+1, len(l))
				b.WriteString(l[i:end])
				i = end
			default:
				b.WriteByte(c)
				i++
			}
		}
		lines[n] = b.String()
	}
	return lines
}

// multiLineEnd returns the index just past the delimiter that closes a
// multi-line string whose body goes on at l[i:], or -1 if it does not close
// on this line. In a basic string ("""), a backslash escapes what follows.
// Up to two quotes before the delimiter belong to the body (""""" ends a
// string with two quotes).
func multiLineEnd(l string, i int, delim string) int {
	for ; i < len(l); i++ {
		switch {
		case delim == `"""` && l[i] == '\\':
			i++
		case strings.HasPrefix(l[i:], delim):
			end := i + 3
			for k := 0; k < 2 && end < len(l) && l[end] == delim[0]; k++ {
				end++
			}
			return end
		}
	}
	return -1
}

// tableHeaderLines finds the line of every [[name]] and [name] header in
// the lines of structureLines.
func tableHeaderLines(lines []string) map[string][]int {
	out := map[string][]int{}
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[[") {
			if end := strings.Index(line, "]]"); end > 0 {
				name := strings.TrimSpace(line[2:end])
				out[name] = append(out[name], i+1)
			}
		} else if strings.HasPrefix(line, "[") {
			if end := strings.IndexByte(line, ']'); end > 0 { // a [table]
				name := strings.TrimSpace(line[1:end])
				out[name] = append(out[name], i+1)
			}
		}
	}
	return out
}

// keyLine finds the line that defines key, skipping the first skip matches
// (an unknown key repeated in several [[entries]]). It returns 0 when the key
// is not found, e.g. inside an inline table. lines are structureLines'.
func keyLine(lines []string, key toml.Key, skip int) int {
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	table := ""
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			header := strings.Trim(line[:strings.LastIndexByte(line+"]", ']')], "[] ")
			table = strings.ReplaceAll(header, " ", "")
			if table == key.String() {
				if skip == 0 {
					return i + 1
				}
				skip--
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || table != parent {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if k == last || strings.HasPrefix(k, last+".") {
			if skip == 0 {
				return i + 1
			}
			skip--
		}
	}
	return 0
}
