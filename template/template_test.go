package template

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// canary is planted in every value the tests serve; no error may show it.
const canary = "canary-tmpl-7Qx"

// values stands in for the secret stores: reference text -> value. The
// previous versions are keyed by "previous:" + text.
var values = map[string]string{
	"file:db.json#username": "app",
	"sm:prod/db": `{"username": "app", "password": "p@ss:w/rd +%~` + canary + `", "host": "db.internal",
		"port": 5432, "tls": true, "dbname": "orders", "motto": "it's a \"motto\"\n\ttab"}`,
	"sm:prod/db:password":          "p@ss:w/rd +%~" + canary,
	"previous:sm:prod/db:password": "old-password-canary-tmpl-prev",
	"sm:prod/blob-b64":             "aGVsbG8sIGJ5dGVz",
	"file:padded.txt":              "  padded \n",
	"file:hosts.txt":               "db-1.internal\r\ndb-2.internal\n",
	"file:tls.key":                 "-----BEGIN PRIVATE KEY-----\n" + canary[:12] + "key\n-----END PRIVATE KEY-----\n",
	"sm:prod/cluster": `{
		"replicas": [{"host": "db-1.internal", "port": 5432}, {"host": "db-2.internal", "port": 6432}],
		"labels": {"app.kubernetes.io/name": "orders"},
		"auth": {"users": [{"name": "app", "roles": ["rw"]}]}
	}`,
	"env:NOT_JSON": "plain " + canary,
}

// lookup serves values and records what it was asked for.
type lookup struct{ asked []Ref }

func (l *lookup) get(r Ref) ([]byte, error) {
	l.asked = append(l.asked, r)
	key := r.Text
	if r.Previous {
		key = "previous:" + key
	}
	v, ok := values[key]
	if !ok {
		return nil, fmt.Errorf("reference %q: not found", r.Text)
	}
	return []byte(v), nil
}

func testEnv(name string) (string, bool) {
	if name == "HOME" {
		return "/home/app", true
	}
	return "", false
}

func mustParse(t *testing.T, name, text string) *Template {
	t.Helper()
	tmpl, err := Parse(Input{Name: name, Text: text, LookupEnv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestGolden renders each testdata/golden/*.tmpl and compares it with its
// .golden file (go test ./template -update rewrites them).
func TestGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/golden/*.tmpl")
	if len(paths) < 4 {
		t.Fatalf("found %d golden templates", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := mustParse(t, path, string(text))
			var l lookup
			got, err := tmpl.Render(l.get)
			if err != nil {
				t.Fatal(err)
			}
			// Everything rendering asked for was collected before.
			for _, r := range l.asked {
				if !slices.Contains(tmpl.Refs(), r) {
					t.Errorf("rendering asked for %v, which Refs did not list %v", r, tmpl.Refs())
				}
			}
			golden := strings.TrimSuffix(path, ".tmpl") + ".golden"
			if *update {
				must.Succeed(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("rendered:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	tmpl := mustParse(t, "t", `{{ secret "sm:a" }}{{ secret "sm:a" }}
{{ "file:b#k" | secret }} {{ secretPrevious "sm:a" }}
{{ define "inner" }}{{ secret "kms:c" }}{{ end }}
{{ if true }}{{ with secret "env:D" }}{{ . }}{{ else }}{{ secret "sm:e" }}{{ end }}{{ end }}
{{ range lines (secret "file:f") }}{{ . }}{{ end }}{{ template "inner" (secret "sm:g") }}`)
	var got []string
	for _, r := range tmpl.Refs() {
		got = append(got, r.String())
	}
	// In order of first use.
	want := []string{`secret "sm:a"`, `secret "file:b#k"`, `secretPrevious "sm:a"`, `secret "kms:c"`, `secret "env:D"`,
		`secret "sm:e"`, `secret "file:f"`, `secret "sm:g"`}
	if !slices.Equal(got, want) {
		t.Fatalf("Refs = %q\nwant   %q", got, want)
	}
	uses := tmpl.Uses()
	if len(uses) != 9 || uses[0].Line != 1 || uses[0].Col != 4 || uses[2].Line != 2 || uses[2].Col != 17 {
		t.Fatalf("uses = %+v", uses)
	}
}

// TestErrors checks that parse and render errors name the file, the line
// and the column (shifted for a template inlined in a config) and what is
// wrong, and never a value.
func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		text string
		want string
	}{
		// Parse errors: all at once, with positions in the config file.
		{"a\n  {{ secret .Ref }}", `shroud.toml:13:6: secret takes one reference, written as a quoted string`},
		{`{{ secret }}`, `shroud.toml:12:12: secret takes one reference`},
		{`{{ secret "" }}`, `shroud.toml:12:12: secret has an empty reference`},
		{`{{ default secretPrevious "x" }}`, `shroud.toml:12:20: secretPrevious needs a reference`},
		{`{{ secret "a" }}{{ secret (printf "b") }}`, `shroud.toml:12:28: secret takes one reference`},
		{`{{ sercet "sm:a" }}`, `shroud.toml:12: function "sercet" not defined; the functions are base64Decode, base64Encode, default, env, indent, json, jsonPath, lines, quote, secret, secretPrevious, squote, toJSON, trim, urlEncode`},
		{"x\n{{ if }}", `shroud.toml:13: missing value for if`},
		{`{{ secret "sm:a" | json .k }}`, `shroud.toml:12:28: json takes its argument as a quoted string`},
		{`{{ secret "sm:a" | jsonPath "a..b" }}`, `shroud.toml:12:37: jsonPath "a..b": empty key`},
		{`{{ secret "sm:a" | jsonPath "a[x]" }}`, `jsonPath "a[x]": "x" is not an array index`},
		// Render errors: the position of the call that failed.
		{"\n\n  {{ secret \"sm:nope\" }}", `shroud.toml:14:6: at <secret "sm:nope">: reference "sm:nope": not found`},
		{`{{ secret "sm:prod/db" | json "pasword" }}`, `shroud.toml:12:34: at <json "pasword">: json "pasword": no such key; the object has keys "dbname", "host", "motto", "password", "port", "tls", "username"`},
		{`{{ secret "env:NOT_JSON" | json "k" }}`, `at <json "k">: json "k": the value is not a JSON object`},
		{"{{ `{\"a#\": 1, \"a\\\"\": 2}` | json \"k\" }}", `json "k": no such key; the object has keys "a\"", "a#"`},
		{`{{ secret "sm:prod/cluster" | jsonPath "replicas[2].host" }}`, `jsonPath "replicas[2].host": $.replicas has 2 elements, no [2]`},
		{"{{ `{\"a\": [1]}` | jsonPath \"a[1]\" }}", `jsonPath "a[1]": $.a has 1 element, no [1]`},
		{`{{ secret "sm:prod/cluster" | jsonPath "labels.app" }}`, `jsonPath "labels.app": $.labels has no key "app"; it has keys "app.kubernetes.io/name"`},
		{`{{ secret "sm:prod/cluster" | jsonPath "replicas[0].host.name" }}`, `$.replicas[0].host is a string, not an object`},
		{`{{ secret "env:NOT_JSON" | jsonPath "a" }}`, `the value is not JSON`},
		{`{{ secret "env:NOT_JSON" | base64Decode }}`, `base64Decode: the value is not valid base64`},
		{`{{ secret "sm:prod/db" | indent -1 }}`, `indent -1: want 0 to 1000 spaces`},
		{`{{ .Password }}`, `shroud.toml:12:12: at <.Password>: nil data; no entry for key "Password"; a template has no data: read values with secret "REF" and env "NAME"`},
		{`{{ (secret "sm:prod/db").Password }}`, `can't evaluate field Password in type string`},
		{`{{ index (secret "sm:prod/db") 5000 }}`, `at <index (secret "sm:prod/db") 5000>: index: index out of range`},
		{`{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" (secret "sm:prod/db") }}`, `templates call each other more than 1000 deep`},
		{`{{ range 17000000 }}{{ secret "sm:prod/db" }}{{ end }}`, `the output is larger than 16 MiB`},
	} {
		tmpl, err := Parse(Input{Name: "shroud.toml", Text: tt.text, Line: 12, Col: 9, LookupEnv: testEnv})
		if err == nil {
			_, err = tmpl.Render((&lookup{}).get)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s\n  err  = %v\n  want %s", tt.text, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "p@ss") {
			t.Errorf("%s: the error shows a value: %v", tt.text, err)
		}
		var te *Error
		if !errors.As(err, &te) {
			t.Errorf("%s: %T is not an *Error", tt.text, err)
		}
	}
}

// TestErrorsListedAtOnce checks that every bad call is reported in one go.
func TestErrorsListedAtOnce(t *testing.T) {
	_, err := Parse(Input{Name: "db.tmpl", Text: "{{ secret .a }}\n{{ secret \"\" }}\n{{ secret \"x\" | json .k }}\n"})
	if err == nil || strings.Count(err.Error(), "db.tmpl:") != 3 {
		t.Fatalf("err = %v", err)
	}
}

// TestLookupErrorUnwraps lets a caller tell a missing value from a bad
// template.
func TestLookupErrorUnwraps(t *testing.T) {
	sentinel := errors.New("backend down")
	tmpl := mustParse(t, "t", `{{ secret "sm:a" }}`)
	_, err := tmpl.Render(func(Ref) ([]byte, error) { return nil, sentinel })
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v does not wrap the lookup error", err)
	}
}

func TestRenderKeepsBytes(t *testing.T) {
	bin := "\x00\xff\xfe binary"
	tmpl := mustParse(t, "t", `[{{ secret "file:blob" }}]`)
	got, err := tmpl.Render(func(Ref) ([]byte, error) { return []byte(bin), nil })
	if err != nil || string(got) != "["+bin+"]" {
		t.Fatalf("got %q, %v", got, err)
	}
	tmpl = mustParse(t, "t", `{{ secret "file:blob" | toJSON }}`)
	if _, err := tmpl.Render(func(Ref) ([]byte, error) { return []byte(bin), nil }); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Fatalf("toJSON of bytes: %v", err)
	}
}

func TestFunctions(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{indentOf(4, "a\n\nb\r\nc"), "    a\n\n    b\r\n    c"},
		{strings.Join(noErr(lines("a\r\nb\n\nc")), "|"), "a|b||c"},
		{fmt.Sprint(len(noErr(lines("")))), "0"},
		{noErr(urlEncode("aZ09-._~ /?#[]@!$&'()*+,;=%é")), "aZ09-._~%20%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25%C3%A9"},
	} {
		if tt.in != tt.want {
			t.Errorf("got %q, want %q", tt.in, tt.want)
		}
	}
	for _, in := range []string{"aGk=", "aGk", "aGk=\n"} {
		if got, err := base64Decode(in); err != nil || got != "hi" {
			t.Errorf("base64Decode(%q) = %q, %v", in, got, err)
		}
	}
}

func indentOf(n int, s string) string {
	out, _ := indent(n, s)
	return out
}

func noErr[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRangeOverTextRejected checks that a range over a function that gives
// text fails when the template is parsed: ranging over a string fails, and
// text/template's message for it prints the string.
func TestRangeOverTextRejected(t *testing.T) {
	for _, text := range []string{
		`{{ range secret "file:pw" }}{{ . }}{{ end }}`,
		`{{ range $l := secret "sm:prod/db" | json "hosts" }}{{ end }}`,
		`{{ range (secretPrevious "sm:prod/db:password") }}{{ end }}`,
		`{{ range secret "sm:prod/cluster" | jsonPath "replicas" }}{{ end }}`,
		`{{ if true }}{{ range printf "%s" (secret "sm:a") }}{{ end }}{{ end }}`,
		`{{ define "d" }}{{ range env "HOME" | trim }}{{ end }}{{ end }}`,
	} {
		_, err := Parse(Input{Name: "t.tmpl", Text: text, LookupEnv: testEnv})
		if err == nil || !strings.Contains(err.Error(), "range needs a list, and ") ||
			!strings.Contains(err.Error(), `{{ range secret "file:hosts.txt" | lines }}`) {
			t.Errorf("%s: err = %v", text, err)
		}
	}
	// Lists and numbers may be ranged over.
	tmpl := mustParse(t, "t.tmpl", `{{ range secret "file:hosts.txt" | lines }}{{ . }};{{ end }}{{ range 2 }}.{{ end }}`)
	if got, err := tmpl.Render((&lookup{}).get); err != nil || string(got) != "db-1.internal;db-2.internal;.." {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestExecErrorsNeverShowValues covers the failures text/template finds
// only when it runs, whose messages would print a value: each error has
// the place and the action, fixed text, and no value.
func TestExecErrorsNeverShowValues(t *testing.T) {
	const pw = `(secret "sm:prod/db:password")`
	for _, tt := range []struct{ text, want string }{
		// A variable or dot holding a string: not known when parsing.
		{`{{ $v := secret "sm:prod/db:password" }}` + "\n" + `{{ range $v }}{{ . }}{{ end }}`,
			`t.tmpl:2:10: at <$v>: range can't iterate over this value (not shown)`},
		{`{{ with secret "sm:prod/db:password" }}{{ range . }}{{ end }}{{ end }}`,
			`t.tmpl:1:49: at <.>: range can't iterate over this value (not shown)`},
		{`{{ define "x" }}{{ range . }}{{ end }}{{ end }}{{ template "x" ` + pw + ` }}`,
			`t.tmpl:1:26: at <.>: range can't iterate over this value (not shown)`},
		{`{{ range index (lines ` + pw + `) 0 }}{{ end }}`, `range can't iterate over this value (not shown)`},
		// An action whose text holds ">: " and the start of a message
		// that would be shown.
		{`{{ range or ">: wrong type for value; expected x" ` + pw + ` }}{{ end }}`,
			`t.tmpl:1:13: at <">: wrong type for value; expected x">: range can't iterate over this value (not shown)`},
		{`{{ range $i, $c := len ` + pw + ` }}{{ end }}`, `sets one variable, not two (the value is not shown)`},
		// call names its callee by the piped value.
		{`{{ secret "sm:prod/db:password" | call }}`, `at <call>: call failed; its message is not shown`},
		{`{{ eq (lines ` + pw + `) (lines ` + pw + `) }}`, `eq: the values are not comparable (not shown)`},
		{`{{ index (lines ` + pw + `) 3 }}`, `index: index out of range`},
		{`{{ slice ` + pw + ` 5 2 }}`, `slice: invalid slice index`},
		// Messages of type names and template text are kept.
		{`{{ eq (lines ` + pw + `) 1 }}`, `error calling eq: incompatible types for comparison: []string and int`},
		{`{{ ` + pw + `.Field }}`, `can't evaluate field Field in type string`},
		{`{{ template "nope" }}`, `template "nope" not defined`},
		{`{{ len 3 }}`, `error calling len: len of type int`},
	} {
		tmpl, err := Parse(Input{Name: "t.tmpl", Text: tt.text, LookupEnv: testEnv})
		if err != nil {
			t.Errorf("%s: %v", tt.text, err)
			continue
		}
		_, err = tmpl.Render((&lookup{}).get)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s\n  err  = %v\n  want %s", tt.text, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "p@ss") {
			t.Errorf("%s: the error shows a value: %v", tt.text, err)
		}
		var te *Error
		if !errors.As(err, &te) || te.Line == 0 || te.Col == 0 {
			t.Errorf("%s: %#v has no place", tt.text, err)
		}
	}
}

// TestDescribeExecKnowsEveryValueMessage feeds describeExec every message
// shape of text/template's that formats a value, with a canary as the
// value: none may come through.
func TestDescribeExecKnowsEveryValueMessage(t *testing.T) {
	for _, msg := range []string{
		"range can't iterate over " + canary,
		"if/with can't use " + canary,
		"can't use " + canary + " to iterate over more than one variable",
		"can't use " + canary + " iterate over more than one variable",
		"range over send-only channel " + canary,
		"error calling call: non-function " + canary + " of type string",
		"error calling call: wrong number of args for " + canary + ": got 1 want 2",
		"error calling eq: non-comparable types " + canary + ": []string, []string: " + canary,
		"error calling eq: non-comparable type " + canary + ": []string",
		"error calling index: index out of range: 42" + canary,
		"error calling slice: invalid slice index: 5 > 2" + canary,
		"error calling custom: " + canary, // a recovered panic
		canary + " is an unexported field of struct type T",
		canary,
	} {
		if got := describeExec(msg); strings.Contains(got, canary) {
			t.Errorf("describeExec(%q) = %q", msg, got)
		}
	}
}
