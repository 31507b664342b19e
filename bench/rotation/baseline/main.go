//go:build linux

// Linux only: its processes die with their parent by PR_SET_PDEATHSIG.

// Command baseline is the floor of any file watcher that signals a process:
// it watches a directory with fsnotify and sends SIGHUP to the process
// given at every event, reading nothing and writing nothing.
//
//	baseline DIR -- CMD [ARGS...]
package main

import (
	"os"
	"os/exec"
	"syscall"

	"github.com/fsnotify/fsnotify"
)

func main() {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		panic(err)
	}
	if err := w.Add(os.Args[1]); err != nil {
		panic(err)
	}
	cmd := exec.Command(os.Args[3], os.Args[4:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// The child ends with this program, which is stopped by a signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	go func() {
		for ev := range w.Events {
			if ev.Op != fsnotify.Chmod {
				cmd.Process.Signal(syscall.SIGHUP)
			}
		}
	}()
	cmd.Wait()
}
