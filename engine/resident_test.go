//go:build linux

package engine

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// written is initialised data of the executable (.noptrdata) that the test
// writes to, as the runtime writes to its own.
var written = [3 * 4096]byte{1}

// TestDropExecutablePages drops the test binary's own start-up pages and
// checks that what was written stays: a written page of a writable mapping,
// and one of a mapping made read-only after it was written (a relocated
// RELRO segment is such a mapping).
func TestDropExecutablePages(t *testing.T) {
	page := os.Getpagesize()
	off := (page - int(uintptr(unsafe.Pointer(&written[0])))%page) % page
	relro := written[off : off+page] // a whole page inside written
	written[0], written[len(written)-1] = 'w', 'w'
	copy(relro, "relocated")
	if err := unix.Mprotect(relro, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	defer unix.Mprotect(relro, unix.PROT_READ|unix.PROT_WRITE)

	before := executableRSS(t)
	if before["r-xp"] == 0 {
		t.Fatalf("no resident code in %v", before)
	}
	kib, err := dropExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := executableRSS(t)
	t.Logf("dropped %d KiB; resident KiB by permissions before %v, after %v", kib, before, after)
	if kib == 0 || after["r-xp"] >= before["r-xp"] {
		t.Errorf("dropped %d KiB: resident code %d KiB before, %d after", kib, before["r-xp"], after["r-xp"])
	}
	if string(relro[:9]) != "relocated" || written[0] != 'w' || written[len(written)-1] != 'w' {
		t.Errorf("written pages lost: %q, %q, %q", relro[:9], written[0], written[len(written)-1])
	}
	// The code comes back as it runs.
	runtime.GC()
	if strconv.Itoa(42) != "42" {
		t.Fatal("strconv")
	}
}

// executableRSS sums Rss (KiB) of the mappings of the test binary by
// permissions.
func executableRSS(t *testing.T) map[string]int {
	t.Helper()
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	rss := map[string]int{}
	perms := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			perms = ""
			if f[4] == strconv.FormatUint(exe.Ino, 10) && f[3] == devString(exe.Dev) {
				perms = f[1]
			}
		case perms != "" && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			rss[perms] += n
		}
	}
	return rss
}
