package child

import "syscall"

// forkExec starts a supervised child. darwin has no parent-death signal: a
// child whose supervisor is killed (SIGKILL, a crash) runs on without it,
// reparented to launchd. A graceful end of shroud (a signal it catches, the
// end of supervision) still stops the child first.
func forkExec(path string, argv []string, attr *syscall.ProcAttr) (int, error) {
	return syscall.ForkExec(path, argv, attr)
}
