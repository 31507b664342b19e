package inject

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// gensIn lists the generation directories in dir.
func gensIn(t *testing.T, dir string) []string {
	t.Helper()
	var gens []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if isGeneration(e.Name()) {
			gens = append(gens, e.Name())
		}
	}
	return gens
}

// TestGenerationNeverWritableByOthers: a generation directory has the
// permissions of the directory it is in, so a group that may read the
// files may search it, but never write for group or others. In a sticky
// directory (/tmp, 1777) it was 0777 without the sticky bit: anyone could
// delete or replace the files inside.
func TestGenerationNeverWritableByOthers(t *testing.T) {
	for parent, want := range map[fs.FileMode]fs.FileMode{
		0o777 | fs.ModeSticky: 0o755, 0o777: 0o755, 0o770: 0o750, 0o750: 0o750, 0o711: 0o711, 0o700: 0o700,
	} {
		dir := filepath.Join(t.TempDir(), "secrets")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, parent); err != nil {
			t.Fatal(err)
		}
		if _, err := writeAll(materializedSet(dir, 1)); err != nil {
			t.Fatal(err)
		}
		gen, _ := os.Readlink(filepath.Join(dir, dataLink))
		info, err := os.Stat(filepath.Join(dir, gen))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetgid); got != want {
			t.Errorf("in a %v directory: generation %v, want %v", parent, got, want)
		}
	}
}

// TestWriteReportsExposedDirs: a directory every user may write to
// without the sticky bit is reported, for the caller to warn; a sticky one
// (/tmp) or one closed to others is not.
func TestWriteReportsExposedDirs(t *testing.T) {
	base := t.TempDir()
	for mode, exposed := range map[fs.FileMode]bool{0o777: true, 0o777 | fs.ModeSticky: false, 0o775: false} {
		dir := filepath.Join(base, mode.String())
		os.Mkdir(dir, 0o700)
		os.Chmod(dir, mode)
		m := materializedSet(dir, 1)
		m.Files = append(m.Files, Rendered{Path: filepath.Join(base, "alone", mode.String()), Mode: 0o400, Data: []byte("x")})
		for _, dry := range []bool{true, false} {
			res, err := Write(m.Files, WriteOptions{DryRun: dry})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Equal(res.Exposed, []string{dir}); got != exposed {
				t.Errorf("%v (dry run %v): exposed %v", mode, dry, res.Exposed)
			}
		}
	}
}

// TestRetireWithoutAnotherSwitch: after a burst of switches, every
// generation but the current goes once its successor has been in place for
// retireGrace, with no further switch: Write says when (RetireAt), and
// Retire then removes them. Before, the one before the current stayed
// until the next switch, however long that took, holding old values.
func TestRetireWithoutAnotherSwitch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	var res Result
	start := time.Now()
	for gen := 1; gen <= 20; gen++ {
		var err error
		if res, err = Write(materializedSet(dir, gen).Files, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if gens := gensIn(t, dir); len(gens) != 20 {
		t.Fatalf("%d generations right after the burst, want all 20 within their grace", len(gens))
	}
	if res.RetireAt.Before(start.Add(retireGrace)) || res.RetireAt.After(time.Now().Add(retireGrace)) {
		t.Fatalf("RetireAt %v: want the last switch + %v", res.RetireAt, retireGrace)
	}
	if next := Retire(materializedSet(dir, 20).Files); !next.Equal(res.RetireAt) || len(gensIn(t, dir)) != 20 {
		t.Fatalf("Retire within the grace removed some, or gave %v", next)
	}

	// The grace passes: every generation is made older by twice the grace.
	current, _ := os.Readlink(filepath.Join(dir, dataLink))
	for _, g := range gensIn(t, dir) {
		info, err := os.Stat(filepath.Join(dir, g))
		if err != nil {
			t.Fatal(err)
		}
		made := info.ModTime().Add(-2 * retireGrace)
		if err := os.Chtimes(filepath.Join(dir, g), made, made); err != nil {
			t.Fatal(err)
		}
	}
	if next := Retire(materializedSet(dir, 20).Files); !next.IsZero() {
		t.Errorf("Retire after the grace: next %v, want none", next)
	}
	if gens := gensIn(t, dir); !slices.Equal(gens, []string{current}) {
		t.Errorf("generations %v, want only the current %s", gens, current)
	}
	for _, name := range setFiles {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if g, err := parseSetContent(name, data); g != 20 || err != nil {
			t.Errorf("%s: generation %d, %v", name, g, err)
		}
	}
}

// TestRetireAll: when shroud stops, every replaced generation goes at
// once, within its grace or not; the current one and the files stay.
func TestRetireAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	for gen := 1; gen <= 3; gen++ {
		if _, err := writeAll(materializedSet(dir, gen)); err != nil {
			t.Fatal(err)
		}
	}
	current, _ := os.Readlink(filepath.Join(dir, dataLink))
	RetireAll(materializedSet(dir, 3).Files)
	if gens := gensIn(t, dir); !slices.Equal(gens, []string{current}) {
		t.Errorf("generations %v, want only the current %s", gens, current)
	}
	for _, name := range setFiles {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if g, err := parseSetContent(name, data); g != 3 || err != nil {
			t.Errorf("%s: generation %d, %v", name, g, err)
		}
	}
}
