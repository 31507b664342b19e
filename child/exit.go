package child

import (
	"errors"
	"fmt"
	"syscall"
)

// The exit statuses of shroud: this is the one place they are defined and
// mapped. run passes on its child's; the others are shroud's own.
const (
	// ExitProblems: check, render or get found problems (all listed).
	ExitProblems = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitRotated: a rotation ran on_change = "exit". EX_TEMPFAIL from
	// sysexits.h, "try again later": non-zero so that restart policies that
	// replace failed containers (Docker's on-failure) replace this one, and
	// apart from the statuses passed on from the child (125-127, 128+N).
	ExitRotated = 75
	// ExitFailure: shroud itself failed before the child ran (config,
	// resolution, files), by the convention of env(1), timeout(1) and
	// nohup(1).
	ExitFailure = 125
	// ExitNotExecutable: the command was found but could not be run.
	ExitNotExecutable = 126
	// ExitNotFound: the command was not found.
	ExitNotFound = 127
	// exitSignalBase + N: the child was killed by signal N, as a shell
	// reports it.
	exitSignalBase = 128
)

// ExitStatus is the status a wrapper exits with for a child that ended with
// ws: the child's exit code, or 128+N when signal N killed it.
func ExitStatus(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return SignalStatus(ws.Signal())
	}
	return ExitFailure // stopped or continued: not an end; never passed here
}

// SignalStatus is the status for a child that signal sig ended.
func SignalStatus(sig syscall.Signal) int { return exitSignalBase + int(sig) }

// StartError is a failure to start the child. Code is the exit status a
// wrapper reports for it.
type StartError struct {
	Name string
	Code int
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("%s: %v", e.Name, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// ExitCode returns the wrapper exit status for err: the StartError's code,
// else ExitFailure.
func ExitCode(err error) int {
	var se *StartError
	if errors.As(err, &se) {
		return se.Code
	}
	return ExitFailure
}
