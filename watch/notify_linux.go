package watch

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// errNoProcessList is why --notify-process cannot work here: nil on Linux,
// where findProcesses lists /proc.
var errNoProcessList error

// findProcesses lists the processes named name: by their command name (the
// kernel keeps 15 bytes of it) or the base name of their argv[0]. shroud
// itself is never one.
func findProcesses(name string) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		match := strings.TrimSuffix(string(comm), "\n") == name
		if !match {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			argv0, _, _ := bytes.Cut(cmdline, []byte{0})
			match = len(argv0) > 0 && filepath.Base(string(argv0)) == name
		}
		if match {
			pids = append(pids, pid)
		}
	}
	return pids
}
