package child

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlGetTermios reads a terminal's settings (tcgetattr).
const ioctlGetTermios = unix.TCGETS

// blockOnThread blocks sig on the calling OS thread, which must be locked
// to its goroutine, and returns what restores the thread's signal mask.
func blockOnThread(sig unix.Signal) (restore func() error, err error) {
	var block, old unix.Sigset_t
	sigaddset(&block, sig)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
		return nil, err
	}
	return func() error { return unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) }, nil
}

// sigaddset adds sig to set, as sigaddset(3) does; the word size of
// Sigset_t differs between architectures.
func sigaddset(set *unix.Sigset_t, sig unix.Signal) {
	const bits = uint(8 * unsafe.Sizeof(unix.Sigset_t{}.Val[0]))
	n := uint(sig - 1)
	set.Val[n/bits] |= 1 << (n % bits)
}
