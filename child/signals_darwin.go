package child

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSignal is the highest signal number: darwin has no real-time signals.
const maxSignal = 31

// uncatchable reports signals that os/signal cannot deliver on darwin:
// SIGKILL, SIGSTOP, the synchronous faults the runtime turns into panics or
// crashes (SIGEMT, SIGSYS among them), and SIGPROF.
func uncatchable(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGILL, unix.SIGTRAP, unix.SIGEMT, unix.SIGBUS,
		unix.SIGFPE, unix.SIGSEGV, unix.SIGSYS, unix.SIGPROF:
		return true
	}
	return false
}
