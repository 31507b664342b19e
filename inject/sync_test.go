package inject

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synced is one fsync the writer made, and what the file system showed
// at that moment.
type synced struct {
	path string // cleaned
	dir  bool
	size int64  // of a file: what it holds when synced
	live string // what the path being written read at that moment
}

// recordSyncs makes every fsync of the writer record itself, reading live
// as it happens, then sync for real (or fail with fail's error).
func recordSyncs(t *testing.T, live string, fail func(*os.File) error) *[]synced {
	t.Helper()
	var got []synced
	real := fsync
	fsync = func(f *os.File) error {
		info, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(live)
		got = append(got, synced{filepath.Clean(f.Name()), info.IsDir(), info.Size(), string(data)})
		if fail != nil {
			if err := fail(f); err != nil {
				return err
			}
		}
		return real(f)
	}
	t.Cleanup(func() { fsync = real })
	return &got
}

// TestWriteSyncs: a file alone is synced with its whole content before the
// rename makes it the path's, and its directory after, so the new content
// survives a crash at any moment, and no crash shows an empty file.
func TestWriteSyncs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if _, err := writeFile(path, []byte("old"), 0o400); err != nil {
		t.Fatal(err)
	}
	got := recordSyncs(t, path, nil)
	if _, err := writeFile(path, []byte("new value"), 0o400); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 {
		t.Fatalf("fsyncs %+v, want the temporary file's, then the directory's", *got)
	}
	file, d := (*got)[0], (*got)[1]
	if file.dir || filepath.Dir(file.path) != dir || !strings.HasPrefix(filepath.Base(file.path), ".secret.tmp-") || file.size != int64(len("new value")) || file.live != "old" {
		t.Errorf("first fsync %+v, want the temporary file in %s, whole, before the rename", file, dir)
	}
	if !d.dir || d.path != dir || d.live != "new value" {
		t.Errorf("second fsync %+v, want %s after the rename", d, dir)
	}
}

// TestWriteSetSyncs: the files of a set are synced, then their generation
// directory, all before the switch; the directory after it.
func TestWriteSetSyncs(t *testing.T) {
	dir := t.TempDir()
	files := []Rendered{
		{Path: filepath.Join(dir, "tls.crt"), Mode: 0o400, Data: []byte("crt-1")},
		{Path: filepath.Join(dir, "tls.key"), Mode: 0o400, Data: []byte("key-1")},
	}
	if _, err := Write(files, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	files[0].Data, files[1].Data = []byte("crt-22"), []byte("key-22")
	got := recordSyncs(t, files[1].Path, nil)
	if _, err := Write(files, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	gen, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil {
		t.Fatal(err)
	}
	want := []synced{
		{filepath.Join(dir, gen, "tls.crt"), false, 6, "key-1"},
		{filepath.Join(dir, gen, "tls.key"), false, 6, "key-1"},
		{filepath.Join(dir, gen), true, 0, "key-1"},
		{dir, true, 0, "key-22"},
	}
	if len(*got) != len(want) {
		t.Fatalf("fsyncs %+v, want %+v", *got, want)
	}
	for i, w := range want {
		g := (*got)[i]
		if w.dir {
			g.size = 0
		}
		if g != w {
			t.Errorf("fsync %d: %+v, want %+v", i, g, w)
		}
	}
}

// TestWriteSyncFails: a file whose fsync fails is not put in place: the old
// file stays whole, and the temporary file is removed. (Any user can run
// this; a read-only directory stops only non-root writers.)
func TestWriteSyncFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if _, err := writeFile(path, []byte("old"), 0o400); err != nil {
		t.Fatal(err)
	}
	eio := errors.New("input/output error")
	recordSyncs(t, path, func(f *os.File) error {
		if info, _ := f.Stat(); !info.IsDir() {
			return eio
		}
		return nil
	})
	_, err := writeFile(path, []byte(canary), 0o400)
	if !errors.Is(err, eio) || strings.Contains(err.Error(), canary) {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Fatalf("old file = %q", data)
	}
	assertNoTemp(t, dir)
}
