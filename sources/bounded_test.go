package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestFileKeysRefuseDeepNesting: a file: source nested two million levels
// deep fails with the reference (its file) and the line, instead of
// overflowing the parser's stack (which kills the process: no recover).
func TestFileKeysRefuseDeepNesting(t *testing.T) {
	dir := t.TempDir()
	deep := strings.Repeat("[", 2_000_000) + strings.Repeat("]", 2_000_000)
	writeFile(t, dir, "deep.toml", "password = \""+canary+"\"\nx = "+deep+"\n")
	writeFile(t, dir, "keys.toml", strings.Repeat("k.", 200_000)+"k = 1\n")
	writeFile(t, dir, "deep.json", `{"password": "`+canary+`", "x": `+deep+"}")
	r := NewResolver()
	for name, want := range map[string]string{
		"deep.toml#password": "the file is not TOML shroud reads: line 2 nests deeper than 64 levels",
		"keys.toml#k":        "the file is not TOML shroud reads: line 1 nests deeper than 64 levels",
		"deep.json#password": "the value is not a JSON object shroud reads: line 1 nests deeper than 64 levels",
	} {
		ref := mustParse(t, "file:"+filepath.Join(dir, name))
		start := time.Now()
		_, err := r.Resolve(context.Background(), []Ref{ref})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ref.Raw) {
			t.Errorf("%s: %v, want %q and the reference", name, err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v", name, d)
		}
	}
}

// TestKeysOfLargeValueRefused: a value larger than the parsers are given
// fails before it is parsed (a 16 MiB TOML file took tens of seconds),
// and whole it is still read.
func TestKeysOfLargeValueRefused(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; b.Len() <= maxKeyedSize; i++ {
		fmt.Fprintf(&b, "k%d = %d\n", i, i)
	}
	path := writeFile(t, dir, "big.toml", b.String())
	r := NewResolver()
	start := time.Now()
	_, err := r.Resolve(context.Background(), []Ref{mustParse(t, "file:"+path+"#k1")})
	if err == nil || !strings.Contains(err.Error(), `cannot select key "k1": the value is larger than 4 MiB, the most shroud splits into keys`) {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if res, err := r.Resolve(context.Background(), []Ref{mustParse(t, "file:"+path)}); err != nil || len(res[0].Value.Data) != b.Len() {
		t.Errorf("the whole file: %d bytes, %v", len(res[0].Value.Data), err)
	}
}

// TestFileSourceRefusesFIFO: a FIFO fails at once; opening it to read
// would wait for a writer, holding up the start or the watch loop.
func TestFileSourceRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "db.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan []Result, 1)
	go func() { done <- FileSource{}.Fetch(context.Background(), []Ref{{Backend: File, ID: fifo}}) }()
	select {
	case res := <-done:
		if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), fifo+" is not a regular file (a FIFO)") {
			t.Fatalf("err = %v", res[0].Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO waits for a writer")
	}
}

// FuzzFileKeys: key selection from a file: source in each format never
// fails but with an error that names no value, and gives what the format's
// parser gives.
//
//	go test ./sources -run '^$' -fuzz FuzzFileKeys -fuzztime 60s
func FuzzFileKeys(f *testing.F) {
	for _, s := range []string{
		`{"a": "x", "b": [1, {"c": null}]}`, "a = 'x'\n[b]\nc = [1, {d = 2}]\n", "A=x\nexport B='y'\n",
		"x = " + strings.Repeat("[", 70) + strings.Repeat("]", 70), strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70),
		strings.Repeat("a.", 70) + "b = 1",
	} {
		f.Add("json", s)
		f.Add("toml", s)
		f.Add("env", s)
	}
	f.Fuzz(func(t *testing.T, ext, text string) {
		if ext != "json" && ext != "toml" && ext != "env" {
			return
		}
		obj := Ref{Backend: File, ID: "/s/secret." + ext}
		keys := splitKeys(obj, []byte(text))
		if keys.err != nil {
			if len(text) >= 8 && strings.Contains(keys.err.Error(), text) {
				t.Fatalf("the error shows the text: %v", keys.err)
			}
			return
		}
		switch ext {
		case "json":
			var v map[string]any
			if err := json.Unmarshal([]byte(text), &v); err != nil {
				t.Fatalf("split JSON the decoder refuses: %v", err)
			}
			if len(v) != len(keys.fields) {
				t.Fatalf("%d keys, the decoder's %d", len(keys.fields), len(v))
			}
		case "toml":
			var v map[string]any
			if _, err := toml.Decode(text, &v); err != nil {
				t.Fatalf("split TOML the decoder refuses: %v", err)
			}
			if len(v) != len(keys.fields) {
				t.Fatalf("%d keys, the decoder's %d", len(keys.fields), len(v))
			}
		}
	})
}
