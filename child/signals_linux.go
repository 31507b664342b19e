package child

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSignal is the highest signal number: SIGRTMAX.
const maxSignal = 64

// uncatchable reports signals that os/signal cannot deliver on Linux: SIGKILL,
// SIGSTOP, the synchronous faults the runtime turns into panics, SIGPROF, and
// 32..34, which the C libraries and the runtime reserve for themselves.
func uncatchable(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE,
		unix.SIGSEGV, unix.SIGSTKFLT, unix.SIGSYS, unix.SIGPROF:
		return true
	}
	return sig >= 32 && sig <= 34
}
