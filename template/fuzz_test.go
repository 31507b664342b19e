package template

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template/parse"
)

// FuzzParse checks template parsing and reference collection on any text:
// no panic; every error is an *Error with a place; references are unique;
// and rendering asks only for references Parse collected (the batched plan
// is complete), and no error shows a value.
//
//	go test ./template -run '^$' -fuzz FuzzParse -fuzztime 60s -fuzzminimizetime 2s
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/golden/*.tmpl")
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	for _, s := range []string{
		`{{ secret "sm:a" }}`, `{{ "file:b" | secret }}`, `{{ secretPrevious "kms:c:k" }}`,
		`{{ secret "sm:a" | json "k" }}`, `{{ secret "sm:a" | jsonPath "a[0][\"b.c\"]" }}`,
		`{{ define "x" }}{{ secret "sm:d" }}{{ end }}{{ template "x" }}`,
		`{{ with $v := secret "sm:a" }}{{ $v | json "k" }}{{ end }}`,
		`{{ range lines (secret "file:l") }}{{ . | quote }}{{ end }}`,
		`{{ if eq (secret "env:E") "x" }}{{ secret "sm:f" | base64Decode }}{{ else }}{{ env "HOME" | default "d" }}{{ end }}`,
		`{{ secret .x }}`, `{{ block "b" . }}{{ secret "sm:g" | squote }}{{ end }}`, `{{/* c */}}{{- secret "sm:h" -}}`,
		// Execution errors whose text/template message holds a value.
		`{{ $v := secret "sm:a" }}{{ range $v }}{{ . }}{{ end }}`, `{{ with secret "sm:a" }}{{ range . }}{{ end }}{{ end }}`,
		`{{ range $i, $c := len (secret "sm:a") }}{{ end }}`, `{{ range index (lines (secret "sm:a")) 0 }}{{ end }}`,
		`{{ secret "sm:a" | call }}`, `{{ eq (lines (secret "sm:a")) (lines (secret "sm:a")) }}`,
		`{{ range or ">: wrong type for value; expected x" (secret "sm:a") }}{{ end }}`,
		`{{ define "r" }}{{ range . }}{{ end }}{{ end }}{{ template "r" (secret "sm:a" | json "k") }}`,
		`{{ range 3 }}{{ range lines (secret "file:l") }}{{ . }}{{ end }}{{ end }}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tmpl, err := Parse(Input{Name: "f.tmpl", Text: text, Line: 3, Col: 2, LookupEnv: testEnv})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.tmpl:") {
				t.Fatalf("error without its place: %v", err)
			}
			return
		}
		refs := tmpl.Refs()
		for i, r := range refs {
			if r.Text == "" || slices.Contains(refs[:i], r) {
				t.Fatalf("bad or repeated reference %v in %v", r, refs)
			}
		}
		for _, u := range tmpl.Uses() {
			if !slices.Contains(refs, u.Ref) || u.Line < 3 || u.Col < 1 {
				t.Fatalf("use %+v not in %v or misplaced", u, refs)
			}
		}
		// Ranges over large numbers and recursive templates only burn
		// time; everything else is rendered.
		if len(text) > 2000 || !cheap(tmpl, text) {
			return
		}
		secret := "{\"a\":{\"b\":[1,\"" + canary + "\"]},\"k\":\"" + canary + "\"}"
		lookup := func(r Ref) ([]byte, error) {
			if !slices.Contains(refs, r) {
				t.Fatalf("rendering asked for %v, which Parse did not collect (%v)", r, refs)
			}
			return []byte(secret), nil
		}
		out, err := tmpl.Render(lookup)
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Fatalf("the error shows a value: %v", err)
		}
		// Following secrets changes nothing of the output, and its spans
		// are in order, inside it, and texts it was offered.
		offered := map[string]bool{}
		followed, ferr := tmpl.RenderWith(RenderInput{Lookup: lookup, Secret: func(d Derived) bool {
			offered[d.Text] = true
			return true
		}})
		if (err == nil) != (ferr == nil) || string(followed.Text) != string(out) {
			t.Fatalf("following changed the render: %v / %v", err, ferr)
		}
		end := 0
		for _, s := range followed.Secret {
			if s.Start < end || s.End > len(out) || !offered[string(out[s.Start:s.End])] {
				t.Fatalf("span %+v of %d bytes: out of order, outside, or not offered", s, len(out))
			}
			end = s.End
		}
	})
}

// maxFuzzWork bounds the nodes a fuzzed template may evaluate.
const maxFuzzWork = 200_000

// cheap reports whether rendering tmpl evaluates at most maxFuzzWork nodes,
// from its parse trees: a range runs its body as many times as its number
// literal says, or as its list or length allows (bounded by the longest
// string the template can make: fmt caps a printf width at 1e6); nested
// ranges multiply; a template that calls itself is never cheap.
func cheap(tmpl *Template, text string) bool {
	longest := 1000 + 10*len(text)
	if strings.Contains(text, "print") {
		longest = 1_000_000
	}
	trees := map[string]*parse.Tree{}
	for _, t := range tmpl.tmpl.Templates() {
		if t.Tree != nil {
			trees[t.Name()] = t.Tree
		}
	}
	calling := map[string]bool{}
	costOf := map[string]float64{} // of each template's body, once
	var cost func(n parse.Node) float64
	cost = func(n parse.Node) float64 {
		if n == nil || isNilNode(n) {
			return 0
		}
		switch n := n.(type) {
		case *parse.RangeNode:
			times := float64(longest)
			if len(n.Pipe.Cmds) == 1 && len(n.Pipe.Cmds[0].Args) == 1 {
				if num, ok := n.Pipe.Cmds[0].Args[0].(*parse.NumberNode); ok && num.IsInt {
					times = float64(max(num.Int64, 0))
				}
			}
			return 1 + cost(n.Pipe) + times*(1+cost(n.List)) + cost(n.ElseList)
		case *parse.TemplateNode:
			if calling[n.Name] {
				return math.Inf(1)
			}
			body, ok := costOf[n.Name]
			if tree := trees[n.Name]; !ok && tree != nil {
				calling[n.Name] = true
				body = cost(tree.Root)
				calling[n.Name] = false
				costOf[n.Name] = body
			}
			return 1 + cost(n.Pipe) + body
		}
		c := 1.0
		for _, m := range children(n) {
			c += cost(m)
		}
		return c
	}
	top := trees[tmpl.Name()]
	return top == nil || cost(top.Root) <= maxFuzzWork
}

// FuzzJSONPath checks the path syntax and lookup on any path and document:
// no panic, and errors quote the path and key names, never a value.
func FuzzJSONPath(f *testing.F) {
	f.Add("replicas[0].host", `{"replicas":[{"host":"h"}]}`)
	f.Add(`$["a.b"][2]`, `{"a.b":[0,1,{"c":"`+canary+`"}]}`)
	f.Add(`a['x\'y']`, `{"a":{"x'y":1}}`)
	f.Add("$", canary)
	f.Fuzz(func(t *testing.T, path, doc string) {
		if strings.Contains(path, canary) {
			return
		}
		_, err := jsonPath(path, doc)
		if err != nil && strings.Contains(err.Error(), canary) && !keyHolds(doc, canary) {
			t.Fatalf("the error shows a value: %v", err)
		}
	})
}

// keyHolds reports whether any object key in doc contains s: key names may
// be listed in errors, values may not.
func keyHolds(doc, s string) bool {
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			for k, m := range v {
				if strings.Contains(k, s) || walk(m) {
					return true
				}
			}
		case []any:
			for _, m := range v {
				if walk(m) {
					return true
				}
			}
		}
		return false
	}
	var v any
	return json.Unmarshal([]byte(doc), &v) == nil && walk(v)
}
