package template

import (
	"fmt"
	"strings"
)

// A render can follow secret values through a template, so that the
// caller learns every text the template made of one: a password
// percent-encoded by urlEncode, a key indented for YAML, the member of a
// JSON secret, and where each such text sits in the output. A masker of a
// child's output needs exactly that: what shroud wrote from a secret, in
// whatever form, is as secret as the value.
//
// Following works on texts, not on variables: the value a secret call
// gives is tainted, and so is every text a function computes from a
// tainted argument (shroud's functions and text/template's print, printf,
// println, html, js, urlquery and slice). A function that passes a text on
// unchanged (default, and, or) passes its taint with it, as the text is
// the same. Numbers and booleans made from a secret (len, eq) are not
// followed. The caller decides which tainted texts are secret (RenderInput.
// Secret): a text it declines, such as a database's host taken with json
// "host", taints nothing made from it.

// Derived is a text a render computed from a secret value.
type Derived struct {
	// Func is the function that made Text: "secret", "secretPrevious",
	// "json", "urlEncode", "printf", ...
	Func string
	// Ref is the reference of secret and secretPrevious.
	Ref Ref
	// Key is the member json took, or the last key of jsonPath's path; ""
	// for other functions and for a path that ends at the whole value.
	Key  string
	Text string
	// Source is how long the secret behind Text is, without surrounding
	// white space: the value of secret and secretPrevious, the member json
	// and jsonPath take, the line lines gives, or for another function the
	// longest secret behind its arguments. A masker that leaves short
	// values alone leaves their forms alone too: squote makes "'1234'" of
	// "1234".
	Source int
}

// RenderInput configures RenderWith.
type RenderInput struct {
	// Lookup gives the value of each reference.
	Lookup Lookup
	// Secret, when set, follows secret values through the render: it is
	// asked about each text computed from a secret value (by secret and
	// secretPrevious, or by a function from a secret text) and reports
	// whether that text is secret. Texts that are secret are followed
	// further, and Output.Secret says where the output holds them.
	Secret func(Derived) bool
}

// Output is what a render made.
type Output struct {
	Text []byte
	// Secret holds the places in Text where a secret text was written, in
	// order (empty unless RenderInput.Secret is set).
	Secret []Span
}

// Span is the range [Start, End) of bytes of an output.
type Span struct{ Start, End int }

// following reports whether the render in progress follows secrets.
func (t *Template) following() bool { return t.cur != nil && t.cur.secret != nil }

// taint asks the caller about d, a text computed from a secret value, and
// follows it when it is secret.
func (r *render) taint(d Derived) {
	if d.Text == "" || r.tainted[d.Text] > 0 {
		return
	}
	if r.secret(d) {
		r.tainted[d.Text] = max(d.Source, 1)
	}
}

// source is how long the longest secret behind x is (see Derived.Source),
// when x is or holds a tainted text; else 0.
func (r *render) source(x any) int {
	switch x := x.(type) {
	case string:
		return r.tainted[x]
	case []string:
		n := 0
		for _, s := range x {
			n = max(n, r.tainted[s])
		}
		return n
	}
	return 0
}

// derived follows the result of function fn, given inputs: when one of
// them is tainted, each text of the result is offered to the caller.
func (t *Template) derived(fn, key string, result any, inputs ...any) {
	if !t.following() {
		return
	}
	r := t.cur
	src := 0
	for _, in := range inputs {
		src = max(src, r.source(in))
	}
	if src == 0 {
		return
	}
	own := fn == "json" || fn == "jsonPath" || fn == "lines" // a secret of its own
	offer := func(text string) {
		if own {
			src = len(strings.TrimSpace(text))
		}
		r.taint(Derived{Func: fn, Key: key, Text: text, Source: src})
	}
	switch v := result.(type) {
	case string:
		offer(v)
	case []string:
		for _, s := range v {
			offer(s)
		}
	}
}

// followed1 and followed2 follow secret texts through f, a function of
// one or two arguments; followed2's data is its second argument (the
// first is a key, a path or a count). followedN follows them through a
// function of any arguments.
func followed1[A, R any](t *Template, fn string, f func(A) (R, error)) func(A) (R, error) {
	return func(a A) (R, error) {
		r, err := f(a)
		if err == nil {
			t.derived(fn, "", r, a)
		}
		return r, err
	}
}

func followed2[A, B, R any](t *Template, fn string, f func(A, B) (R, error)) func(A, B) (R, error) {
	return func(a A, b B) (R, error) {
		r, err := f(a, b)
		if err == nil && t.following() {
			t.derived(fn, memberKey(fn, a), r, b)
		}
		return r, err
	}
}

func followedN(t *Template, fn string, f func(...any) (string, error)) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		r, err := f(args...)
		if err == nil {
			t.derived(fn, "", r, args...)
		}
		return r, err
	}
}

// memberKey is the key json and jsonPath take a member by: json's key, or
// the last key of jsonPath's path (an array's elements count as members of
// the key that holds it).
func memberKey(fn string, arg any) string {
	key, _ := arg.(string)
	switch fn {
	case "json":
		return key
	case "jsonPath":
		steps, _ := parsePath(key)
		for i := len(steps) - 1; i >= 0; i-- {
			if !steps[i].isIdx {
				return steps[i].key
			}
		}
	}
	return ""
}

// slice is text/template's slice for what a template holds, text and
// lists of lines, made here so that a part of a secret is followed:
// slice x is x[:], slice x 1 is x[1:], slice x 1 2 is x[1:2], and a list
// also takes slice x 1 2 3, x[1:2:3].
func slice(item any, indexes ...int) (any, error) {
	if len(indexes) > 3 {
		return nil, failf("slice: too many indexes")
	}
	n := 0
	switch v := item.(type) {
	case string:
		n = len(v)
		if len(indexes) == 3 {
			return nil, failf("slice: cannot 3-index slice a string")
		}
	case []string:
		n = cap(v)
	default:
		return nil, failf("slice: can't slice item of type %s", typeName(item))
	}
	idx := [3]int{0, n, n}
	if s, ok := item.([]string); ok {
		idx[1] = len(s)
	}
	for i, x := range indexes {
		if x < 0 || x > n {
			return nil, failf("slice: index out of range: %d", x)
		}
		idx[i] = x
	}
	if idx[0] > idx[1] || len(indexes) == 3 && idx[1] > idx[2] {
		return nil, failf("slice: invalid slice indexes: %d > %d", max(idx[0], idx[1]), min(idx[0], idx[1]))
	}
	if s, ok := item.(string); ok {
		return s[idx[0]:idx[1]], nil
	}
	return item.([]string)[idx[0]:idx[1]:idx[2]], nil
}

// typeName names x's type for an error: never its value.
func typeName(x any) string {
	if x == nil {
		return "untyped nil"
	}
	return fmt.Sprintf("%T", x)
}
