package sources

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONKeyRulesShared checks json-key selection against the rules
// internal/jsonform keeps for sources and templates alike: members in
// their JSON form, and a missing key listed with the object's keys in the
// order of their names (the template json function lists them the same).
func TestJSONKeyRulesShared(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "db.json", `{"a#": 1, "a\"": "`+canary+`", "port": 5432, "tls": true, "opts": { "x" : [ 1 ] }}`)
	r := NewResolver()
	for key, want := range map[string]string{"port": "5432", "tls": "true", "opts": `{"x":[1]}`, `a"`: canary} {
		ref := mustParse(t, "file:"+filepath.Join(dir, "db.json")+"#"+key)
		res, err := r.Resolve(context.Background(), []Ref{ref})
		if err != nil {
			t.Errorf("#%s: %v", key, err)
		} else if string(res[0].Value.Data) != want {
			t.Errorf("#%s = %q, want %q", key, res[0].Value.Data, want)
		}
	}
	_, err := r.Resolve(context.Background(), []Ref{mustParse(t, "file:"+filepath.Join(dir, "db.json")+"#nope")})
	if want := `key "nope" not found; the json object has keys "a\"", "a#", "opts", "port", "tls"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("err shows a value: %v", err)
	}
}
