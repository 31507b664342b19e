//go:build linux

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

// TestEnvRefsErrorsNeverShowValues: with --env-refs, every variable that
// starts like a reference is taken for one, so its value may be any data.
// Errors and check's table name the variable and at most the scheme.
func TestEnvRefsErrorsNeverShowValues(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "s/db.json", `{"password":"canary-e2e-Vb5nR8"}`)
	write(t, dir, "s/blob", "canary-e2e-Vb5nR8\x00\xff")
	const c = "canary-e2e-Vb5nR8"

	// Values that are not references at all: found before anything runs.
	bad := []string{"BAD_SM=sm:" + c + ":a:b:c:d", "BAD_ARN=arn:aws:secretsmanager:us-east-1:" + c, "BAD_FILE=file:" + c + "\tx"}
	for _, args := range [][]string{{"run", "--env-refs", "--", "true"}, {"check", "--env-refs"}} {
		r := shroud(t, dir, bad, args...)
		for _, want := range []string{
			"3 problems:",
			`environment variable BAD_SM (--env-refs): the value starts with "sm:" but is not a valid reference; it is not shown, as it may be any data: see why with shroud check --secret BAD_SM="$BAD_SM"`,
			`environment variable BAD_ARN (--env-refs): the value starts with "arn:" but is not a valid reference`,
			`environment variable BAD_FILE (--env-refs): the value starts with "file:" but is not a valid reference`,
		} {
			if r.code != map[string]int{"run": 125, "check": 1}[args[0]] || !strings.Contains(r.stderr, want) {
				t.Errorf("shroud %v: exit %d, stderr lacks %q:\n%s", args, r.code, want, r.stderr)
			}
		}
		noCanary(t, strings.Join(args, " "), r.stdout, r.stderr)
	}

	// References that fail to resolve: the backend's message would quote
	// the path, key or name.
	failing := newAWSWorld(t).env(
		"NOTE=file:"+c+" is not a path", "KEYED=file:s/db.json#"+c, "BLOB=file:s/blob",
		"NAMED=sm:"+c, "PARAM=arn:aws:ssm:eu-west-1:123456789012:parameter/"+c,
	)
	for _, args := range [][]string{{"run", "--env-refs", "--", "true"}, {"check", "--env-refs"}} {
		r := shroud(t, dir, failing, args...)
		for _, want := range []string{
			"5 problems:",
			`reference "$NOTE" (file): environment variable NOTE (--env-refs) could not be resolved; the cause is not shown, as it may quote the variable's value: see it with shroud check --secret NOTE="$NOTE"`,
			`reference "$KEYED" (file): environment variable KEYED (--env-refs) could not be resolved`,
			`reference "$NAMED" (secretsmanager, us-east-1): environment variable NAMED (--env-refs) could not be resolved`,
			// The region of an ARN is part of the value.
			`reference "$PARAM" (ssm): environment variable PARAM (--env-refs) could not be resolved`,
			`the value of "$BLOB" for BLOB is binary`,
		} {
			if r.code != map[string]int{"run": 125, "check": 1}[args[0]] || !strings.Contains(r.stderr, want) {
				t.Errorf("shroud %v: exit %d, stderr lacks %q:\n%s", args, r.code, want, r.stderr)
			}
		}
		if args[0] == "check" && !strings.Contains(r.stdout, "env NOTE") || !strings.Contains(r.stdout+r.stderr, "$NOTE") {
			t.Errorf("shroud %v: the table names no variable:\n%s", args, r.stdout)
		}
		noCanary(t, strings.Join(args, " "), r.stdout, r.stderr)
	}

	// The hint works: an explicit binding shows the cause, as the user
	// wrote the reference on the command line.
	r := shroud(t, dir, nil, "check", "--secret", "KEYED=file:s/db.json#nope")
	if r.code != 1 || !strings.Contains(r.stderr, `key "nope" not found`) {
		t.Errorf("check --secret: exit %d stderr %s", r.code, r.stderr)
	}
}
