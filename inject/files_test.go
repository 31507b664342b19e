package inject

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

// TestMaterializeListsEverything checks that one Materialize reports failed
// references once each and template problems, with no value in any error.
func TestMaterializeListsEverything(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "db.json"), []byte(`{"user":"app","password":"`+canary+`"}`), 0o600))
	cfgPath := filepath.Join(dir, "shroud.toml")
	must.Succeed(t, os.WriteFile(cfgPath, []byte(`
[[secrets]]
name = "MISSING"
value_from = "file:nope.json#k"

[[files]]
path = "out/a.conf"
template = '''pw={{ secret "file:db.json" | json "pasword" }}'''

[[files]]
path = "out/b.conf"
template = '''{{ secret "file:nope.json#k" }}{{ secret "sm:prod/x" }}'''

[[files]]
path = "out/c.env"
[files.values]
PW = "file:db.json#password"
`), 0o600))
	cfg, err := config.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	spec := NewPlan(cfg)
	vals, _ := spec.Resolve(context.Background(), sources.NewResolver())
	m, err := spec.Materialize(vals)
	if m != nil || err == nil {
		t.Fatalf("m = %v, err = %v", m, err)
	}
	for _, want := range []string{
		"3 problems:",
		`reference "file:nope.json#k" (file): file ` + filepath.Join(dir, "nope.json") + ` does not exist`,
		`reference "sm:prod/x" (secretsmanager): backend not available`,
		cfgPath + `:8:45: at <json "pasword">: json "pasword": no such key; the object has keys "password", "user" (rendering ` + filepath.Join(dir, "out/a.conf") + ` for ` + cfgPath + `:6 [[files]] #1)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("error shows a value: %v", err)
	}
}
