package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// dropExecutablePages unmaps from this process the resident pages of the
// read-only mappings of its own executable (code, read-only data, the
// function tables), and returns how many KiB were resident. Package init
// of every linked package (the AWS and Alibaba SDKs, protobuf, crypto),
// config parsing and the first resolve touch megabytes of them that a
// waiting supervisor never runs again; fault-around maps 64 KiB for each
// touch. The pages stay in the page cache: those the supervisor needs
// again (its wait loop, the watch loop, the GC) come back by minor faults,
// the rest become reclaimable.
//
// Only private mappings with no anonymous page are dropped: their content
// is the file's, so MADV_DONTNEED loses nothing. That excludes every
// writable mapping (.data, .bss) and read-only ones that were written
// before (a relocated RELRO segment, a debugger's breakpoint).
func dropExecutablePages() (kib int, err error) {
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		return 0, err
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	type mapping struct {
		start, end uintptr
		rss        int
	}
	var (
		drop []mapping
		cur  *mapping // a candidate until its Anonymous line says otherwise
	)
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 5 && bytes.IndexByte(f[0], '-') > 0 && !bytes.HasSuffix(f[0], []byte(":")) {
			// A mapping: start-end perms offset major:minor inode [path].
			cur = nil
			lo, hi, _ := bytes.Cut(f[0], []byte("-"))
			start, err1 := strconv.ParseUint(string(lo), 16, 64)
			end, err2 := strconv.ParseUint(string(hi), 16, 64)
			ino, err3 := strconv.ParseUint(string(f[4]), 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				return 0, fmt.Errorf("/proc/self/smaps: unexpected line %q", sc.Text())
			}
			perms := string(f[1])
			if ino != exe.Ino || string(f[3]) != devString(exe.Dev) || len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
				continue
			}
			drop = append(drop, mapping{start: uintptr(start), end: uintptr(end)})
			cur = &drop[len(drop)-1]
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		switch string(f[0]) {
		case "Rss:":
			cur.rss, _ = strconv.Atoi(string(f[1]))
		case "Anonymous:":
			if string(f[1]) != "0" {
				drop = drop[:len(drop)-1]
				cur = nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	for _, m := range drop {
		if m.rss == 0 {
			continue
		}
		// The mapping is the kernel's, not a Go object: madvise by address.
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return kib, fmt.Errorf("madvise: %w", errno)
		}
		kib += m.rss
	}
	return kib, nil
}

// devString formats a device number as /proc/PID/maps does (major:minor in
// hex, at least two digits each).
func devString(dev uint64) string {
	return fmt.Sprintf("%02x:%02x", unix.Major(dev), unix.Minor(dev))
}
