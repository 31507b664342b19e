//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// TestRunLogEnvOptions runs a real child under `shroud run`: the json-file
// records carry the variables that env and env-regex pick from its plain
// environment, and none that is bound to a secret, by the config or by
// --env-refs, even when the options name it.
func TestRunLogEnvOptions(t *testing.T) {
	dir := t.TempDir()
	const secret, token = "canary-db-pw-7Hq2xT", "canary-api-key-Xy91Lm"
	write(t, dir, "s/pw", secret)
	write(t, dir, "s/token", token)
	logPath := filepath.Join(dir, "app-json.log")
	write(t, dir, "shroud.toml", fmt.Sprintf(`
[[secrets]]
name = "DB_PASSWORD"
value_from = "file:s/pw"

[log]
driver = "json-file"
options = { path = %q, env = "STAGE,DB_PASSWORD,UNSET", env-regex = "^APP_" }
`, logPath))
	r := shroud(t, dir, []string{"STAGE=prod", "APP_COLOR=blue", "APP_TOKEN=file:s/token", "OTHER=x"},
		"run", "--env-refs", "--config", "shroud.toml", "--", "sh", "-c", `test "$APP_TOKEN" = `+token+` && echo hello`)
	if r.code != 0 {
		t.Fatalf("exit %d; stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	noCanary(t, "json-file log", string(data))
	noCanary(t, "shroud output", r.stdout, r.stderr)
	var records int
	for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); records++ {
		var rec struct {
			Log   string
			Attrs map[string]string
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("json-file line %q: %v", sc.Text(), err)
		}
		want := map[string]string{"STAGE": "prod", "APP_COLOR": "blue"} // no tag option: no tag, as Docker's json-file
		if rec.Log != "hello\n" || !maps.Equal(rec.Attrs, want) {
			t.Errorf("record %q with attrs %v, want hello with %v", rec.Log, rec.Attrs, want)
		}
	}
	if records != 1 {
		t.Fatalf("%d records, want 1:\n%s", records, data)
	}
}
