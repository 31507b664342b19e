package template

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestRenderFollowsSecrets renders a template that turns secrets into
// other texts in every way the functions allow, and checks what the
// caller is told: each text computed from a secret, unless made from one
// the caller declined (a database's host and user), and where the output
// holds the secret ones.
func TestRenderFollowsSecrets(t *testing.T) {
	tmpl, err := Parse(Input{Name: "follow.tmpl", LookupEnv: testEnv, Text: `
dsn: postgres://{{ secret "file:db.json#username" }}:{{ secret "sm:prod/db:password" | urlEncode }}@{{ secret "sm:prod/db" | json "host" }}/orders
user: {{ secret "file:db.json#username" | urlEncode }}
sh: {{ secret "sm:prod/db:password" | squote }}
basic: {{ printf "%s:%s" (secret "file:db.json#username") (secret "sm:prod/db:password") | base64Encode }}
hex: {{ printf "%x" (secret "sm:prod/db" | json "password") }}
key:
{{ secret "file:tls.key" | indent 2 }}
{{- range secret "file:tls.key" | lines }}
line: {{ . }}
{{- end }}
part: {{ slice (secret "sm:prod/db:password") 0 8 }}
motto: {{ secret "sm:prod/db" | json "motto" | toJSON }}
replica: {{ secret "sm:prod/cluster" | jsonPath "replicas[1].host" }} {{ secret "sm:prod/cluster" | jsonPath "auth.users[0]" | html }}
same: {{ secret "sm:prod/db:password" | default "none" }} {{ env "HOME" | default "x" }} {{ len (secret "sm:prod/db:password") }}
`})
	if err != nil {
		t.Fatal(err)
	}
	var asked []Derived
	public := func(d Derived) bool {
		return d.Key == "host" || d.Ref.Text == "file:db.json#username"
	}
	var l lookup
	out, err := tmpl.RenderWith(RenderInput{Lookup: l.get, Secret: func(d Derived) bool {
		asked = append(asked, d)
		return !public(d)
	}})
	if err != nil {
		t.Fatal(err)
	}
	pw := values["sm:prod/db:password"]
	key := values["file:tls.key"]
	var secret []string
	offered := map[string][]string{} // "func key" -> texts
	for _, d := range asked {
		offered[d.Func+" "+d.Key] = append(offered[d.Func+" "+d.Key], d.Text)
		if !public(d) {
			secret = append(secret, d.Text)
		}
	}
	for fn, want := range map[string]string{
		"secret ":        pw,
		"urlEncode ":     "p%40ss%3Aw%2Frd%20%2B%25~" + canary,
		"squote ":        "'" + pw + "'",
		"base64Encode ":  base64.StdEncoding.EncodeToString([]byte("app:" + pw)),
		"printf ":        fmt.Sprintf("%x", pw),
		"json host":      "db.internal",
		"indent ":        "  " + strings.ReplaceAll(strings.TrimSuffix(key, "\n"), "\n", "\n  ") + "\n",
		"lines ":         "-----END PRIVATE KEY-----",
		"slice ":         pw[:8],
		"json motto":     "it's a \"motto\"\n\ttab",
		"toJSON ":        `"it's a \"motto\"\n\ttab"`,
		"jsonPath host":  "db-2.internal",
		"jsonPath users": `{"name":"app","roles":["rw"]}`,
		"html ":          `{&#34;name&#34;:&#34;app&#34;,&#34;roles&#34;:[&#34;rw&#34;]}`,
	} {
		if !slices.Contains(offered[fn], want) {
			t.Errorf("%s: offered %q, want %q among them", fn, offered[fn], want)
		}
	}
	// The secret behind each text: the value, a member, a line; the
	// longest for a function of several.
	sources := map[string]int{}
	for _, d := range asked {
		sources[d.Func+" "+d.Text] = d.Source
	}
	for what, want := range map[string]int{
		"urlEncode p%40ss%3Aw%2Frd%20%2B%25~" + canary: len(pw),
		"squote '" + pw + "'":                          len(pw),
		"slice " + pw[:8]:                              len(pw),
		"json it's a \"motto\"\n\ttab":                 len("it's a \"motto\"\n\ttab"),
		"toJSON " + `"it's a \"motto\"\n\ttab"`:        len("it's a \"motto\"\n\ttab"),
		"lines -----END PRIVATE KEY-----":              len("-----END PRIVATE KEY-----"),
		"indent " + "  " + strings.ReplaceAll(strings.TrimSuffix(key, "\n"), "\n", "\n  ") + "\n": len(strings.TrimSpace(key)),
	} {
		if got, ok := sources[what]; !ok || got != want {
			t.Errorf("%.30q...: source %d, want %d", what, got, want)
		}
	}
	// Texts made from declined ones are not offered: the user's name
	// percent-encoded, nor anything made from the host. A text already
	// followed is not offered again (json "password" gives the value
	// secret "sm:prod/db:password" gave).
	for _, d := range asked {
		if d.Func == "urlEncode" && d.Text == "app" || d.Func != "json" && d.Text == "db.internal" || d.Func == "json" && d.Key == "password" {
			t.Errorf("offered %+v", d)
		}
	}
	// Every secret text written is a span, and every span is one.
	text := string(out.Text)
	var spans []string
	for _, s := range out.Secret {
		spans = append(spans, text[s.Start:s.End])
	}
	for _, s := range spans {
		if !slices.Contains(secret, s) {
			t.Errorf("span %q is not a secret text", s)
		}
	}
	for _, want := range []string{"p%40ss%3Aw%2Frd%20%2B%25~" + canary, "'" + pw + "'", pw[:8], pw, "-----BEGIN PRIVATE KEY-----"} {
		if !slices.Contains(spans, want) {
			t.Errorf("no span %q in %q", want, spans)
		}
	}
	for _, public := range []string{"app", "db.internal", "db-2.internal", "/home/app"} {
		if slices.Contains(spans, public) {
			t.Errorf("span %q: not a secret text", public)
		}
	}
	// Without Secret, nothing is followed.
	plain, err := tmpl.RenderWith(RenderInput{Lookup: l.get})
	if err != nil || string(plain.Text) != text || len(plain.Secret) != 0 {
		t.Errorf("without Secret: %d spans, same text %v, %v", len(plain.Secret), string(plain.Text) == text, err)
	}
}

// TestSliceAsBuiltin: slice, replaced to follow secrets, behaves as
// text/template's.
func TestSliceAsBuiltin(t *testing.T) {
	for text, want := range map[string]string{
		`{{ slice "abcdef" }}`:                        "abcdef",
		`{{ slice "abcdef" 2 }}`:                      "cdef",
		`{{ slice "abcdef" 1 3 }}`:                    "bc",
		`{{ slice ("a\nb\nc" | lines) 1 }}`:           "[b c]",
		`{{ slice ("a\nb\nc" | lines) 0 1 2 | len }}`: "1",
		`{{ slice "abc" 4 }}`:                         "slice: index out of range: 4",
		`{{ slice "abc" 2 1 }}`:                       "slice: invalid slice indexes",
		`{{ slice "abc" 0 1 2 }}`:                     "cannot 3-index slice a string",
		`{{ slice 5 }}`:                               "can't slice item of type int",
	} {
		tmpl, err := Parse(Input{Name: "s", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		out, err := tmpl.Render(nil)
		got := string(out)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", text, got, want)
		}
	}
}
