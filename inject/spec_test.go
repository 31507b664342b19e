package inject

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

const canary = "canary-InJ3ct-9fQ"

func TestMaterialize(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "db.json"), []byte(`{"user":"app","password":"`+canary+`"}`), 0o600))
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "bin"), []byte("a\x00b"), 0o600))
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "latin1"), []byte("caf\xe9"), 0o600))
	cfg, err := config.Load(config.Input{Secrets: []string{
		"USER=file:" + dir + "/db.json#user",
		"PASSWORD=file:" + dir + "/db.json#password",
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Files = []config.File{{Path: filepath.Join(dir, "out", "pw"), Mode: 0o400, Ref: cfg.Env[1].Ref}}
	cfg.Plain = map[string]string{"PLAIN": "p", "USER": "overridden"}
	spec := NewPlan(cfg)
	vals, err := spec.Resolve(context.Background(), sources.NewResolver())
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Materialize(vals)
	if err != nil {
		t.Fatal(err)
	}
	env := m.Environ([]string{"HOME=/root", "USER=root", "PATH=/bin", "USER=dup"})
	want := []string{"HOME=/root", "USER=app", "PATH=/bin", "PASSWORD=" + canary, "PLAIN=p"}
	if !slices.Equal(env, want) {
		t.Fatalf("Environ = %q, want %q", env, want)
	}
	if len(m.Files) != 1 || string(m.Files[0].Data) != canary {
		t.Fatalf("files = %+v", m.Files)
	}

	// Binary values cannot go into the environment.
	bad, _ := plan(t, config.Input{Secrets: []string{"BIN=file:" + dir + "/bin", "LATIN=file:" + dir + "/latin1"}})
	vals, err = bad.Resolve(context.Background(), sources.NewResolver())
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Materialize(vals)
	if err == nil || !strings.Contains(err.Error(), "2 problems") || !strings.Contains(err.Error(), "write it to a file with [[files]]") {
		t.Fatalf("err = %v", err)
	}
}

// TestPlainEnv: the env and env-regex log options see shroud's environment
// and the spec's literals, never a variable a binding set: not a bound
// secret (whose name in shroud's environment held a reference), not an
// env_from variable, not a literal a secret overrode.
func TestPlainEnv(t *testing.T) {
	m := &Materialized{
		plain: map[string]string{"REGION": "eu-west-1", "OVERRIDDEN": "literal", "SAME": "x"},
		bound: map[string]bool{"DB_PASSWORD": true, "SAME": true},
		Env: map[string]string{
			"DB_PASSWORD": "canary-db-pw-7Hq2xT", // a bound secret
			"REGION":      "eu-west-1",           // the literal
			"OVERRIDDEN":  "canary-api-key-Xy91Lm",
			"FROM_PATH":   "canary-tls-key-Pz4kW0", // env_from
			"SAME":        "x",                     // a secret equal to a literal is still a secret
		}}
	base := []string{"HOME=/home/app", "DB_PASSWORD=sm:prod/db", "FROM_PATH=before", "REGION=us-east-1", "EMPTY="}
	got := m.PlainEnv(base)
	want := map[string]string{"HOME": "/home/app", "REGION": "eu-west-1", "EMPTY": ""}
	if !maps.Equal(got, want) {
		t.Fatalf("PlainEnv = %v, want %v", got, want)
	}
}
