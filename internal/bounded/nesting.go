package bounded

import "fmt"

// MaxDepth bounds the nesting of every structured input shroud parses:
// config files, task definitions and the JSON, TOML and dotenv values of
// secrets. Real ones nest a handful of levels; parsers recurse once a level
// (BurntSushi/toml with no limit of its own), so the bound keeps their
// stacks small whatever the input.
const MaxDepth = 64

// depthError says where a document first nests deeper than MaxDepth. It
// gives the line only: the text may be a secret.
func depthError(line int) error {
	return fmt.Errorf("line %d nests deeper than %d levels (arrays, tables and dotted keys)", line, MaxDepth)
}

// CheckJSON reports whether a JSON document nests deeper than MaxDepth
// arrays and objects. It reads each byte once and never fails on what is
// not JSON: that is for the parser to say.
func CheckJSON(data []byte) error {
	depth, line := 0, 1
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			line++
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth++; depth > MaxDepth {
				return depthError(line)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// CheckTOML reports whether a TOML document nests deeper than MaxDepth
// levels, counting each component of a dotted key or table header, each
// array and each inline table, as a parser builds them.
func CheckTOML(data []byte) error {
	if _, line := tomlDepth(data, MaxDepth); line > 0 {
		return depthError(line)
	}
	return nil
}

// tomlDepth returns the deepest level of a TOML document, reading each
// byte once; when it passes limit, it stops and also returns the line. It
// never fails on what is not TOML: a parser stops at the first error, so
// only what comes before one must be counted right, and what cannot be
// told apart is counted as deeper.
func tomlDepth(data []byte, limit int) (deepest, line int) {
	s := &tomlScan{data: data, line: 1, limit: limit, deepest: 1, key: true, part: true, lineStart: true} // the root table is a level
	for ; s.i < len(data) && s.over == 0; s.i++ {
		s.step()
	}
	return s.deepest, s.over
}

// tomlScan is the state of tomlDepth.
type tomlScan struct {
	data      []byte
	i, line   int
	limit     int
	deepest   int
	over      int // the line where the document went deeper than limit
	header    int // the levels of the current table's header
	frames    []tomlFrame
	key       bool // reading a key, not a value
	comps     int  // the components of the key being read, or last read
	part      bool // the next key character starts a component
	lineStart bool // at the start of a top-level line: a [ opens a header
	inHeader  bool
	headerArr bool
}

// tomlFrame is an open array, whose elements are at level, or inline
// table, which is at level (its keys add theirs).
type tomlFrame struct {
	table bool
	level int
}

func (s *tomlScan) reach(level int) {
	s.deepest = max(s.deepest, level)
	if level > s.limit && s.over == 0 {
		s.over = s.line
	}
}

// valueLevel is the level of a value that starts here.
func (s *tomlScan) valueLevel() int {
	if len(s.frames) == 0 {
		return s.header + s.comps
	}
	f := s.frames[len(s.frames)-1]
	if f.table {
		return f.level + s.comps
	}
	return f.level
}

func (s *tomlScan) startKey() { s.key, s.comps, s.part = true, 0, true }

func (s *tomlScan) step() {
	c := s.data[s.i]
	switch c {
	case ' ', '\t', '\r':
		return
	case '\n':
		s.line++
		if len(s.frames) == 0 {
			if s.inHeader {
				s.endHeader()
			}
			s.startKey()
			s.lineStart = true
		}
		return
	case '#':
		for s.i+1 < len(s.data) && s.data[s.i+1] != '\n' {
			s.i++
		}
		return
	}
	lineStart := s.lineStart
	s.lineStart = false
	switch c {
	case '"', '\'':
		s.keyPart()
		s.skipString()
	case '[':
		if lineStart {
			s.inHeader = true
			if s.headerArr = s.i+1 < len(s.data) && s.data[s.i+1] == '['; s.headerArr {
				s.i++
			}
			return
		}
		level := s.valueLevel() + 1
		s.frames = append(s.frames, tomlFrame{level: level})
		s.reach(level)
		s.key = false
	case '{':
		level := s.valueLevel()
		s.frames = append(s.frames, tomlFrame{table: true, level: level})
		s.reach(level + 1)
		s.startKey()
	case ']', '}':
		if s.inHeader {
			s.endHeader()
		}
		if n := len(s.frames); n > 0 {
			s.frames = s.frames[:n-1]
		}
		s.key = false
	case ',':
		if n := len(s.frames); n > 0 && s.frames[n-1].table {
			s.startKey()
		}
	case '=':
		if s.key {
			s.key = false
			s.reach(s.valueLevel())
		}
	case '.':
		if s.key || s.inHeader {
			s.part = true
		}
	default:
		s.keyPart()
	}
}

// keyPart counts a component of a key or header where one starts.
func (s *tomlScan) keyPart() {
	if (s.key || s.inHeader) && s.part {
		s.comps++
		s.part = false
	}
}

// endHeader ends a [table] or [[array]] header. Each of its keys counts
// two levels, since any may name an array of tables (a table in a list);
// the table itself is one more.
func (s *tomlScan) endHeader() {
	s.header = 2 * s.comps
	if s.headerArr && s.i+1 < len(s.data) && s.data[s.i+1] == ']' {
		s.i++
	}
	s.reach(s.header + 1)
	s.inHeader, s.key = false, false
}

// skipString moves to the last byte of the string whose opening quote is
// at s.i: basic ("...", with backslash escapes) or literal ('...'), on one
// line or, tripled, on several.
func (s *tomlScan) skipString() {
	d, q := s.data, s.data[s.i]
	multi := s.i+2 < len(d) && d[s.i+1] == q && d[s.i+2] == q
	if multi {
		s.i += 2
	}
	for s.i++; s.i < len(d); s.i++ {
		switch c := d[s.i]; {
		case c == '\\' && q == '"':
			if s.i++; s.i < len(d) && d[s.i] == '\n' {
				s.line++
			}
		case c == '\n':
			if !multi {
				s.i-- // unterminated: the newline ends the line
				return
			}
			s.line++
		case c == q && !multi:
			return
		case c == q:
			n := 1
			for s.i+n < len(d) && d[s.i+n] == q {
				n++
			}
			s.i += n - 1
			if n >= 3 { // up to two quotes before the closing three are text
				return
			}
		}
	}
}
