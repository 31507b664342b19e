// Package signal runs shroud's child process, one of two ways: Exec, the
// fast path, where shroud replaces itself with the child; or a Supervisor,
// where shroud stays the child's parent as an init does (forwarding signals,
// reaping zombies, stopping and restarting the child). Both report the exit
// statuses a wrapper owes its caller.
package signal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Exit statuses of a wrapper that failed before its child ran, by the
// convention of env(1), timeout(1) and nohup(1).
const (
	// ExitFailure: shroud itself failed (config, resolution, files).
	ExitFailure = 125
	// ExitNotExecutable: the command was found but could not be run.
	ExitNotExecutable = 126
	// ExitNotFound: the command was not found.
	ExitNotFound = 127
)

// ExitStatus is the status a wrapper exits with for a child that ended with
// ws: the child's exit code, or 128+N when signal N killed it, as a shell
// reports it. It is the one place this mapping is made.
func ExitStatus(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return ExitFailure // stopped or continued: not an end; never passed here
}

// defaultPath is searched when the child's environment has no PATH, as
// execvp(3) does.
const defaultPath = "/bin:/usr/bin"

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

// LookPath finds the program name as a shell does: a name with a slash is
// used as is; otherwise each directory of PATH in env is searched (an empty
// entry is the working directory) for an executable regular file. A match
// that is not executable is remembered, so "permission denied" (126) is told
// apart from "not found" (127).
func LookPath(name string, env []string) (string, error) {
	if name == "" {
		return "", &StartError{Name: name, Code: ExitNotFound, Err: errors.New("empty command name")}
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	path, ok := lookupEnv(env, "PATH")
	if !ok {
		path = defaultPath
	}
	denied := ""
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() {
			continue
		}
		if info.Mode()&0o111 != 0 && syscall.Access(candidate, 1 /* X_OK */) == nil {
			if !strings.Contains(candidate, "/") {
				candidate = "./" + candidate
			}
			return candidate, nil
		}
		if denied == "" {
			denied = candidate
		}
	}
	if denied != "" {
		return "", &StartError{Name: name, Code: ExitNotExecutable, Err: fmt.Errorf("%s is not executable (permission denied)", denied)}
	}
	return "", &StartError{Name: name, Code: ExitNotFound, Err: fmt.Errorf("command not found in PATH")}
}

// Exec replaces shroud with the command argv, run with env: the fast path,
// with zero supervision overhead, where the child inherits shroud's PID
// (PID 1 in a container), its stdio and its signals. It returns only on
// failure, with a *StartError.
func Exec(argv []string, env []string) error {
	if len(argv) == 0 {
		return &StartError{Code: ExitFailure, Err: errors.New("no command given")}
	}
	path, err := LookPath(argv[0], env)
	if err != nil {
		return err
	}
	if err := checkExecSize(path, argv, env); err != nil {
		return err
	}
	err = syscall.Exec(path, argv, env)
	return startError(argv[0], path, err)
}

// startError maps an execve failure to the status a shell would report.
func startError(name, path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		if _, statErr := os.Stat(path); statErr == nil {
			// The file exists: its #! interpreter does not.
			return &StartError{Name: name, Code: ExitNotExecutable, Err: fmt.Errorf("%s: bad interpreter in its #! line: %w", path, fs.ErrNotExist)}
		}
		return &StartError{Name: name, Code: ExitNotFound, Err: fmt.Errorf("%s: no such file", path)}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EISDIR):
		return &StartError{Name: name, Code: ExitNotExecutable, Err: fmt.Errorf("%s: permission denied (not an executable file)", path)}
	case errors.Is(err, syscall.ENOEXEC):
		return &StartError{Name: name, Code: ExitNotExecutable, Err: fmt.Errorf("%s: exec format error (a script needs a #! line)", path)}
	}
	return &StartError{Name: name, Code: ExitNotExecutable, Err: fmt.Errorf("%s: %w", path, err)}
}

func lookupEnv(env []string, name string) (string, bool) {
	// The first definition wins, as getenv(3) finds it.
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
