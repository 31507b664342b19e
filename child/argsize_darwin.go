package child

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// checkExecSize refuses what execve would refuse with E2BIG ("argument list
// too long"), which names neither the variable nor the limit. darwin has no
// limit for one string: the arguments and the environment together, each
// string with its NUL and its pointer, must fit in ARG_MAX (kern.argmax,
// 1 MiB). Errors name variables, never values, and are shroud's own
// (ExitFailure).
func checkExecSize(path string, argv, env []string) error {
	const ptr = int(unsafe.Sizeof(uintptr(0)))
	total := 3 * ptr // the two NULL pointers ending argv and env, and alignment
	for _, s := range argv {
		total += len(s) + 1 + ptr
	}
	for _, kv := range env {
		total += len(kv) + 1 + ptr
	}
	if limit := argMax(); total > limit {
		return &StartError{Name: argv[0], Code: ExitFailure, Err: fmt.Errorf("the command and its environment take %d bytes, over the kernel's limit of %d bytes (kern.argmax); the largest variables: %s", total, limit, largestVars(env, 3))}
	}
	return nil
}

// argMax is the room execve gives the strings of a new program and the
// pointers to them.
func argMax() int {
	if n, err := unix.SysctlUint32("kern.argmax"); err == nil {
		return int(n)
	}
	return 1 << 20 // ARG_MAX of <sys/syslimits.h>
}
