package sources

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
