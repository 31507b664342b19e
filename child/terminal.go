package child

import (
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// terminal is the controlling terminal shroud shares with its child when
// shroud runs in the terminal's foreground (an interactive shell, docker run
// -it). The child then runs in its own process group made the foreground one,
// so the keys that raise signals (Ctrl-C, Ctrl-Z, Ctrl-\) and window resizes
// reach the child once, from the kernel, and never shroud: shroud has nothing
// to forward twice. Programs that read the terminal (editors, REPLs, password
// prompts) work as without shroud.
type terminal struct {
	fd   int
	pgrp int // shroud's process group, the foreground one when supervision began
}

// foregroundTerminal returns the terminal on stdin when shroud's process group
// is its foreground group, else nil: a background shroud, or one whose stdin
// is not its controlling terminal, must not take the terminal.
func foregroundTerminal(stdin io.Reader) *terminal {
	f, ok := stdin.(*os.File)
	if !ok || f == nil {
		return nil
	}
	fd := int(f.Fd())
	if _, err := unix.IoctlGetTermios(fd, ioctlGetTermios); err != nil {
		return nil
	}
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP) // ENOTTY unless it is our controlling terminal
	if err != nil || fg != unix.Getpgrp() {
		return nil
	}
	return &terminal{fd: fd, pgrp: fg}
}

// hasControllingTerminal reports whether shroud has a controlling terminal,
// and so maybe a shell that follows its jobs: /dev/tty opens only then.
func hasControllingTerminal() bool {
	f, err := os.OpenFile("/dev/tty", os.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// foreground returns the terminal's foreground process group.
func (t *terminal) foreground() int {
	fg, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	if err != nil {
		return -1
	}
	return fg
}

// handTo makes pgrp the terminal's foreground process group. shroud may be in
// the background when it calls this, where the kernel would stop it with
// SIGTTOU; SIGTTOU is blocked on the calling thread for the call, which the
// kernel takes as consent, so shroud's own disposition (and the child's
// inherited one) stays untouched.
func (t *terminal) handTo(pgrp int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	restore, err := blockOnThread(unix.SIGTTOU)
	if err != nil {
		return err
	}
	err = unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp)
	if rerr := restore(); err == nil {
		err = rerr
	}
	return err
}

// reclaim gives the terminal back to shroud's process group if the child's
// group still holds it; a terminal someone else took (the shell after bg, a
// new job) is left alone.
func (t *terminal) reclaim(childPgrp int) error {
	if t.foreground() != childPgrp {
		return nil
	}
	return t.handTo(t.pgrp)
}
