package child

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// checkExecSize refuses what execve would refuse with E2BIG ("argument list
// too long"), which names neither the variable nor the limit: one argument
// or NAME=value over MAX_ARG_STRLEN (32 pages: 128 KiB), or all of them
// together over the kernel's limit for the strings of a new program.
// Errors name variables, never values, and are shroud's own (ExitFailure).
func checkExecSize(path string, argv, env []string) error {
	fail := func(format string, args ...any) error {
		return &StartError{Name: argv[0], Code: ExitFailure, Err: fmt.Errorf(format, args...)}
	}
	maxString := 32 * os.Getpagesize() // MAX_ARG_STRLEN, with its NUL
	total := len(path) + 1             // the kernel copies the path too
	for i, a := range argv {
		if len(a)+1 > maxString {
			return fail("argument %d is %d bytes, over the kernel's limit of %d bytes for one argument (MAX_ARG_STRLEN)", i, len(a), maxString-1)
		}
		total += len(a) + 1
	}
	for _, kv := range env {
		if len(kv)+1 > maxString {
			return fail("environment variable %s is %d bytes (NAME=value), over the kernel's limit of %d bytes for one variable (MAX_ARG_STRLEN); pass a value this large in a file", envName(kv), len(kv), maxString-1)
		}
		total += len(kv) + 1
	}
	limit := execStringsLimit() - (max(len(argv), 1)+len(env))*int(unsafe.Sizeof(uintptr(0)))
	if total > limit {
		return fail("the command and its environment take %d bytes, over the kernel's limit of %d bytes (3/4 of 8 MiB, or a quarter of the stack size limit, ulimit -s, if smaller); the largest variables: %s", total, limit, largestVars(env, 3))
	}
	return nil
}

// execStringsLimit is the room execve gives the strings of a new program
// and the pointers to them (fs/exec.c, bprm_stack_limits): 3/4 of _STK_LIM
// (8 MiB), or a quarter of RLIMIT_STACK if smaller, and never less than
// ARG_MAX (128 KiB).
func execStringsLimit() int {
	const stkLim, argMax = 8 << 20, 128 << 10
	limit := uint64(stkLim / 4 * 3)
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_STACK, &rl) == nil {
		limit = min(limit, rl.Cur/4)
	}
	return int(max(limit, argMax))
}
