package logdriver

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
)

// Masker holds the secret values to mask, and forms derived from them. It
// is shared by the streams of a pipeline; values and forms can be added
// while they run (after a rotation), and once added they stay masked, so a
// secret's old value is masked as well as its new one.
type Masker struct {
	opts    MaskOptions
	mu      sync.Mutex // serializes Add and AddForms
	values  [][]byte
	forms   [][]byte
	known   map[string]bool // "v" + a value, "f" + a form: each is added once
	current atomic.Pointer[matcher]
	masked  atomic.Uint64
}

// NewMasker returns a masker for values.
func NewMasker(values [][]byte, opts MaskOptions) *Masker {
	m := &Masker{opts: opts, known: map[string]bool{}}
	m.Add(values)
	return m
}

// Add masks values from now on, in addition to those already masked, with
// the forms MaskOptions asks for.
func (m *Masker) Add(values [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var added bool
	m.values, added = m.appendNew(m.values, "v", values)
	if added || m.current.Load() == nil {
		m.compile()
	}
}

// AddForms masks forms from now on: text the caller made from secret
// values, which their own forms do not cover (the output of a template
// function, a line of a rendered file that holds a value). Each is masked
// as it is, trimmed of surrounding white space, and JSON-escaped when
// MaskOptions.JSON is set; forms shorter than MinLength are dropped, as
// values are.
func (m *Masker) AddForms(forms [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var added bool
	if m.forms, added = m.appendNew(m.forms, "f", forms); added {
		m.compile()
	}
}

func (m *Masker) compile() {
	m.current.Store(newMatcher(maskPatterns(m.values, m.forms, m.opts)))
}

// appendNew appends copies of what from holds that was not added before
// (kind tells values from forms), and reports whether it appended any: a
// rotation hands every value over again, and only a new one needs the
// matcher built again.
func (m *Masker) appendNew(to [][]byte, kind string, from [][]byte) ([][]byte, bool) {
	n := len(to)
	for _, v := range from {
		if k := kind + string(v); !m.known[k] {
			m.known[k] = true
			to = append(to, bytes.Clone(v))
		}
	}
	return to, len(to) > n
}

// Masked returns how many times a value was replaced.
func (m *Masker) Masked() uint64 { return m.masked.Load() }

// Redact masks s whole: for diagnostics, which must never show a value.
func (m *Masker) Redact(s string) string {
	if m == nil {
		return s
	}
	var st maskStream
	out, _ := st.process(m, []byte(s), true)
	return string(out)
}

// span is a masked range of bytes, [start, end).
type span struct{ start, end int }

// maskStream is the state of masking one stream: it finds matches split
// across writes by keeping back the bytes that may start one.
type maskStream struct {
	found []span
	spans []span
	out   []byte
}

// process masks text, the bytes held back last time followed by new ones.
// Unless final, it keeps back the shortest tail that may still become a
// secret: emit is the masked output ready to go out, and text[hold:] must be
// given again, followed by more bytes. emit may alias text.
func (st *maskStream) process(m *Masker, text []byte, final bool) (emit []byte, hold int) {
	mt := m.current.Load()
	if mt == nil {
		return text, len(text)
	}
	st.found, hold = mt.scan(text, final, st.found[:0])
	// Overlapping matches become one span.
	st.spans = st.spans[:0]
	for _, f := range st.found {
		if k := len(st.spans); k > 0 && f.start < st.spans[k-1].end {
			st.spans[k-1].end = max(st.spans[k-1].end, f.end)
			continue
		}
		st.spans = append(st.spans, f)
	}
	// Matches that start in the held-back tail are found again next time. A
	// match that runs into it is held back whole, or its end would go out
	// unmasked.
	for k := len(st.spans); k > 0 && st.spans[k-1].start >= hold; k-- {
		st.spans = st.spans[:k-1]
	}
	if k := len(st.spans); k > 0 && st.spans[k-1].end > hold {
		hold = st.spans[k-1].start
		st.spans = st.spans[:k-1]
	}
	if len(st.spans) == 0 {
		return text[:hold], hold
	}
	out := st.out[:0]
	at := 0
	for _, s := range st.spans {
		out = append(out, text[at:s.start]...)
		out = append(out, MaskText...)
		at = s.end
	}
	out = append(out, text[at:hold]...)
	st.out = out
	m.masked.Add(uint64(len(st.spans)))
	return out, hold
}

// redactor hides values in diagnostics: the masker's values, and the values
// of options that came from secrets, whatever their length.
type redactor struct {
	secrets []string
	// masker returns the masker of diagnostics, built on first use: a
	// pipeline that never reports a problem (the exec fast path's among
	// them) never pays for one.
	masker func() *Masker
}

func (r *redactor) redact(s string) string {
	for _, v := range r.secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, MaskText)
		}
	}
	if r.masker == nil {
		return s
	}
	return r.masker().Redact(s)
}
