package child

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes shroud the reaper of its child's orphans
// (PR_SET_CHILD_SUBREAPER): they are reparented to shroud, not to init.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reapOrphans reaps the orphans of the child that ended, and counts them:
// as PID 1 or the child subreaper, shroud is their parent.
//
// It never takes the status of a process shroud started itself through
// os/exec while supervising (a notify command, an SDK's credential_process):
// their Wait would fail with ECHILD. Those run in shroud's own process
// group, which the child (started in a group of its own) and its
// descendants are not in; so a zombie is peeked at first (WNOWAIT), and
// one in shroud's group is left to its Wait.
func (l *loop) reapOrphans() {
	orphans := 0
	defer func() {
		if orphans > 0 {
			l.s.log.Debug("reaped orphans", "count", orphans)
		}
	}()
	for {
		pid, err := peekZombie()
		if err != nil || pid <= 0 {
			return
		}
		if l.cur != nil && pid == l.cur.pid {
			l.reapChild()
			continue
		}
		if l.ownChild(pid) {
			// os/exec's: waitid shows the same zombie first until its Wait
			// takes it, so look again shortly for the orphans behind it.
			time.AfterFunc(reapRetry, func() {
				select {
				case l.chld <- unix.SIGCHLD:
				default:
				}
			})
			return
		}
		var ws unix.WaitStatus
		if got, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid {
			orphans++
		}
	}
}

// reapRetry is how soon reap looks again when a zombie of shroud's own
// hides the orphans behind it; after ownZombieGrace, such a zombie is
// reaped as an orphan (a process in shroud's group that nobody waits for).
const (
	reapRetry      = 20 * time.Millisecond
	ownZombieGrace = 2 * time.Second
)

// ownChild reports whether the zombie pid is in shroud's own process group
// and so presumably an os/exec child whose Wait will take it soon.
func (l *loop) ownChild(pid int) bool {
	if pgid, err := unix.Getpgid(pid); err != nil || pgid != unix.Getpgrp() {
		return false
	}
	if l.ownZombie != pid {
		l.ownZombie, l.ownZombieSince = pid, time.Now()
	}
	return time.Since(l.ownZombieSince) < ownZombieGrace
}

// peekZombie returns the pid of a child that has ended, without reaping it
// (waitid with WNOWAIT), or 0 when there is none.
func peekZombie() (int, error) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return siginfoPid(&info), nil
	}
}

// siginfoPid reads si_pid of a SIGCHLD siginfo_t: the first member of its
// union, after three ints, aligned as a pointer (offset 16 on 64-bit
// Linux). x/sys/unix leaves that part of Siginfo opaque.
func siginfoPid(info *unix.Siginfo) int {
	const align = unsafe.Sizeof(uintptr(0))
	off := (3*unsafe.Sizeof(int32(0)) + align - 1) &^ (align - 1)
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}
