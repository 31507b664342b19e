package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
		// Ranges over large numbers only burn time.
		if len(text) > 2000 || strings.Contains(text, "range") {
			return
		}
		secret := "{\"a\":{\"b\":[1,\"" + canary + "\"]},\"k\":\"" + canary + "\"}"
		_, err = tmpl.Render(func(r Ref) ([]byte, error) {
			if !slices.Contains(refs, r) {
				t.Fatalf("rendering asked for %v, which Parse did not collect (%v)", r, refs)
			}
			return []byte(secret), nil
		})
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Fatalf("the error shows a value: %v", err)
		}
	})
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
