package child

import (
	"runtime"
	"sync"
	"syscall"
)

// forkExec starts a supervised child. A child whose supervisor dies
// (SIGKILL, a crash) dies with it, as every process of a container dies
// with its PID 1, rather than run on unsupervised with its secrets:
// SIGKILL, as the stop signal could be ignored. The kernel clears it for a
// set-user-ID program.
func forkExec(path string, argv []string, attr *syscall.ProcAttr) (pid int, err error) {
	attr.Sys.Pdeathsig = syscall.SIGKILL
	onForkThread(func() {
		pid, err = syscall.ForkExec(path, argv, attr)
	})
	return pid, err
}

// forkThread is one OS thread, kept for the life of shroud, that forks
// every supervised child. The kernel sends a child its parent-death signal
// (PR_SET_PDEATHSIG) when the thread that forked it ends, not the process,
// and Go ends a thread whose goroutine exits locked to it: a child forked on
// such a thread would be killed while shroud lives. This goroutine locks its
// thread and never exits, so the signal comes only when shroud dies.
var forkThread = sync.OnceValue(func() chan<- func() {
	jobs := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked
		for job := range jobs {
			job()
		}
	}()
	return jobs
})

// onForkThread runs f on forkThread and returns when f has.
func onForkThread(f func()) {
	done := make(chan struct{})
	forkThread() <- func() {
		defer close(done)
		f()
	}
	<-done
}
