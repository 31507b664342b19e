package template

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"
)

// A render is bounded in memory and in time, whatever the template does.
//
// Memory: every function computes the size of its result before making it,
// and fails past MaxOutput (text/template's own print, printf, println,
// html, js and urlquery are replaced by versions that do the same); lines
// gives at most maxLines lines; templates call each other at most maxDepth
// deep (text/template allows 100,000, whose stack alone takes ~100 MB); the
// output fails past MaxOutput. So a render holds a bounded number of values
// of at most MaxOutput bytes each.
//
// Time: text/template has no hook in its loops, and a range over an integer
// (range 1000000000000) or a recursion that halves a string runs for ever
// without calling anything. So Parse rewrites the parse trees: every range
// body and every template body starts with a call of a hidden function that
// checks the render's deadline, and every function checks it too. Every
// repetition in a template is a range iteration or a template call, so
// between two checks runs at most one pass through a body's actions, each
// bounded by the size limit. Rejecting ranges over large literals at parse
// time would not do: the count may come from len or from a value, and a
// recursive template needs no range.

// DefaultTimeout bounds a render when Input.Timeout is zero. Rendering a
// config file takes microseconds; the bound is generous.
const DefaultTimeout = 5 * time.Second

// maxDepth bounds how deep templates call each other.
const maxDepth = 1000

// maxLines bounds what lines gives: each line takes 16 bytes of the list,
// so the list stays within MaxOutput too.
const maxLines = MaxOutput / 16

// The hidden functions Parse inserts into the parse trees.
const (
	tickFunc  = "_shroudTick"
	enterFunc = "_shroudEnter"
	leaveFunc = "_shroudLeave"
)

// render is the state of the render in progress.
type render struct {
	deadline time.Time
	timeout  time.Duration
	depth    int

	// secret and tainted follow secret texts (see follow.go): nil unless
	// the caller asked to. tainted maps each secret text to the length of
	// the secret behind it (Derived.Source), at least 1.
	secret  func(Derived) bool
	tainted map[string]int
}

// limitError is a render that went past a bound. Its message is
// value-free, and says what to look for instead of naming the hidden
// function it came from.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// alive fails once the render's time is up.
func (t *Template) alive() error {
	if t.cur == nil || time.Now().Before(t.cur.deadline) {
		return nil
	}
	return &limitError{fmt.Sprintf("rendering took longer than %s, the limit: look for a range over a large number or list, or templates that call each other without end", t.cur.timeout)}
}

func (t *Template) enter() (string, error) {
	if t.cur != nil {
		if t.cur.depth++; t.cur.depth > maxDepth {
			return "", &limitError{fmt.Sprintf("templates call each other more than %d deep: look for a template that calls itself without end", maxDepth)}
		}
	}
	return "", t.alive()
}

func (t *Template) leave() string {
	if t.cur != nil {
		t.cur.depth--
	}
	return ""
}

func (t *Template) tick() (string, error) { return "", t.alive() }

// hiddenFuncs are the functions Parse inserts, and text/template's
// builtins that make text, replaced by versions bounded in size that
// follow secret texts (see follow.go).
func (t *Template) hiddenFuncs() template.FuncMap {
	return template.FuncMap{
		tickFunc:  t.tick,
		enterFunc: t.enter,
		leaveFunc: t.leave,
		"print": followedN(t, "print", timedN(t, func(args ...any) (string, error) {
			return sprint("print", fmt.Sprint, args, len(args))
		})),
		"println": followedN(t, "println", timedN(t, func(args ...any) (string, error) {
			return sprint("println", fmt.Sprintln, args, len(args)+1)
		})),
		"printf": func(format string, args ...any) (string, error) {
			if err := t.alive(); err != nil {
				return "", err
			}
			out, err := printf(format, args...)
			if err == nil && t.following() {
				t.derived("printf", "", out, append([]any{format}, args...)...)
			}
			return out, err
		},
		"html":     followedN(t, "html", timedN(t, escaper("html", template.HTMLEscapeString, htmlGrowth))),
		"js":       followedN(t, "js", timedN(t, escaper("js", template.JSEscapeString, jsGrowth))),
		"urlquery": followedN(t, "urlquery", timedN(t, escaper("urlquery", url.QueryEscape, urlGrowth))),
		"slice": func(item any, indexes ...int) (any, error) {
			if err := t.alive(); err != nil {
				return nil, err
			}
			out, err := slice(item, indexes...)
			if err == nil {
				t.derived("slice", "", out, item)
			}
			return out, err
		},
	}
}

// timed1, timed2 and timedN check the render's deadline before calling f.
func timed1[A, R any](t *Template, f func(A) (R, error)) func(A) (R, error) {
	return func(a A) (R, error) {
		if err := t.alive(); err != nil {
			var zero R
			return zero, err
		}
		return f(a)
	}
}

func timed2[A, B, R any](t *Template, f func(A, B) (R, error)) func(A, B) (R, error) {
	return func(a A, b B) (R, error) {
		if err := t.alive(); err != nil {
			var zero R
			return zero, err
		}
		return f(a, b)
	}
}

func timedN(t *Template, f func(...any) (string, error)) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		if err := t.alive(); err != nil {
			return "", err
		}
		return f(args...)
	}
}

// guard inserts the hidden calls into a parse tree: enter and leave around
// its body, tick at the start of every range body.
func guard(tree *parse.Tree) {
	root := tree.Root
	root.Nodes = append([]parse.Node{hiddenCall(tree, enterFunc, root.Pos)}, root.Nodes...)
	root.Nodes = append(root.Nodes, hiddenCall(tree, leaveFunc, root.Pos))
	var visit func(n parse.Node)
	visit = func(n parse.Node) {
		if n == nil || isNilNode(n) {
			return
		}
		if r, ok := n.(*parse.RangeNode); ok {
			if r.List == nil {
				r.List = &parse.ListNode{NodeType: parse.NodeList, Pos: r.Pos}
			}
			r.List.Nodes = append([]parse.Node{hiddenCall(tree, tickFunc, r.Pos)}, r.List.Nodes...)
		}
		for _, m := range children(n) {
			visit(m)
		}
	}
	visit(root)
}

// hiddenCall is the action {{ $shroud-hidden := fn }} at pos. Setting a
// variable is several times cheaper than printing the empty result (about
// 1 µs per range iteration, against 2 to 5); no template can name the
// variable, as a hyphen ends a name.
func hiddenCall(tree *parse.Tree, fn string, pos parse.Pos) *parse.ActionNode {
	id := parse.NewIdentifier(fn).SetTree(tree).SetPos(pos)
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{id}}
	v := &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: []string{"$shroud-hidden"}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Decl: []*parse.VariableNode{v}, Cmds: []*parse.CommandNode{cmd}}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Pipe: pipe}
}

// sized fails when a function's result would be larger than MaxOutput; n
// is computed before the result is made.
func sized(fn string, n int) error {
	if n < 0 || n > MaxOutput {
		return failf("%s: the result would be larger than %d MiB, the limit", fn, MaxOutput>>20)
	}
	return nil
}

// grownLen is the length of s once each byte b is replaced by at most
// 1+growth(b) bytes.
func grownLen(s string, growth func(byte) int) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		n += growth(s[i])
	}
	return n
}

// quoteGrowth bounds strconv.Quote: \x7f for a control or invalid byte,
// \u0085 for a 2-byte rune that is not printable (3 per byte at most).
func quoteGrowth(b byte) int {
	switch {
	case b < 0x20, b == 0x7f, b >= utf8.RuneSelf:
		return 3
	case b == '"', b == '\\':
		return 1
	}
	return 0
}

// jsonGrowth bounds encoding/json without HTML escaping: \u001f for a
// control byte, \u2028 for the 3 bytes of U+2028 and U+2029.
func jsonGrowth(b byte) int {
	switch {
	case b < 0x20:
		return 5
	case b == '"', b == '\\':
		return 1
	case b == 0xe2:
		return 3
	}
	return 0
}

// htmlGrowth bounds template.HTMLEscapeString: &amp; &#34; &lt; and the 3
// bytes of U+FFFD for NUL.
func htmlGrowth(b byte) int {
	switch b {
	case '&', '"', '\'':
		return 4
	case '<', '>':
		return 3
	case 0:
		return 2
	}
	return 0
}

// jsGrowth bounds template.JSEscapeString: \u003C for < > & = and control
// bytes, \' \" \\, and \u0085 for a 2-byte rune that is not printable.
func jsGrowth(b byte) int {
	switch {
	case b < 0x20, b == '<', b == '>', b == '&', b == '=':
		return 5
	case b == '\'', b == '"', b == '\\':
		return 1
	case b >= utf8.RuneSelf:
		return 2
	}
	return 0
}

// urlGrowth bounds percent-encoding: %2F for every byte but the unreserved.
func urlGrowth(b byte) int {
	if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~' {
		return 0
	}
	return 2
}

// fmtSize bounds what fmt makes of v with %v: bytes, with room for
// separators and for the decoration of a bad verb around each leaf; and
// leaves, the values a width pads one by one (the elements of a list).
func fmtSize(v any) (bytes, leaves int) {
	switch v := v.(type) {
	case string:
		return len(v) + 16, 1
	case []string:
		for _, s := range v {
			bytes += len(s) + 16
		}
		return bytes + 16, max(len(v), 1)
	}
	return valueSize(reflect.ValueOf(v))
}

func valueSize(v reflect.Value) (bytes, leaves int) {
	add := func(e reflect.Value) {
		b, l := valueSize(e)
		bytes, leaves = bytes+b, leaves+l
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len() + 16, 1
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			add(v.Index(i))
		}
	case reflect.Map:
		for k, e := range v.Seq2() {
			add(k)
			add(e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			add(v.Field(i))
		}
	default:
		// A number, a bool or nil: %f of 1e308 has 309 digits.
		return 400, 1
	}
	return bytes + 16, max(leaves, 1)
}

// sprint is print or println, after their result is bounded: each
// argument as %v, and separators.
func sprint(fn string, f func(...any) string, args []any, seps int) (string, error) {
	n := seps
	for _, a := range args {
		b, _ := fmtSize(a)
		n += b
	}
	if err := sized(fn, n); err != nil {
		return "", err
	}
	return f(args...), nil
}

// escaper is html, js or urlquery, after their result is bounded: they
// escape their one string argument, or the print of their arguments.
func escaper(fn string, escape func(string) string, growth func(byte) int) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		s, ok := "", len(args) == 1
		if ok {
			s, ok = args[0].(string)
		}
		if !ok {
			var err error
			if s, err = sprint(fn, fmt.Sprint, args, len(args)); err != nil {
				return "", err
			}
		}
		if err := sized(fn, grownLen(s, growth)); err != nil {
			return "", err
		}
		return escape(s), nil
	}
}

// printf is fmt.Sprintf after its result is bounded (see printfSize).
func printf(format string, args ...any) (string, error) {
	if err := sized("printf", printfSize(format, args)); err != nil {
		return "", err
	}
	return fmt.Sprintf(format, args...), nil
}

// printfSize bounds the length of fmt.Sprintf(format, args...) without
// making it, reading the format as fmt does: the literal text; for each
// verb, its width and precision (10^6 at most, for each leaf of its
// argument: a width pads every element of a list) and its argument, as
// long as %v makes it for %s and %v, or 5 times that for the others (% #x
// makes 5 bytes of one, %q 4 at most); and the arguments left over, which
// fmt prints after %!(EXTRA. Arguments are taken in order; when the format
// picks them by index ([n]), each verb is counted with the largest.
func printfSize(format string, args []any) int {
	sizes := make([][2]int, len(args))
	var largest [2]int
	for i, a := range args {
		b, l := fmtSize(a)
		sizes[i] = [2]int{b, l}
		largest = [2]int{max(largest[0], b), max(largest[1], l)}
	}
	indexed := strings.Contains(format, "[")
	next := 0
	take := func() [2]int {
		next++
		switch {
		case indexed:
			return largest
		case next <= len(sizes):
			return sizes[next-1]
		}
		return [2]int{64, 1} // %!v(MISSING)
	}
	n := len(format)
	for i := 0; i < len(format) && n <= MaxOutput; {
		pct := strings.IndexByte(format[i:], '%')
		if pct < 0 {
			break
		}
		i += pct + 1
		sharp := false
		for ; i < len(format) && strings.IndexByte("#0+- ", format[i]) >= 0; i++ {
			sharp = sharp || format[i] == '#'
		}
		var pad int
		pad, i = padding(format, skipIndex(format, i), take)
		if i < len(format) && format[i] == '.' {
			var prec int
			prec, i = padding(format, skipIndex(format, i+1), take)
			pad += prec
		}
		i = skipIndex(format, i)
		if i >= len(format) {
			n += 64 // %!(NOVERB)
			break
		}
		verb, size := utf8.DecodeRuneInString(format[i:])
		i += size
		if verb == '%' {
			continue
		}
		arg := take()
		factor := 5
		if verb == 's' || verb == 'v' && !sharp {
			factor = 1
		}
		n += 64 + factor*arg[0] + pad*arg[1]
	}
	for ; next < len(sizes) && n <= MaxOutput; next++ {
		n += 64 + sizes[next][0]
	}
	return n
}

// padding reads a width or a precision at format[i:]: digits, or * (which
// takes an argument, and may be up to 10^6).
func padding(format string, i int, take func() [2]int) (int, int) {
	if i < len(format) && format[i] == '*' {
		take()
		return 1_000_000, i + 1
	}
	n := 0
	for ; i < len(format) && '0' <= format[i] && format[i] <= '9'; i++ {
		n = min(10*n+int(format[i]-'0'), 1_000_000)
	}
	return n, i
}

// skipIndex skips an argument index [n] at format[i:] as fmt does: up to
// its closing bracket, or the bracket alone when there is none.
func skipIndex(format string, i int) int {
	if i >= len(format) || format[i] != '[' {
		return i
	}
	if j := strings.IndexByte(format[i+1:], ']'); j >= 0 && len(format)-i >= 3 {
		return i + j + 2
	}
	return i + 1
}
