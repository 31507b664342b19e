package bounded

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestReadFileRefuses: what is not a regular file fails at once, naming
// it: a device would never end, a FIFO would block until a writer comes.
func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 1025), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": "/dev/zero is not a regular file (a character device)",
		fifo:        fifo + " is not a regular file (a FIFO)",
		dir:         dir + " is not a regular file (a directory)",
		big:         big + " is larger than 1 KiB",
	} {
		start := time.Now()
		_, _, err := ReadFile(path, 1024)
		if err == nil || err.Error() != want {
			t.Errorf("ReadFile(%s) = %v, want %q", path, err, want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("ReadFile(%s) took %v", path, d)
		}
	}
	if data, info, err := ReadFile(big, 1025); err != nil || len(data) != 1025 || info.Size() != 1025 {
		t.Errorf("a file at its limit: %d bytes, %v", len(data), err)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "missing"), 1); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v, want a not-exist error", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{4 << 20: "4 MiB", 64 << 10: "64 KiB", 64: "64 bytes", 1536: "1536 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func nest(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// TestCheckTOML: each form of nesting a TOML parser builds counts, up to
// MaxDepth levels; brackets in strings and comments do not.
func TestCheckTOML(t *testing.T) {
	deep := MaxDepth + 1
	keys := strings.Repeat("k.", deep) + "k"
	for name, doc := range map[string]string{
		"arrays":        "x = " + nest("[", "]", deep),
		"inline tables": "x = " + strings.Repeat("{a=", deep) + "1" + strings.Repeat("}", deep),
		"dotted key":    keys + " = 1",
		"header":        "[" + keys + "]",
		"array header":  "[[" + keys + "]]",
		"inline keys":   "x = {" + keys + " = 1}",
		"after a table": "[t]\n\n# comment [[[[\ny = '''\n[[[\n'''\nx = " + nest("[", "]", deep-1),
		"two million":   "x = " + nest("[", "]", 2_000_000),
	} {
		err := CheckTOML([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "nests deeper than 64 levels") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckTOML([]byte("[t]\n\n# comment [[[[\ny = '''\n[[[\n'''\nx = " + nest("[", "]", deep-1))); err == nil || !strings.HasPrefix(err.Error(), "line 7 ") {
		t.Errorf("want the line of the deep value: %v", err)
	}
	for name, doc := range map[string]string{
		"strings":  `a = "[[[[{{{{" ` + "\n" + `b = '[[[[' ` + "\n" + `c = """` + nest("[", "]", 100) + `"""` + "\n" + `d = '''` + nest("{", "}", 100) + `'''`,
		"comments": "# " + nest("[", "]", 100) + "\na = 1 # " + nest("{", "}", 100),
		"escapes":  `a = "\"[[[[[" ` + "\n" + `b = """\"""[[[[""" ` + "\n" + `c = """""[[[[""""" `,
		"floats":   "a = [" + strings.Repeat("1.5, ", 1000) + "2.5]",
		"usual":    "[files.values]\nA.b = {c = [1, [2, {d = 3}]]}\n[[log.secret_options]]\nname = 'x'",
	} {
		if err := CheckTOML([]byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCheckJSON: arrays and objects count; brackets in strings do not.
func TestCheckJSON(t *testing.T) {
	if err := CheckJSON([]byte("{\n\"a\":" + nest("[", "]", MaxDepth))); err == nil || err.Error() != "line 2 nests deeper than 64 levels (arrays, tables and dotted keys)" {
		t.Errorf("deep: %v", err)
	}
	if err := CheckJSON([]byte(nest("[", "]", 2_000_000))); err == nil {
		t.Error("two million levels pass")
	}
	if err := CheckJSON([]byte(`{"a":"[[[[\"[[[[","b":` + nest("[", "]", MaxDepth-1) + "}")); err != nil {
		t.Errorf("64 levels, brackets in strings: %v", err)
	}
}

// depthOf is the nesting of a decoded value: a table or an array is one
// level more than its deepest member.
func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, m := range v {
			d = max(d, depthOf(m))
		}
	case []any:
		for _, m := range v {
			d = max(d, depthOf(m))
		}
	case []map[string]any:
		for _, m := range v {
			d = max(d, depthOf(m))
		}
	default:
		return 0
	}
	return d + 1
}

var tomlSeeds = []string{
	"a = 1", "[a.b]\nc = [1, {d = 2}]", "[[a]]\n[a.b]\nc = 1", "[[a]]\n[[a.b]]\n", "x = {}", "x = []",
	"x = [[], [[]], {}]", `"a.b".c = 1`, "a = '''\n[[\n'''\nb = [\n# ]\n1,\n]", "x = {a = {b.c = []}}",
	"[a]\nb.c.d = 1\n[a.e]\n[[a.f]]\ng = [{h = [1]}]",
}

// FuzzTOMLDepth: tomlDepth never counts less than the parser builds.
func FuzzTOMLDepth(f *testing.F) {
	for _, s := range tomlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		deepest, over := tomlDepth(data, math.MaxInt)
		if over != 0 {
			t.Fatalf("over the limit at line %d with no limit", over)
		}
		var doc map[string]any
		if _, err := toml.Decode(string(data), &doc); err != nil {
			return
		}
		if d := depthOf(doc); d > deepest {
			t.Fatalf("the parser built %d levels; tomlDepth counted %d", d, deepest)
		}
		if (CheckTOML(data) == nil) != (deepest <= MaxDepth) {
			t.Fatalf("CheckTOML disagrees with %d levels", deepest)
		}
	})
}

// FuzzJSONDepth: CheckJSON refuses exactly the valid documents that nest
// deeper than MaxDepth.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"]]"}]}`, `"\"["`, nest("[", "]", MaxDepth), nest("[", "]", MaxDepth+1), `{"a":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckJSON(data)
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		if deep := depthOf(v) > MaxDepth; deep != (err != nil) {
			t.Fatalf("depth %d, CheckJSON: %v", depthOf(v), err)
		}
	})
}
