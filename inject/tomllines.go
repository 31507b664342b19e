package inject

import "strings"

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
