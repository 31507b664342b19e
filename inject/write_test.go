package inject

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileCreates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "secret")
	changed, err := WriteFile(path, []byte(canary), 0o400)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o400 {
		t.Errorf("mode = %v, want 0400", info.Mode().Perm())
	}
	for _, d := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")} {
		if info, _ := os.Stat(d); info.Mode().Perm()&^0o700 != 0 {
			t.Errorf("%s mode = %v, want at most 0700", d, info.Mode().Perm())
		}
	}
	assertNoTemp(t, filepath.Dir(path))
}

func TestWriteFileUnchangedWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if _, err := WriteFile(path, []byte("v1"), 0o400); err != nil {
		t.Fatal(err)
	}
	before := inode(t, path)
	changed, err := WriteFile(path, []byte("v1"), 0o400)
	if err != nil || changed || inode(t, path) != before {
		t.Fatalf("rewrote an unchanged file: changed=%v err=%v", changed, err)
	}
	// A new value replaces the file (a new inode: readers holding the old
	// one keep reading a whole old file).
	changed, err = WriteFile(path, []byte("v2"), 0o400)
	if err != nil || !changed || inode(t, path) == before {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "v2" {
		t.Fatalf("content = %q", data)
	}
	// A mode change alone is a change.
	if changed, err = WriteFile(path, []byte("v2"), 0o440); err != nil || !changed {
		t.Fatalf("mode change: changed=%v err=%v", changed, err)
	}
}

func TestWriteFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	_, err := WriteFile(link, []byte(canary), 0o400)
	if err == nil || !strings.Contains(err.Error(), "refusing to replace a symbolic link") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Fatal("the link's target was changed")
	}
	assertNoTemp(t, dir)
}

func TestWriteFileErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "isdir"), 0o700)
	if _, err := WriteFile(filepath.Join(dir, "isdir"), []byte(canary), 0o400); err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("err = %v", err)
	}
	assertNoTemp(t, dir)

	// A directory shroud cannot write to: the old file stays whole.
	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the read-only directory case")
		return
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o700)
	os.WriteFile(filepath.Join(ro, "f"), []byte("old"), 0o600)
	os.Chmod(ro, 0o500)
	defer os.Chmod(ro, 0o700)
	if _, err := WriteFile(filepath.Join(ro, "f"), []byte("new"), 0o400); err == nil {
		t.Fatal("wrote into a read-only directory")
	}
	if data, _ := os.ReadFile(filepath.Join(ro, "f")); string(data) != "old" {
		t.Fatalf("old file = %q", data)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}
