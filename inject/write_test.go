package inject

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/must"
)

func TestWriteFileCreates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "secret")
	changed, err := writeFile(path, []byte(canary), 0o400)
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
	if _, err := writeFile(path, []byte("v1"), 0o400); err != nil {
		t.Fatal(err)
	}
	before := inode(t, path)
	changed, err := writeFile(path, []byte("v1"), 0o400)
	if err != nil || changed || inode(t, path) != before {
		t.Fatalf("rewrote an unchanged file: changed=%v err=%v", changed, err)
	}
	// A new value replaces the file (a new inode: readers holding the old
	// one keep reading a whole old file).
	changed, err = writeFile(path, []byte("v2"), 0o400)
	if err != nil || !changed || inode(t, path) == before {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "v2" {
		t.Fatalf("content = %q", data)
	}
	// A mode change alone is a change.
	if changed, err = writeFile(path, []byte("v2"), 0o440); err != nil || !changed {
		t.Fatalf("mode change: changed=%v err=%v", changed, err)
	}
}

func TestWriteFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	must.Succeed(t, os.WriteFile(target, []byte("keep"), 0o600))
	link := filepath.Join(dir, "link")
	must.Succeed(t, os.Symlink(target, link))
	_, err := writeFile(link, []byte(canary), 0o400)
	if err == nil || !strings.Contains(err.Error(), "refusing to replace a symbolic link") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Fatal("the link's target was changed")
	}
	assertNoTemp(t, dir)
}

func TestWriteFileErrorLeavesNothing(t *testing.T) {
	t.Run("a directory at the path", func(t *testing.T) {
		dir := t.TempDir()
		must.Succeed(t, os.Mkdir(filepath.Join(dir, "isdir"), 0o700))
		if _, err := writeFile(filepath.Join(dir, "isdir"), []byte(canary), 0o400); err == nil || strings.Contains(err.Error(), canary) {
			t.Fatalf("err = %v", err)
		}
		assertNoTemp(t, dir)
	})
	// A directory shroud cannot write to: the old file stays whole.
	// (TestWriteSyncFails fails a write part way as any user.)
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes into a read-only directory (CAP_DAC_OVERRIDE); run as another user")
		}
		ro := filepath.Join(t.TempDir(), "ro")
		must.Succeed(t, os.Mkdir(ro, 0o700))
		must.Succeed(t, os.WriteFile(filepath.Join(ro, "f"), []byte("old"), 0o600))
		must.Succeed(t, os.Chmod(ro, 0o500))
		defer os.Chmod(ro, 0o700)
		if _, err := writeFile(filepath.Join(ro, "f"), []byte("new"), 0o400); err == nil {
			t.Fatal("wrote into a read-only directory")
		}
		if data, _ := os.ReadFile(filepath.Join(ro, "f")); string(data) != "old" {
			t.Fatalf("old file = %q", data)
		}
	})
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

// TestWriteInsideRoot checks files_root: directories are made inside it,
// a path outside is refused, and a symbolic link between the root and the
// file is refused even when it points back inside.
func TestWriteInsideRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	must.Succeed(t, os.MkdirAll(outside, 0o700))

	r := Rendered{Path: filepath.Join(root, "a", "b", "secret"), Root: root, Mode: 0o400, Data: []byte(canary)}
	if changed, err := writeOne(r); err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if info, _ := os.Stat(filepath.Join(root, "a")); info.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", info.Mode().Perm())
	}

	for name, target := range map[string]string{"escape": outside, "loop": filepath.Join(root, "a")} {
		must.Succeed(t, os.Symlink(target, filepath.Join(root, name)))
		r := Rendered{Path: filepath.Join(root, name, "b", "secret"), Root: root, Mode: 0o400, Data: []byte(canary)}
		_, err := writeOne(r)
		want := filepath.Join(root, name) + " is a symbolic link inside files_root " + root + "; refusing to follow it"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", name, err)
		}
		if _, err := r.wouldChange(); err == nil {
			t.Errorf("%s: dry run accepted the link", name)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the root: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b", "b")); err == nil {
		t.Error("followed the link inside the root")
	}

	_, err := writeOne(Rendered{Path: filepath.Join(outside, "x"), Root: root, Mode: 0o400})
	if err == nil || !strings.Contains(err.Error(), "outside files_root") {
		t.Errorf("outside: err = %v", err)
	}
	assertNoTemp(t, filepath.Join(root, "a", "b"))
}

// TestWouldChange checks the dry run: the answer Write would give, and
// nothing created.
func TestWouldChange(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	r := Rendered{Path: filepath.Join(root, "new", "dir", "f"), Root: root, Mode: 0o400, Data: []byte("v1")}
	if would, err := r.wouldChange(); err != nil || !would {
		t.Fatalf("new file: %v %v", would, err)
	}
	if _, err := os.Stat(root); err == nil {
		t.Fatal("the dry run created a directory")
	}
	writeOne(r)
	if would, err := r.wouldChange(); err != nil || would {
		t.Fatalf("same file: %v %v", would, err)
	}
	r.Data = []byte("v2")
	if would, _ := r.wouldChange(); !would {
		t.Fatal("new content not seen")
	}
	if data, _ := os.ReadFile(r.Path); string(data) != "v1" {
		t.Fatal("the dry run wrote")
	}
}

// TestWriteFilesAllOrNothing checks that one file that cannot be written
// stops the others before anything is written.
func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "link")))
	m := &Materialized{Files: []Rendered{
		{Path: filepath.Join(dir, "good"), Mode: 0o400, Data: []byte("x")},
		{Path: filepath.Join(dir, "link"), Mode: 0o400, Data: []byte("y")},
	}}
	if _, err := writeAll(m); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "good")); err == nil {
		t.Fatal("a file was written although another could not be")
	}
}

// TestWriteOwner gives a file to another user, as root does in a container
// whose app runs unprivileged. Run as someone else, shroud refuses before
// writing (see the end-to-end test that runs shroud as nobody).
func TestWriteOwner(t *testing.T) {
	t.Run("root gives the file away", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("only root can give a file to another user; run as root")
		}
		path := filepath.Join(t.TempDir(), "f")
		r := Rendered{Path: path, Mode: 0o440, Owner: &config.Owner{UID: 1234, GID: 5678}, Data: []byte("x")}
		if changed, err := writeOne(r); err != nil || !changed {
			t.Fatalf("changed=%v err=%v", changed, err)
		}
		st := stat(t, path)
		if st.Uid != 1234 || st.Gid != 5678 {
			t.Fatalf("owner %d:%d", st.Uid, st.Gid)
		}
		if changed, _ := writeOne(r); changed {
			t.Fatal("rewrote an unchanged file")
		}
		r.Owner = &config.Owner{UID: 1234, GID: 1234} // an owner change alone is a change
		if changed, _ := writeOne(r); !changed || stat(t, path).Gid != 1234 {
			t.Fatal("owner change not written")
		}
	})
	t.Run("another user is refused", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root may give files away; run as another user (TestRenderOwner in cmd/shroud runs shroud as nobody to see the refusal)")
		}
		r := Rendered{Path: filepath.Join(t.TempDir(), "f"), Mode: 0o400, Owner: &config.Owner{UID: os.Geteuid() + 1, GID: os.Getegid()}}
		if _, err := writeOne(r); err == nil || !strings.Contains(err.Error(), "only root can give a file to another user") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(r.Path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the file was written (%v)", err)
		}
	})
}

// TestWriteOwnerCanRead: the owner can read the file through directories
// shroud creates for it (they are the owner's), and directories that
// existed keep their owner. The read is a real process running as nobody.
func TestWriteOwnerCanRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	const nobody = 65534
	base, err := os.MkdirTemp("", "shroud-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, root string }{
		{"no files_root", ""},           // os.MkdirAll's part
		{"files_root", base + "/root2"}, // the walk inside the os.Root
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := filepath.Join(base, strings.ReplaceAll(tc.name, " ", "_"))
			if tc.root != "" {
				top = tc.root
			}
			path := filepath.Join(top, "app", "secrets", "db")
			r := Rendered{Path: path, Root: tc.root, Mode: 0o400, Owner: &config.Owner{UID: nobody, GID: nobody}, Data: []byte("canary-owner")}
			if _, err := writeOne(r); err != nil {
				t.Fatal(err)
			}
			cat := exec.Command("cat", path)
			cat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			if out, err := cat.CombinedOutput(); err != nil || string(out) != "canary-owner" {
				t.Fatalf("reading as the owner: %v: %q", err, out)
			}
			for dir := filepath.Dir(path); dir != top; dir = filepath.Dir(dir) {
				if st := stat(t, dir); st.Uid != nobody || st.Mode&0o777 != 0o700 {
					t.Errorf("%s: owner %d mode %o, want nobody 0700", dir, st.Uid, st.Mode&0o777)
				}
			}
			if st := stat(t, base); st.Uid != 0 {
				t.Errorf("the existing %s was given away", base)
			}
		})
	}
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t)
}

// TestWriteFailureRemovesTemp makes a real write fail part way (a file size
// limit, in a child process) and checks that the temporary file is gone and
// the old file whole.
func TestWriteFailureRemovesTemp(t *testing.T) {
	if path := os.Getenv("SHROUD_TEST_WRITE_CHILD"); path != "" {
		// The child: writes past an 8-byte limit fail with EFBIG (Go
		// ignores SIGXFSZ).
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 8, Max: 8}); err != nil {
			t.Fatal(err)
		}
		_, err := writeFile(path, []byte("a new value longer than eight bytes: "+canary), 0o400)
		if err == nil {
			t.Fatal("the write succeeded")
		}
		os.Stderr.WriteString("CHILD-ERROR: " + err.Error() + "\n")
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	must.Succeed(t, os.WriteFile(path, []byte("old"), 0o400))
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFailureRemovesTemp$", "-test.v")
	cmd.Env = append(os.Environ(), "SHROUD_TEST_WRITE_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CHILD-ERROR: writing "+path+": write ") || !strings.Contains(string(out), "file too large") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if strings.Contains(string(out), canary) {
		t.Fatalf("the error shows the value:\n%s", out)
	}
	assertNoTemp(t, dir)
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Fatalf("old file = %q", data)
	}
}

// TestWriteRemovesStaleTemp: a write killed between create and rename
// leaves .NAME.tmp-* holding the secret; the next write of NAME removes
// it, even when the file itself is unchanged. A temporary file younger
// than staleAge may be another process's write under way and stays, and
// so do the temporary files of other names.
func TestWriteRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if _, err := writeFile(path, []byte("v1"), 0o400); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleAge)
	plant := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(canary), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := plant(".secret.tmp-crashed", old)
	fresh := plant(".secret.tmp-underway", time.Now())
	other := plant(".other.tmp-crashed", old)
	if changed, err := writeFile(path, []byte("v1"), 0o400); err != nil || changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale temporary file is still there (%v)", err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
