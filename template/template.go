// Package template renders the files shroud writes from secrets: config
// files that mix secret values with plain text, such as a database DSN, a
// .env file or a PEM bundle.
//
// Templates are Go text/template with missingkey=error and the functions in
// funcs.go. The package knows no secret backend: Render asks a Lookup
// function for each value. Every reference must be a literal string, so
// Parse can list them all (Refs) and the caller can fetch them in one
// batched plan before rendering, and tell which files depend on which
// secrets when one rotates.
package template

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
)

// MaxOutput bounds what one template may produce, and each value a
// function makes, so a runaway range, a recursive template or a function
// that multiplies its input fails instead of filling memory (see
// limits.go).
const MaxOutput = 16 << 20

// Ref is a secret reference a template reads.
type Ref struct {
	// Text is the reference as written in the template: "sm:prod/db:password".
	Text string
	// Previous is set for secretPrevious: the version before the current one.
	Previous bool
}

func (r Ref) String() string {
	if r.Previous {
		return "secretPrevious " + strconv.Quote(r.Text)
	}
	return "secret " + strconv.Quote(r.Text)
}

// Use is one place a template reads a reference, for errors that point at it.
type Use struct {
	Ref
	Line, Col int
}

// Lookup returns the value of a reference. Its errors must name the
// reference, never a value; Render passes them on with the position of the
// call.
type Lookup func(Ref) ([]byte, error)

// Input is what Parse reads.
type Input struct {
	// Name names the template in errors: its file, or the config file that
	// holds it inline.
	Name string
	Text string
	// Line and Col place the first character of Text in Name, for a
	// template written inline in a config file; zero means 1.
	Line, Col int
	// LookupEnv serves the env function; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Timeout bounds each Render; zero means DefaultTimeout.
	Timeout time.Duration
}

// Template is a parsed template and the references it reads. It is safe
// for concurrent use; renders of one Template take turns.
type Template struct {
	in   Input
	tmpl *template.Template
	uses []Use
	refs []Ref

	// mu guards lookup and cur, which the functions read during a Render:
	// binding the functions once is ten times cheaper than cloning the
	// template for every render.
	mu     sync.Mutex
	lookup Lookup
	cur    *render
}

// Error is a template problem at a place in a file. Its message never holds
// a secret value.
type Error struct {
	Name      string
	Line, Col int // Col is 0 when only the line is known
	Msg       string
	// Err is the Lookup error behind a failed secret call, if any.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Name, e.Msg)
	case e.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Col, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Parse parses a template and collects the references it reads. Every
// problem found is returned at once, each as an *Error.
func Parse(in Input) (*Template, error) {
	if in.Line <= 0 {
		in.Line = 1
	}
	if in.Col <= 0 {
		in.Col = 1
	}
	if in.LookupEnv == nil {
		in.LookupEnv = os.LookupEnv
	}
	if in.Timeout <= 0 {
		in.Timeout = DefaultTimeout
	}
	t := &Template{in: in}
	funcs := t.funcs()
	tmpl, err := template.New(in.Name).Option("missingkey=error").Funcs(t.hiddenFuncs()).Funcs(funcs).Parse(in.Text)
	if err != nil {
		return nil, t.parseError(err)
	}
	t.tmpl = tmpl
	var errs []*Error
	c := collector{text: in.Text, funcs: funcs, use: func(u Use) {
		u.Line, u.Col = t.place(u.Line, u.Col)
		t.uses = append(t.uses, u)
	}, fail: func(line, col int, msg string) {
		line, col = t.place(line, col)
		errs = append(errs, &Error{Name: in.Name, Line: line, Col: col, Msg: msg})
	}}
	for _, tree := range tmpl.Templates() { // {{ define }}d ones too
		if tree.Tree != nil {
			c.walk(tree.Tree.Root, nil)
		}
	}
	// Templates() is a map: order by position so output is stable.
	slices.SortFunc(errs, func(a, b *Error) int { return cmp.Or(a.Line-b.Line, a.Col-b.Col) })
	if len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, errors.Join(joined...)
	}
	guarded := map[*parse.Tree]bool{}
	for _, tree := range tmpl.Templates() {
		if tree.Tree != nil && tree.Root != nil && !guarded[tree.Tree] {
			guarded[tree.Tree] = true
			guard(tree.Tree)
		}
	}
	slices.SortStableFunc(t.uses, func(a, b Use) int { return cmp.Or(a.Line-b.Line, a.Col-b.Col) })
	seen := map[Ref]bool{}
	for _, u := range t.uses {
		if !seen[u.Ref] {
			seen[u.Ref] = true
			t.refs = append(t.refs, u.Ref)
		}
	}
	return t, nil
}

// Name is the file that holds the template.
func (t *Template) Name() string { return t.in.Name }

// Refs returns every reference the template reads, once each, in order of
// first use.
func (t *Template) Refs() []Ref { return slices.Clone(t.refs) }

// Uses returns every secret call with its position, so a caller that
// rejects a reference can point at it.
func (t *Template) Uses() []Use { return slices.Clone(t.uses) }

// Render executes the template, reading each reference through lookup. A
// Lookup error, a missing JSON key or any other failure is an *Error with
// the line and column of the call that failed. A render that goes past
// Input.Timeout, MaxOutput or the depth of template calls fails with an
// *Error that says which.
func (t *Template) Render(lookup Lookup) ([]byte, error) {
	out, err := t.RenderWith(RenderInput{Lookup: lookup})
	return out.Text, err
}

// RenderWith is Render, and with in.Secret it also follows secret values
// through the template (see follow.go).
func (t *Template) RenderWith(in RenderInput) (Output, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lookup = in.Lookup
	t.cur = &render{deadline: time.Now().Add(t.in.Timeout), timeout: t.in.Timeout}
	if in.Secret != nil {
		t.cur.secret, t.cur.tainted = in.Secret, map[string]int{}
	}
	defer func() { t.lookup, t.cur = nil, nil }()
	out := &limitedBuffer{max: MaxOutput, r: t.cur}
	if err := t.tmpl.Execute(out, nil); err != nil {
		return Output{}, t.execError(err)
	}
	return Output{Text: out.Bytes(), Secret: out.spans}, nil
}

// place turns a line and column of Text into ones of the file Text sits in.
func (t *Template) place(line, col int) (int, int) {
	if line == 1 && col > 0 {
		col += t.in.Col - 1
	}
	return line + t.in.Line - 1, col
}

// parseError rewrites text/template's "template: NAME:LINE: msg".
func (t *Template) parseError(err error) error {
	msg := err.Error()
	line := 0
	if rest, ok := strings.CutPrefix(msg, "template: "+t.in.Name+":"); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	if strings.HasPrefix(msg, "function ") && strings.HasSuffix(msg, " not defined") {
		msg += "; the functions are " + strings.Join(FuncNames(), ", ") + " and text/template's own (printf, len, index, ...)"
	}
	e := &Error{Name: t.in.Name, Msg: msg}
	if line > 0 {
		e.Line, _ = t.place(line, 0)
	}
	return e
}

// limitedBuffer fails writes past max bytes. When the render follows
// secrets, it notes where a secret text is written: text/template writes
// each printed value in one Write.
type limitedBuffer struct {
	bytes.Buffer
	max   int
	r     *render
	spans []Span
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, failf("the output is larger than %d MiB", b.max>>20)
	}
	if b.r.tainted[string(p)] > 0 {
		b.spans = append(b.spans, Span{b.Len(), b.Len() + len(p)})
	}
	return b.Buffer.Write(p)
}

// collector walks parse trees to find every secret call.
type collector struct {
	text  string
	funcs template.FuncMap
	use   func(Use)
	fail  func(line, col int, msg string)
}

// at returns the 1-based line and column of a position in the text.
func (c *collector) at(pos parse.Pos) (int, int) {
	before := c.text[:min(int(pos), len(c.text))]
	line := 1 + strings.Count(before, "\n")
	col := len(before) - strings.LastIndexByte(before, '\n')
	return line, col
}

// walk visits n; pipe is the pipeline n is a command of, so that
// {{ "ref" | secret }} is understood.
func (c *collector) walk(n parse.Node, pipe *parse.PipeNode) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, m := range n.Nodes {
			c.walk(m, nil)
		}
	case *parse.ActionNode:
		c.walk(n.Pipe, nil)
	case *parse.IfNode:
		c.branch(&n.BranchNode)
	case *parse.RangeNode:
		if fn := c.textResult(n.Pipe); fn != nil {
			line, col := c.at(fn.Pos)
			c.fail(line, col, "range needs a list, and "+fn.Ident+" gives text: range over the lines of a value with lines, "+
				`e.g. {{ range secret "file:hosts.txt" | lines }}`)
		}
		c.branch(&n.BranchNode)
	case *parse.WithNode:
		c.branch(&n.BranchNode)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			c.walk(n.Pipe, nil)
		}
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for i, cmd := range n.Cmds {
			c.command(cmd, n, i)
		}
	case *parse.ChainNode:
		c.walk(n.Node, nil)
	case *parse.IdentifierNode:
		// A function named where a value is expected: {{ default secret }}.
		if isSecretFunc(n.Ident) {
			line, col := c.at(n.Pos)
			c.fail(line, col, n.Ident+" needs a reference: "+secretUsage(n.Ident))
		}
	}
}

// textResult returns the function whose string result a pipeline ends
// in, if it does: ranging over a string fails, and text/template's message
// would print it.
func (c *collector) textResult(pipe *parse.PipeNode) *parse.IdentifierNode {
	if pipe == nil || len(pipe.Cmds) == 0 {
		return nil
	}
	last := pipe.Cmds[len(pipe.Cmds)-1]
	if len(last.Args) == 0 {
		return nil
	}
	switch fn := last.Args[0].(type) {
	case *parse.PipeNode:
		return c.textResult(fn)
	case *parse.IdentifierNode:
		if f, ok := c.funcs[fn.Ident]; ok && reflect.TypeOf(f).Out(0).Kind() == reflect.String {
			return fn
		}
		switch fn.Ident {
		case "print", "printf", "println", "html", "js", "urlquery":
			return fn
		}
	}
	return nil
}

func (c *collector) branch(b *parse.BranchNode) {
	c.walk(b.Pipe, nil)
	c.walk(b.List, nil)
	c.walk(b.ElseList, nil)
}

// command checks the i-th command of pipe.
func (c *collector) command(cmd *parse.CommandNode, pipe *parse.PipeNode, i int) {
	if len(cmd.Args) == 0 {
		return
	}
	id, ok := cmd.Args[0].(*parse.IdentifierNode)
	if !ok {
		for _, a := range cmd.Args {
			c.walk(a, nil)
		}
		return
	}
	for _, a := range cmd.Args[1:] {
		c.walk(a, nil)
	}
	line, col := c.at(id.Pos)
	if example, ok := literalArg(id.Ident); ok {
		// The key or path must be literal: errors may then quote it, as it
		// cannot have come from a secret.
		var s *parse.StringNode
		if len(cmd.Args) >= 2 {
			s, _ = cmd.Args[1].(*parse.StringNode)
		}
		if s == nil {
			c.fail(line, col, id.Ident+" takes its argument as a quoted string: "+example)
			return
		}
		if id.Ident == "jsonPath" {
			if _, err := parsePath(s.Text); err != nil {
				line, col := c.at(s.Pos)
				c.fail(line, col, err.Error())
			}
		}
		return
	}
	if !isSecretFunc(id.Ident) {
		return
	}
	var arg parse.Node
	switch {
	case len(cmd.Args) == 2:
		arg = cmd.Args[1]
	case len(cmd.Args) == 1 && i > 0 && len(pipe.Cmds[i-1].Args) == 1:
		arg = pipe.Cmds[i-1].Args[0] // {{ "ref" | secret }}
	}
	s, ok := arg.(*parse.StringNode)
	if !ok {
		c.fail(line, col, id.Ident+" takes one reference, written as a quoted string: "+secretUsage(id.Ident)+
			" (references must be literal so every secret is fetched before rendering)")
		return
	}
	if s.Text == "" {
		c.fail(line, col, id.Ident+" has an empty reference: "+secretUsage(id.Ident))
		return
	}
	c.use(Use{Ref: Ref{Text: s.Text, Previous: id.Ident == "secretPrevious"}, Line: line, Col: col})
}

// literalArg tells whether a function's first argument must be a literal,
// with an example. (A switch, not a map: no package init at start-up.)
func literalArg(fn string) (example string, ok bool) {
	switch fn {
	case "json":
		return `{{ secret "sm:prod/db" | json "host" }}`, true
	case "jsonPath":
		return `{{ secret "sm:prod/db" | jsonPath "replicas[0].host" }}`, true
	}
	return "", false
}

func isSecretFunc(name string) bool { return name == "secret" || name == "secretPrevious" }

func secretUsage(name string) string {
	return fmt.Sprintf(`{{ %s "sm:prod/db:password" }}`, name)
}
