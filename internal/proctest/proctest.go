// Package proctest reads the process table for tests that count orphans
// and zombies of real processes.
package proctest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc is one process of /proc.
type Proc struct {
	PID, PPID   int
	Comm, State string // State is one letter: R, S, Z, ...
}

// List lists the processes in /proc. Processes that end while it reads are
// left out.
func List() []Proc {
	entries, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		out = append(out, Proc{PID: pid, PPID: ppid, Comm: s[open+1 : close], State: f[0]})
	}
	return out
}

// Zombies returns the children of ppid that have ended and are not reaped.
func Zombies(ppid int) []int {
	var pids []int
	for _, p := range List() {
		if p.PPID == ppid && p.State == "Z" {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// Children returns the processes whose parent is ppid.
func Children(ppid int) []Proc {
	var out []Proc
	for _, p := range List() {
		if p.PPID == ppid {
			out = append(out, p)
		}
	}
	return out
}
