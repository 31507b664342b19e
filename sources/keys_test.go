package sources

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestManyKeysOfOneObject: references selecting keys of one object parse
// it once per resolve, not once per reference. 10,000 references into a
// 10,000-key object took 102 s when each parsed it; once, well under a
// second (the bound leaves room for -race and a loaded machine).
func TestManyKeysOfOneObject(t *testing.T) {
	const n = 10_000
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":"%s-%d"`, i, canary, i)
	}
	b.WriteString("}")
	path := writeFile(t, dir, "big.json", b.String())
	refs := make([]Ref, n)
	for i := range refs {
		refs[i] = mustParse(t, fmt.Sprintf("file:%s#k%d", path, i))
	}
	start := time.Now()
	res, err := NewResolver().Resolve(context.Background(), refs)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if want := fmt.Sprintf("%s-%d", canary, i); string(r.Value.Data) != want {
			t.Fatalf("#k%d = %q, want %q", i, r.Value.Data, want)
		}
	}
	t.Logf("%d references into a %d-key object: %v", n, n, took)
	if took > 3*time.Second {
		t.Errorf("%d references into a %d-key object took %v: each parsed the object again?", n, n, took)
	}
}
