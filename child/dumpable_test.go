//go:build linux

package child

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/must"
)

// dumpableChild appends its own PR_GET_DUMPABLE to REPORT and waits to be
// stopped.
func dumpableChild() {
	dumpable, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	f, ferr := os.OpenFile(os.Getenv("REPORT"), os.O_APPEND|os.O_WRONLY, 0)
	if ferr != nil {
		panic(ferr)
	}
	fmt.Fprintf(f, "child-dumpable %d %v\n", dumpable, err)
	f.Close()
	time.Sleep(time.Minute)
	os.Exit(0)
}

// TestNoCoreDumps runs a supervisor that calls NoCoreDumps, as a user other
// than root when the test runs as root (so that root-owned /proc files
// matter): it is undumpable and still reads its own /proc files; its child
// is dumpable.
func TestNoCoreDumps(t *testing.T) {
	dir, err := os.MkdirTemp("", "shroud-nocore")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must.Succeed(t, os.Chmod(dir, 0o755))
	binary := filepath.Join(dir, "supervisor")
	copyFile(t, os.Args[0], binary)
	var sys *syscall.SysProcAttr
	if os.Getuid() == 0 {
		sys = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	h := startHelper(t, binary, []string{binary}, sys, "NO_CORE_DUMPS=1", "CHILD_ENV=SHROUD_TEST_CHILD=dumpable")
	if got := h.line(t, "dumpable"); got != "0" {
		t.Errorf("the supervisor's dumpable is %s, want 0", got)
	}
	if got := h.line(t, "child-dumpable"); got != "1 <nil>" {
		t.Errorf("the child's dumpable is %s, want 1", got)
	}
	for _, path := range []string{"/proc/self/exe", "/proc/self/smaps", "/proc/self/stat", "/proc/self/fd"} {
		if got := h.line(t, "proc "+path); got != "ok" {
			t.Errorf("after NoCoreDumps, the supervisor (uid %d) cannot read %s: %s", 65534, path, got)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
