package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

func TestSpecPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "shroud.toml")
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("from-config"), 0o600))
	cfg, err := ParseFile(cfgPath, []byte(`
[[secrets]]
name = "A"
value_from = "file:a.txt"
[[secrets]]
name = "B"
value_from = "file:a.txt"
`))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfg.With(Input{
		Secrets: []string{"B=env:OVERRIDE", "C=sm:c"},
		EnvRefs: true,
		Environ: []string{"A=sm:from-env-refs", "D=file:d.json#k", "PLAIN=hello", "E=env:NOT_REPLACED"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range spec.Env {
		got[e.Name] = e.Ref.Raw + " @ " + e.Origin
	}
	want := map[string]string{
		"A": "file:a.txt @ " + cfgPath + ":2 [[secrets]] #1", // config beats --env-refs
		"B": "env:OVERRIDE @ --secret B",                     // --secret beats the config
		"C": "sm:c @ --secret C",
		"D": "$D @ environment variable D", // the value of a variable may be any data: never quoted
	}
	if len(got) != len(want) {
		t.Fatalf("env = %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// A config's file: reference is anchored at the config; others at the
	// working directory.
	if id := spec.Env[0].Ref.ID; id != filepath.Join(dir, "a.txt") {
		t.Errorf("config file: ref = %q", id)
	}
	wd, _ := os.Getwd()
	for _, e := range spec.Env {
		if e.Name == "D" && e.Ref.ID != filepath.Join(wd, "d.json") {
			t.Errorf("env-refs file: ref = %q", e.Ref.ID)
		}
	}
}

func TestSpecFlagErrors(t *testing.T) {
	_, err := Load(Input{
		Secrets: []string{"NOEQUALS", "1X=sm:a", "A=sm:a", "A=sm:b", "B=vault:secret/x", "C="},
		EnvRefs: true,
		Environ: []string{"E=sm:", "F=arn:aws:ssm:nowhere:123456789012:parameter/x"},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`--secret "NOEQUALS": want NAME=REFERENCE`,
		`--secret 1X=...: "1X" is not a valid environment variable name`,
		`--secret A=... is given twice`,
		`--secret B: reference "vault:secret/x": unknown scheme`,
		`--secret C: empty reference`,
		`environment variable E (--env-refs): the value starts with "sm:" but is not a valid reference; it is not shown`,
		`environment variable F (--env-refs): the value starts with "arn:" but is not a valid reference; it is not shown`,
		"7 problems:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestECSContainer(t *testing.T) {
	dir := t.TempDir()
	td := filepath.Join(dir, "task.json")
	must.Succeed(t, os.WriteFile(td, []byte(`{"taskDefinition": {"family": "app", "containerDefinitions": [
	  {"name": "web", "image": "nginx",
	   "environment": [{"name": "STAGE", "value": "prod"}],
	   "secrets": [
	     {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::"},
	     {"name": "API_KEY", "valueFrom": "/prod/api/key"}]},
	  {"name": "sidecar", "secrets": [{"name": "X", "valueFrom": "nope:x:y"}]}]}}`), 0o600))
	spec, err := Load(Input{TaskDefinition: td, Container: "web", Secrets: []string{"API_KEY=env:LOCAL"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Env) != 2 || spec.Env[0].Ref.Backend != sources.SecretsManager || spec.Env[1].Ref.Raw != "env:LOCAL" {
		t.Fatalf("env = %+v", spec.Env)
	}
	if spec.Plain["STAGE"] != "prod" {
		t.Fatalf("plain = %v", spec.Plain)
	}
	for container, want := range map[string]string{
		"":        `has 2 containers (web, sidecar); choose one with --container`,
		"db":      `no container "db" in the task definition (it has: web, sidecar)`,
		"sidecar": `container "sidecar" secrets[0] (X): reference "nope:x:y"`,
	} {
		if _, err := Load(Input{TaskDefinition: td, Container: container}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--container %q: err = %v, want %q", container, err, want)
		}
	}
}
