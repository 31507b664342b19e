package main

import (
	"strings"
	"testing"
)

// TestTemplateErrorsNeverShowValues runs render, run and check on
// templates that range over a secret, the mistake of forgetting lines:
// found when the config loads, or, through a variable, only when the
// template runs. Each names the place and never the value.
func TestTemplateErrorsNeverShowValues(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "pw", "canary-e2e-Vb5nR8")
	write(t, dir, "db.json", `{"hosts":"canary-e2e-Vb5nR8"}`)
	write(t, dir, "parse.toml", `
[[files]]
path = "out/x.conf"
template = '''{{ range secret "file:pw" }}{{ . }}{{ end }}'''

[[files]]
path = "out/y.conf"
template = '''{{ range secret "file:db.json" | json "hosts" }}{{ . }}{{ end }}'''
`)
	write(t, dir, "exec.toml", `
[[files]]
path = "out/x.conf"
template = '''
{{ $pw := secret "file:pw" }}{{ range $pw }}{{ . }}{{ end }}'''
`)
	for _, tt := range []struct {
		config string
		wants  []string
	}{
		{"parse.toml", []string{
			"parse.toml:4:24: range needs a list, and secret gives text",
			"parse.toml:8:48: range needs a list, and json gives text",
		}},
		{"exec.toml", []string{"exec.toml:5:39: at <$pw>: range can't iterate over this value (not shown)"}},
	} {
		for _, args := range [][]string{{"render"}, {"check"}, {"run"}} {
			args = append(args, "--config", tt.config)
			code := 1
			if args[0] == "run" {
				args, code = append(args, "--", "true"), 125
			}
			r := shroud(t, dir, nil, args...)
			for _, want := range tt.wants {
				if r.code != code || !strings.Contains(r.stderr, want) {
					t.Errorf("shroud %s: exit %d, stderr lacks %q:\n%s", strings.Join(args, " "), r.code, want, r.stderr)
				}
			}
			noCanary(t, strings.Join(args, " "), r.stdout, r.stderr)
		}
	}
}
