//go:build linux

package child

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/must"
)

// supervisorHelper is a shroud-like process, run by the tests below as this
// test binary with SHROUD_TEST_SUPERVISOR set to the child's argv (one per
// line): it supervises the child with Supervise's parts and exits with its
// status. It appends what the tests check to the file REPORT:
//
//	child PID
//	dumpable N             (with NO_CORE_DUMPS=1: after NoCoreDumps)
//	proc PATH ok|ERROR     (with NO_CORE_DUMPS=1: its own /proc reads)
//
// CHILD_ENV is added to the child's environment only.
// START_ON_DYING_THREAD=1 starts the child from a goroutine locked to its
// OS thread that then exits, which makes Go end that thread.
func supervisorHelper() {
	report := func(format string, args ...any) {
		f, err := os.OpenFile(os.Getenv("REPORT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(f, format+"\n", args...)
		f.Close()
	}
	if os.Getenv("NO_CORE_DUMPS") == "1" {
		if err := NoCoreDumps(); err != nil {
			report("error %v", err)
			os.Exit(ExitFailure)
		}
		dumpable, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		report("dumpable %d", dumpable)
		procSelfReads(report)
	}
	env := append(os.Environ(), bigEnv(os.Getenv("SHROUD_TEST_BIG_ENV"))...)
	if extra := os.Getenv("CHILD_ENV"); extra != "" {
		env = append(env, extra)
	}
	// The supervisor's debug log on stderr: tests wait for its lines.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Input{Argv: strings.Split(os.Getenv("SHROUD_TEST_SUPERVISOR"), "\n"), Env: env, Stdout: os.Stdout, Stderr: os.Stderr, Log: log})
	if err == nil {
		if os.Getenv("START_ON_DYING_THREAD") == "1" {
			// The main thread is never ended, only parked: keep it for
			// this goroutine so that the other runs on another thread.
			runtime.LockOSThread()
			started := make(chan error)
			go func() {
				runtime.LockOSThread() // and never unlocked: the thread ends with this goroutine
				started <- s.Start()
			}()
			err = <-started
		} else {
			err = s.Start()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(ExitCode(err))
	}
	report("child %d", s.Pid())
	code, _ := s.Wait()
	os.Exit(code)
}

// procSelfReads reads what shroud reads of its own /proc (the resident
// memory of cmd/shroud, the process metrics of internal/promtext).
func procSelfReads(report func(string, ...any)) {
	var st syscall.Stat_t
	for path, read := range map[string]func(string) error{
		"/proc/self/exe":   func(p string) error { return syscall.Stat(p, &st) },
		"/proc/self/smaps": func(p string) error { _, err := os.ReadFile(p); return err },
		"/proc/self/stat":  func(p string) error { _, err := os.ReadFile(p); return err },
		"/proc/self/fd":    func(p string) error { _, err := os.ReadDir(p); return err },
	} {
		if err := read(path); err != nil {
			report("proc %s %v", path, err)
		} else {
			report("proc %s ok", path)
		}
	}
}

// bigEnv makes the variables that spec asks for: NAME=LEN makes NAME with a
// value of x's, LEN bytes in all with the name and =; NAME=COUNTxLEN makes
// COUNT of them, NAME_0 to NAME_COUNT-1.
func bigEnv(spec string) []string {
	var env []string
	for _, item := range strings.Split(spec, ",") {
		name, size, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		count, n := "1", size
		if c, l, ok := strings.Cut(size, "x"); ok {
			count, n = c, l
		}
		times, _ := strconv.Atoi(count)
		length, _ := strconv.Atoi(n)
		for i := range times {
			k := name
			if times > 1 {
				k = fmt.Sprintf("%s_%d", name, i)
			}
			env = append(env, k+"="+strings.Repeat("x", length-len(k)-1))
		}
	}
	return env
}

// helper is a running supervisorHelper. Its stderr is a file, not a pipe
// that its child would hold open after it died.
type helper struct {
	cmd            *exec.Cmd
	report, errlog string
	done           chan error
}

func (h *helper) stderr() string {
	data, _ := os.ReadFile(h.errlog)
	return string(data)
}

func startHelper(t *testing.T, binary string, argv []string, sys *syscall.SysProcAttr, env ...string) *helper {
	t.Helper()
	dir, err := os.MkdirTemp("", "shroud-supervisor") // reachable by any user
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must.Succeed(t, os.Chmod(dir, 0o777))
	h := &helper{report: filepath.Join(dir, "report"), errlog: filepath.Join(dir, "stderr"), done: make(chan error, 1)}
	must.Succeed(t, os.WriteFile(h.report, nil, 0o666))
	must.Succeed(t, os.Chmod(h.report, 0o666))
	errlog, err := os.Create(h.errlog)
	if err != nil {
		t.Fatal(err)
	}
	defer errlog.Close()
	h.cmd = exec.Command(binary)
	h.cmd.Env = append([]string{"SHROUD_TEST_SUPERVISOR=" + strings.Join(argv, "\n"), "REPORT=" + h.report, "PATH=" + os.Getenv("PATH")}, env...)
	h.cmd.Stderr = errlog
	h.cmd.SysProcAttr = sys
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.done
		h.done <- nil
	})
	return h
}

// line waits for the report line that starts with prefix and returns the
// rest of it.
func (h *helper) line(t *testing.T, prefix string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(h.report)
		for _, l := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
				return rest
			}
		}
	}
	t.Fatalf("no %q line from the supervisor; stderr: %s", prefix, h.stderr())
	return ""
}

func (h *helper) childPid(t *testing.T) int {
	t.Helper()
	pid, err := strconv.Atoi(h.line(t, "child"))
	if err != nil || pid <= 0 {
		t.Fatalf("child pid: %v", err)
	}
	return pid
}

// procState is the state letter of /proc/PID/stat ("R", "S", "T", "Z"),
// or "gone".
func procState(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return fields[0]
}

func waitState(t *testing.T, pid int, within time.Duration, want ...string) string {
	t.Helper()
	var state string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		state = procState(pid)
		for _, w := range want {
			if state == w {
				return state
			}
		}
	}
	return state
}
