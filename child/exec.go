// Package child runs shroud's child process, one of two ways: Exec, the
// fast path, where shroud replaces itself with the child; or a Supervisor,
// where shroud stays the child's parent as an init does (forwarding signals,
// reaping zombies, stopping and restarting the child). Both report the exit
// statuses a wrapper owes its caller.
package child

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// defaultPath is searched when the child's environment has no PATH, as
// execvp(3) does.
const defaultPath = "/bin:/usr/bin"

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
// Its message names the program once: by name, and by the path found in
// PATH when that differs ("./app: no such file", "app: /usr/bin/app: ...").
func startError(name, path string, err error) error {
	fail := func(code int, err error) error {
		if path != name {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return &StartError{Name: name, Code: code, Err: err}
	}
	switch {
	case errors.Is(err, syscall.ENOENT):
		if _, statErr := os.Stat(path); statErr == nil {
			// The file exists: its #! interpreter does not.
			return fail(ExitNotExecutable, fmt.Errorf("bad interpreter in its #! line: %w", fs.ErrNotExist))
		}
		return fail(ExitNotFound, errors.New("no such file"))
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EISDIR):
		return fail(ExitNotExecutable, errors.New("permission denied (not an executable file)"))
	case errors.Is(err, syscall.ENOEXEC):
		return fail(ExitNotExecutable, errors.New("exec format error (a script needs a #! line)"))
	}
	return fail(ExitNotExecutable, err)
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
