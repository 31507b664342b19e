// Package build holds the tests of what a release ships: the Makefile's
// release and image targets, the images' Dockerfiles and the example
// images. Each test works on a clean copy of the sources, as a fresh clone
// would be, never on the developer's tree.
package build

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the module root.
var repoRoot = ".."

// work holds the copies of the sources; TestMain removes it, and the
// images the tests built.
var (
	work   string
	images []string
)

func TestMain(m *testing.M) {
	var err error
	if work, err = os.MkdirTemp("", "shroud-build-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if len(images) > 0 {
		exec.Command("docker", append([]string{"rmi", "--force"}, images...)...).Run()
	}
	os.RemoveAll(work)
	os.Exit(code)
}

// copySources copies the files git tracks, and the new ones it does not
// ignore, into dst: the sources a clone would have, with the changes not
// yet committed, and no bin/ or dist/.
func copySources(t *testing.T, dst string) {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = repoRoot
	out, err := ls.Output()
	if err != nil {
		t.Skipf("listing the sources needs git and a checkout: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(repoRoot, name)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := copyFile(src, filepath.Join(dst, name), fi); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string, fi os.FileInfo) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// run runs a command in dir with extra environment entries and returns its
// stdout; it fails the test with the command's output if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// releaseVersion is the version the tests give make.
const releaseVersion = "v0.0.0-buildtest"

// released is a copy of the sources in which `make release` built the
// linux/amd64 binary at releaseVersion, made once for the tests that need
// one.
var released struct {
	once sync.Once
	dir  string
	out  string
	ok   bool
}

func releaseTree(t *testing.T) string {
	t.Helper()
	released.once.Do(func() {
		dir := filepath.Join(work, "a")
		copySources(t, dir)
		released.out = run(t, dir, nil, "make", "--no-print-directory", "release", "PLATFORMS=linux/amd64", "VERSION="+releaseVersion)
		released.dir, released.ok = dir, true
	})
	if !released.ok {
		t.Fatal("make release failed in an earlier test")
	}
	return released.dir
}
