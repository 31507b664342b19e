package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
)

// TestConfigFileErrors checks that every problem of [[files]] entries is
// listed at once, each with its line, and says how to fix it.
func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte("line 1\n{{ secret \"sm:a\" | json }}\n{{ if }}\n"), 0o600))
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "refs.tmpl"), []byte("{{ secret \"vault:secret/x\" }}\n  {{ secretPrevious \"/prod/ssm\" }} {{ secretPrevious \"sm:a::AWSCURRENT\" }}\n"), 0o600))
	cfgPath := filepath.Join(dir, "shroud.toml")
	_, err := ParseFile(cfgPath, []byte(`files_root = "/run/secrets"

[[files]]
path = "/run/secrets/none"

[[files]]
path = "/run/secrets/two"
value_from = "sm:a"
template = "x"

[[files]]
path = "/run/secrets/values.txt"
[files.values]
A = "sm:a"

[[files]]
path = "/run/secrets/f.json"
format = "xml"
value_from = "sm:a"

[[files]]
path = "/run/secrets/g"
format = "dotenv"
value_from = "sm:a"

[[files]]
path = "/run/secrets/app.env"
owner = "app:app"
[files.values]
"1BAD" = "sm:a"
GOOD = "vault:secret/b"

[[files]]
path = "/etc/passwd"
value_from = "sm:a"

[[files]]
path = "../x"
value_from = "sm:a"

[[files]]
path = "/run/secrets/inline"
mode = "0400"
template = '''
ok {{ secret "sm:a" }}
  {{ secret .Ref }}'''

[[files]]
path = "/run/secrets/bad-file"
template_file = "bad.tmpl"

[[files]]
path = "/run/secrets/missing-file"
template_file = "missing.tmpl"

[[files]]
path = "/run/secrets/refs"
template_file = "refs.tmpl"

[[files]]
path = "/run/secrets/one-line"
template = '{{ secret "" }}'

[[files]]
path = "/run/secrets/empty.json"
format = "json"
[files.values]
`))
	if err == nil {
		t.Fatal("no error")
	}
	at := func(line int) string { return cfgPath + ":" + strconv.Itoa(line) }
	for _, want := range []string{
		at(3) + ` [[files]] #1: the file has no content; give one of value_from, template, template_file or [files.values]`,
		at(6) + ` [[files]] #2: value_from and template are both set; give only one of them`,
		at(11) + ` [[files]] #3: [files.values] needs format = "json", "dotenv", "yaml" or "properties"`,
		at(16) + ` [[files]] #4: format "xml" is not one of raw, json, dotenv, yaml, properties`,
		at(21) + ` [[files]] #5: format "dotenv" is for [files.values]; value_from is written as is`,
		at(26) + ` [[files]] #6: owner "app:app" is not numeric "UID:GID" like "1000:1000"`,
		at(26) + ` [[files]] #6: values.1BAD: "1BAD" is not a variable name for a dotenv file`,
		at(26) + ` [[files]] #6: values.GOOD: reference "vault:secret/b": unknown scheme`,
		at(33) + ` [[files]] #7: path /etc/passwd is outside files_root /run/secrets; files may only be written inside it`,
		at(37) + ` [[files]] #8: path "../x" holds ".."; write the path without it`,
		// The inline template starts on line 45: its error is at 46:6.
		at(46) + `:6: secret takes one reference, written as a quoted string: {{ secret "sm:prod/db:password" }} (references must be literal so every secret is fetched before rendering) (the template of ` + at(41) + ` [[files]] #9)`,
		filepath.Join(dir, "bad.tmpl") + `:3: missing value for if (the template of ` + at(48) + ` [[files]] #10)`,
		`template_file: open ` + filepath.Join(dir, "missing.tmpl") + `: no such file or directory (the template of ` + at(52),
		filepath.Join(dir, "refs.tmpl") + `:1:4: reference "vault:secret/x": unknown scheme "vault:"`,
		filepath.Join(dir, "refs.tmpl") + `:2:6: secretPrevious "/prod/ssm": only Secrets Manager and KMS secrets keep a previous version (AWSPREVIOUS, ACSPrevious); ssm has none, use secret`,
		filepath.Join(dir, "refs.tmpl") + `:2:39: secretPrevious "sm:a::AWSCURRENT": the reference already names a version`,
		// A one-line inline template: the column counts from the line's start.
		at(62) + `:16: secret has an empty reference`,
		at(64) + ` [[files]] #14: [files.values] is empty`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks\n  %s\nin:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n  - "); n != 18 {
		t.Errorf("%d problems listed, want 18:\n%v", n, err)
	}
}

// TestConfigFilesRootRelative checks that files_root and relative paths
// resolve against the config file.
func TestConfigFilesRootRelative(t *testing.T) {
	cfg, err := ParseFile("/etc/app/shroud.toml", []byte(`files_root = "run"
[[files]]
path = "run/db/password"
value_from = "file:pw"
owner = "1000:2000"
`))
	if err != nil {
		t.Fatal(err)
	}
	spec := cfg
	f := spec.Files[0]
	if f.Root != "/etc/app/run" || f.Path != "/etc/app/run/db/password" || *f.Owner != (Owner{1000, 2000}) || f.Format != Raw {
		t.Fatalf("file = %+v", f)
	}
	if _, err := ParseFile("/etc/app/shroud.toml", []byte("files_root = \"run\"\n[[files]]\npath = \"run\"\nvalue_from = \"sm:a\"\n")); err == nil ||
		!strings.Contains(err.Error(), "outside files_root") {
		t.Fatalf("the root itself as a file: %v", err)
	}
}
