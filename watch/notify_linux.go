package watch

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// errNoProcessList is why --notify-process cannot work here: nil on Linux,
// where findProcesses lists /proc.
var errNoProcessList error

// findProcesses lists the processes named name (by their command name,
// of which the kernel keeps 15 bytes, or the base name of their argv[0])
// whose parent is not also one: the master of a server that forks workers
// under its own name (nginx, Apache httpd, gunicorn, php-fpm), which
// reloads them itself and whose workers ignore or die of its reload
// signal. shroud itself is never one.
func findProcesses(name string) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	named := map[int]int{} // pid -> parent pid
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !processNamed(e.Name(), name) {
			continue
		}
		if ppid, ok := parentPid(e.Name()); ok {
			named[pid] = ppid
		}
	}
	var pids []int
	for pid, ppid := range named {
		if _, forked := named[ppid]; !forked {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// processNamed reports whether the process pid (a /proc entry) is named
// name.
func processNamed(pid, name string) bool {
	comm, err := os.ReadFile(filepath.Join("/proc", pid, "comm"))
	if err != nil {
		return false
	}
	if strings.TrimSuffix(string(comm), "\n") == name {
		return true
	}
	cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return len(argv0) > 0 && filepath.Base(string(argv0)) == name
}

// parentPid reads the parent of process pid from /proc/PID/stat.
func parentPid(pid string) (int, bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, false
	}
	return statParent(stat)
}
