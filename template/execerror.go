package template

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"
)

// valueFreeError is the failure of one of shroud's template functions, or
// of a render's output limit. Its message says what is wrong with a value,
// never what the value is, so execError passes it on as it is.
type valueFreeError struct{ msg string }

func (e *valueFreeError) Error() string { return e.msg }

// failf returns a *valueFreeError; its arguments must hold no value.
func failf(format string, args ...any) error {
	return &valueFreeError{fmt.Sprintf(format, args...)}
}

// execError turns an error of text/template's Execute into an *Error at
// the line and column of the action that failed.
//
// text/template writes some values into its messages: "range can't
// iterate over %v" prints the string a template ranges over, and so do
// "if/with can't use %v", "can't use %v to iterate over more than one
// variable", the builtin eq ("non-comparable type %s: %v"), call (it names
// the callee by the piped value) and a recovered panic. So nothing of its
// message is passed on unread: the place and the action are rebuilt from
// the parse tree, the errors of shroud's functions and of Lookup are
// value-free by contract, and text/template's own message is shown only
// when its shape is one whose arguments are template text or type names
// (see execMessages); any other message becomes fixed text.
func (t *Template) execError(err error) error {
	e := &Error{Name: t.in.Name}
	var (
		lerr  *lookupError
		ferr  *valueFreeError
		limit *limitError
		msg   string // what went wrong, "" until known to be value-free
	)
	switch {
	case errors.As(err, &lerr):
		e.Err = lerr.err
		msg = lerr.Error()
	case errors.As(err, &ferr):
		msg = ferr.msg
	case errors.As(err, &limit):
		msg = limit.msg
	}
	line, col, action, inner, ok := t.splitExecError(err.Error())
	if !ok {
		e.Msg = cmp.Or(msg, "the template failed; text/template's message is not shown, as it may hold a secret value")
		return e
	}
	e.Line, e.Col = t.place(line, col+1) // text/template counts columns from 0
	if limit != nil {
		e.Msg = msg // the action is a hidden call, of no use to the reader
		return e
	}
	if msg == "" {
		msg = describeExec(inner)
	}
	e.Msg = "at <" + action + ">: " + msg
	return e
}

// splitExecError reads text/template's
//
//	template: NAME:LINE:COL: executing "TEMPLATE" at <ACTION>: MESSAGE
//
// ACTION is the text of the node that failed. It may hold ">: " itself, so
// it is not searched for: the nodes at LINE:COL are, and the longest whose
// text the message continues with is the action.
func (t *Template) splitExecError(s string) (line, col int, action, inner string, ok bool) {
	rest, ok := strings.CutPrefix(s, "template: "+t.in.Name+":")
	if !ok {
		return 0, 0, "", "", false
	}
	ls, rest, _ := strings.Cut(rest, ":")
	cs, rest, _ := strings.Cut(rest, ": executing ")
	line, err1 := strconv.Atoi(ls)
	col, err2 := strconv.Atoi(cs)
	if err1 != nil || err2 != nil {
		return 0, 0, "", "", false
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return 0, 0, "", "", false
	}
	rest, ok = strings.CutPrefix(rest[len(quoted):], " at <")
	if !ok {
		return 0, 0, "", "", false
	}
	found := false
	for _, text := range t.actionsAt(line, col) {
		if len(text) >= len(action) && strings.HasPrefix(rest, text+">: ") {
			action, inner, found = text, rest[len(text)+len(">: "):], true
		}
	}
	return line, col, action, inner, found
}

// actionsAt returns the text of every node at line and col (col counted
// from 0), as text/template's ErrorContext writes it.
func (t *Template) actionsAt(line, col int) []string {
	var texts []string
	var visit func(n parse.Node)
	visit = func(n parse.Node) {
		if n == nil || isNilNode(n) {
			return
		}
		pos := int(n.Position())
		before := t.in.Text[:min(pos, len(t.in.Text))]
		if 1+strings.Count(before, "\n") == line && len(before)-(strings.LastIndexByte(before, '\n')+1) == col {
			texts = append(texts, n.String())
		}
		for _, m := range children(n) {
			visit(m)
		}
	}
	for _, tmpl := range t.tmpl.Templates() {
		if tmpl.Tree != nil {
			visit(tmpl.Tree.Root)
		}
	}
	return texts
}

// isNilNode tells a typed nil, such as an if without else, from a node.
func isNilNode(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.ListNode:
		return n == nil
	case *parse.PipeNode:
		return n == nil
	}
	return false
}

// children returns the nodes directly under n.
func children(n parse.Node) []parse.Node {
	switch n := n.(type) {
	case *parse.ListNode:
		return n.Nodes
	case *parse.ActionNode:
		return []parse.Node{n.Pipe}
	case *parse.IfNode:
		return []parse.Node{n.Pipe, n.List, n.ElseList}
	case *parse.RangeNode:
		return []parse.Node{n.Pipe, n.List, n.ElseList}
	case *parse.WithNode:
		return []parse.Node{n.Pipe, n.List, n.ElseList}
	case *parse.TemplateNode:
		return []parse.Node{n.Pipe}
	case *parse.PipeNode:
		out := make([]parse.Node, 0, len(n.Decl)+len(n.Cmds))
		for _, d := range n.Decl {
			out = append(out, d)
		}
		for _, c := range n.Cmds {
			out = append(out, c)
		}
		return out
	case *parse.CommandNode:
		return n.Args
	case *parse.ChainNode:
		return []parse.Node{n.Node}
	}
	return nil
}

// execMessages are text/template's execution messages by the literal text
// they start with (text/template/exec.go and funcs.go, Go 1.26). shown
// means every argument of the message is template text (a field, key,
// function or template name, an action) or a type name, so the message is
// passed on; otherwise fixed is shown instead, because an argument may be
// a value or come from one. Messages not listed are replaced as well.
var execMessages = []struct {
	prefix string
	shown  bool
	fixed  string
}{
	{prefix: "range can't iterate over ", fixed: "range can't iterate over this value (not shown): range over a list, such as the lines of a value: {{ range secret \"file:hosts.txt\" | lines }}"},
	{prefix: "if/with can't use ", fixed: "if/with can't test this value (not shown)"},
	{prefix: "can't use ", fixed: "range over a number or a function sets one variable, not two (the value is not shown)"},
	{prefix: "range over send-only channel", fixed: "range over a send-only channel"},
	{prefix: "wrong number of args for ", shown: true},
	{prefix: "wrong type for value; expected ", shown: true},
	{prefix: "can't evaluate field ", shown: true},
	{prefix: "can't evaluate command ", shown: true},
	{prefix: "can't give argument to non-function ", shown: true},
	{prefix: "can't handle ", shown: true},
	{prefix: "can't print ", shown: true},
	{prefix: "nil data; no entry for key ", shown: true},
	{prefix: "map has no entry for key ", shown: true},
	{prefix: "nil pointer evaluating ", shown: true},
	{prefix: "nil is not a command", shown: true},
	{prefix: "template ", shown: true}, // template %q not defined
	{prefix: "exceeded maximum template depth", shown: true},
	{prefix: "expected ", shown: true}, // expected bool; found NODE, ...
	{prefix: "invalid value; expected ", shown: true},
	{prefix: "cannot assign nil to ", shown: true},
	{prefix: "dereference of nil pointer of type ", shown: true},
	{prefix: "indirection through explicit nil in ", shown: true},
	{prefix: "undefined variable: ", shown: true},
}

// builtinMessages are the errors of text/template's builtin functions
// (eq, index, slice, len, ...), after "error calling NAME: ".
var builtinMessages = []struct {
	prefix string
	shown  bool
	fixed  string
}{
	{prefix: "index out of range", fixed: "index out of range"},
	{prefix: "invalid slice index", fixed: "invalid slice index"},
	{prefix: "non-comparable type", fixed: "the values are not comparable (not shown)"},
	{prefix: "incompatible types for comparison: ", shown: true},
	{prefix: "invalid type for comparison", shown: true},
	{prefix: "missing argument for comparison", shown: true},
	{prefix: "value is nil; should be of type ", shown: true},
	{prefix: "value has type ", shown: true},
	{prefix: "arg ", shown: true}, // arg N: value has type T; should be U
	{prefix: "cannot index slice/array with ", shown: true},
	{prefix: "index of untyped nil", shown: true},
	{prefix: "index of nil pointer", shown: true},
	{prefix: "can't index item of type ", shown: true},
	{prefix: "slice of untyped nil", shown: true},
	{prefix: "slice of nil pointer", shown: true},
	{prefix: "too many slice indexes", shown: true},
	{prefix: "cannot 3-index slice a string", shown: true},
	{prefix: "can't slice item of type ", shown: true},
	{prefix: "len of nil pointer", shown: true},
	{prefix: "len of type ", shown: true},
}

// describeExec returns text/template's message if its shape is known to
// hold no value, else fixed text.
func describeExec(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "error calling "); ok {
		name, why, _ := strings.Cut(rest, ": ")
		if name == "call" {
			// call names its callee by the piped value.
			return "call failed; its message is not shown, as it may hold a secret value"
		}
		for _, m := range builtinMessages {
			if strings.HasPrefix(why, m.prefix) {
				if m.shown {
					return msg
				}
				return name + ": " + m.fixed
			}
		}
		return name + " failed; its message is not shown, as it may hold a secret value"
	}
	for _, m := range execMessages {
		if strings.HasPrefix(msg, m.prefix) {
			if !m.shown {
				return m.fixed
			}
			if m.prefix == "nil data; no entry for key " {
				msg += `; a template has no data: read values with secret "REF" and env "NAME"`
			}
			return msg
		}
	}
	return "the action failed; text/template's message is not shown, as it may hold a secret value"
}
