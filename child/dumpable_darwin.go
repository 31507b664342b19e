package child

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NoCoreDumps keeps a crash of the calling process from writing its memory,
// and the secrets in it, to a core file. darwin has no PR_SET_DUMPABLE:
// the soft limit on core files is set to 0 instead (macOS's default
// anyway). Unlike Linux's flag, the limit is inherited: the child starts
// with it too, and may raise it again up to the hard limit, which is kept
// (ulimit -c). A debugger may still attach, where Linux's flag stops one
// of the same user: macOS asks for an administrator's consent first,
// unless the user was given Developer Tools access.
func NoCoreDumps() error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil {
		return fmt.Errorf("cannot turn off core dumps (getrlimit RLIMIT_CORE): %w", err)
	}
	rl.Cur = 0
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &rl); err != nil {
		return fmt.Errorf("cannot turn off core dumps (setrlimit RLIMIT_CORE): %w", err)
	}
	return nil
}
