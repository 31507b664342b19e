package inject

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/internal/settest"
)

// setFiles are the names of the set the tests rotate.
var setFiles = []string{"tls.crt", "tls.key", "ca.pem"}

func setContent(gen int, name string) []byte { return settest.Content(gen, name, canary) }

func parseSetContent(name string, data []byte) (int, error) { return settest.Parse(name, canary, data) }

func materializedSet(dir string, gen int) *Materialized {
	m := &Materialized{}
	for _, name := range setFiles {
		m.Files = append(m.Files, Rendered{Path: filepath.Join(dir, name), Mode: 0o440, Data: setContent(gen, name)})
	}
	return m
}

// TestWriteSetLayout checks the layout of a set: links into ..data, one
// generation (plus the one before), unchanged files kept as the same inode,
// a regular file left by a single-file write taken over, and nothing
// written when nothing changed.
func TestWriteSetLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	// A file written alone first: the set takes it over.
	if _, err := writeFile(filepath.Join(dir, "tls.crt"), []byte("old"), 0o400); err != nil {
		t.Fatal(err)
	}
	changed, err := writeAll(materializedSet(dir, 1))
	if err != nil || len(changed) != 3 {
		t.Fatalf("first write: changed %v, %v", changed, err)
	}
	gen1, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !isGeneration(gen1) {
		t.Fatalf("..data -> %q, %v", gen1, err)
	}
	for _, name := range setFiles {
		if dest, err := os.Readlink(filepath.Join(dir, name)); err != nil || dest != "..data/"+name {
			t.Errorf("%s -> %q, %v", name, dest, err)
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o440 {
			t.Errorf("%s: %v %v", name, info, err)
		}
	}
	if info, _ := os.Stat(filepath.Join(dir, gen1)); info.Mode().Perm() != 0o700 {
		t.Errorf("generation mode %v, want its directory's 0700", info.Mode().Perm())
	}

	// Unchanged: nothing written.
	if changed, err := writeAll(materializedSet(dir, 1)); err != nil || len(changed) != 0 {
		t.Fatalf("rewrite of the same set: changed %v, %v", changed, err)
	}
	if g, _ := os.Readlink(filepath.Join(dir, "..data")); g != gen1 {
		t.Fatalf("an unchanged set made a generation: %s", g)
	}

	// One file changes: a new generation; the others keep their inode.
	m := materializedSet(dir, 1)
	m.Files[1].Data = setContent(2, "tls.key")
	keep := inode(t, filepath.Join(dir, "ca.pem"))
	changed, err = writeAll(m)
	if err != nil || len(changed) != 1 || changed[0] != filepath.Join(dir, "tls.key") {
		t.Fatalf("changed %v, %v", changed, err)
	}
	if inode(t, filepath.Join(dir, "ca.pem")) != keep {
		t.Error("an unchanged file of the set was rewritten")
	}
	generations := func() []string {
		var gens []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if isGeneration(e.Name()) {
				gens = append(gens, e.Name())
			}
			if strings.Contains(e.Name(), ".tmp") || e.Name() == "..data_tmp" {
				t.Errorf("left behind: %s", e.Name())
			}
		}
		return gens
	}
	// Third generation, right after the second: the first was replaced
	// only now, and a reader may still be in it: it stays.
	gen2, _ := os.Readlink(filepath.Join(dir, dataLink))
	if _, err := writeAll(materializedSet(dir, 3)); err != nil {
		t.Fatal(err)
	}
	if gens := generations(); len(gens) != 3 {
		t.Errorf("generations %v, want all three within the grace", gens)
	}
	// Once its successor has been in place for retireGrace, the first is
	// retired at the next switch; the one before the current stays.
	long := time.Now().Add(-2 * retireGrace)
	if err := os.Chtimes(filepath.Join(dir, gen1), long.Add(-time.Second), long.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, gen2), long, long); err != nil {
		t.Fatal(err)
	}
	if _, err := writeAll(materializedSet(dir, 4)); err != nil {
		t.Fatal(err)
	}
	if gens := generations(); len(gens) != 3 || slices.Contains(gens, gen1) || !slices.Contains(gens, gen2) {
		t.Errorf("generations %v (first was %s, second %s): want the first retired, the second kept as its successor is new", gens, gen1, gen2)
	}
	for _, name := range setFiles {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if g, err := parseSetContent(name, data); g != 4 || err != nil {
			t.Errorf("%s: generation %d, %v", name, g, err)
		}
	}
}

// TestSetNamesReserved: a file named like the layout's entries is refused
// when the config loads.
func TestSetNamesReserved(t *testing.T) {
	_, err := config.ParseFile("/cfg/shroud.toml", []byte("[[files]]\npath = \"out/..data\"\nvalue_from = \"file:x\"\n"))
	if err == nil || !strings.Contains(err.Error(), `names starting with ".." are reserved`) {
		t.Fatalf("err = %v", err)
	}
}

// TestSetReaderNeverSeesMixedSet rotates a set of three files 1,000 times
// while another process reads them in a loop, and checks what README.md
// ("Rotation") promises a reader:
//   - every file read by its path is whole: one generation's complete
//     content, never empty, never torn;
//   - the files read through one resolution of DIR/..data are one
//     generation: a consistent set;
//   - generations only move forward.
//
// A generation may be retired while a slow reader is inside it; the
// reader then starts again (counted, not an error).
func TestSetReaderNeverSeesMixedSet(t *testing.T) {
	const rotations = 1000
	dir := filepath.Join(t.TempDir(), "secrets")
	if _, err := writeAll(materializedSet(dir, 0)); err != nil {
		t.Fatal(err)
	}
	stop := filepath.Join(t.TempDir(), "stop")
	reader := exec.Command(os.Args[0], "-test.run=^$")
	reader.Env = append(append(os.Environ(), "SHROUD_SET_READER=1"), settest.Env(dir, setFiles, canary, stop)...)
	var out, errb bytes.Buffer
	reader.Stdout, reader.Stderr = &out, &errb
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	// Once the reader reads, rotate as fast as the writer can.
	if err := settest.AwaitReader(stop, 20*time.Second); err != nil {
		reader.Process.Kill()
		t.Fatalf("%v\n%s", err, errb.String())
	}
	start := time.Now()
	for gen := 1; gen <= rotations; gen++ {
		changed, err := writeAll(materializedSet(dir, gen))
		if err != nil || len(changed) != len(setFiles) {
			t.Fatalf("rotation %d: changed %v, %v", gen, changed, err)
		}
	}
	took := time.Since(start)
	must.Succeed(t, os.WriteFile(stop, nil, 0o600))
	if err := reader.Wait(); err != nil {
		t.Fatalf("reader: %v\n%s", err, errb.String())
	}
	var r settest.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("reader said %q: %v", out.String(), err)
	}
	t.Logf("%d rotations in %v; reader: %d consistent sets (generations %d..%d), %d restarts after a retired generation; %d single-file reads, %d path-by-path sets mixed",
		rotations, took.Round(time.Millisecond), r.Sets, r.FirstGen, r.LastGen, r.Retired, r.FileReads, r.PathMixed)
	if len(r.Bad) > 0 {
		t.Fatalf("the reader saw %d bad reads, e.g. %q", len(r.Bad), r.Bad[0])
	}
	if r.Sets < 100 || r.LastGen-r.FirstGen < 100 || r.FileReads < 100 {
		t.Fatalf("the reader read too little during the rotations to tell: %+v", r)
	}
	if r.LastGen != rotations {
		t.Errorf("the reader's last set is generation %d, want %d", r.LastGen, rotations)
	}
}
