package child

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlGetTermios reads a terminal's settings (tcgetattr).
const ioctlGetTermios = unix.TIOCGETA

// The how of darwin's sigprocmask(2) and pthread_sigmask(3), from
// <sys/signal.h>; x/sys/unix leaves them out for darwin.
const (
	sigBlock   = 1 // SIG_BLOCK
	sigSetmask = 3 // SIG_SETMASK
)

// blockOnThread blocks sig on the calling OS thread, which must be locked
// to its goroutine, and returns what restores the thread's signal mask.
// x/sys/unix has no PthreadSigmask for darwin: this is the system call
// behind pthread_sigmask(3), which sets the calling thread's mask (a
// sigset_t is 32 bits there), as the Go runtime does on Linux.
func blockOnThread(sig unix.Signal) (restore func() error, err error) {
	block, old := uint32(1)<<(sig-1), uint32(0)
	if err := pthreadSigmask(sigBlock, &block, &old); err != nil {
		return nil, err
	}
	return func() error { return pthreadSigmask(sigSetmask, &old, nil) }, nil
}

func pthreadSigmask(how int, set, old *uint32) error {
	_, _, errno := unix.RawSyscall(unix.SYS___PTHREAD_SIGMASK, uintptr(how), uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(old)))
	if errno != 0 {
		return errno
	}
	return nil
}
