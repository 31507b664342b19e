package child

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NoCoreDumps makes the calling process undumpable (PR_SET_DUMPABLE 0), so
// that a crash, gcore or a ptrace attach by the same user cannot copy the
// secrets in its memory, and its /proc/PID files belong to root. Only the
// process itself changes: execve makes the programs it starts dumpable
// again. Its own /proc/self files stay readable to it.
func NoCoreDumps() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("cannot turn off core dumps (prctl PR_SET_DUMPABLE): %w", err)
	}
	return nil
}
