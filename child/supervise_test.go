//go:build linux

package child

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/internal/proctest"
)

// The supervisor runs in the test process itself, as it runs in shroud; the
// children are this test binary again (testChild, or pipeSizeChild with
// SHROUD_TEST_CHILD=pipesize), real processes that record the signals they
// receive in a file, one line each:
//
//	start UNIXNANO PID GEN
//	SIGHUP
//
// Its behaviour comes from its environment: REC is the record file, GEN is
// echoed, CRASH_IF_GEN makes it exit 3 at once when it equals GEN,
// ON_TERM=ignore makes it survive SIGTERM (else it dies of it), GRANDCHILD=1
// makes it start one more of itself in its process group, recording to
// REC.grand.
func testChild() {
	if os.Getenv("SHROUD_TEST_CHILD") == "pipesize" {
		pipeSizeChild()
	}
	if os.Getenv("SHROUD_TEST_CHILD") == "dumpable" {
		dumpableChild() // hardening_test.go
	}
	rec := os.Getenv("REC")
	f, err := os.OpenFile(rec, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(f, format+"\n", args...) }
	gen := os.Getenv("GEN")
	if gen != "" && gen == os.Getenv("CRASH_IF_GEN") {
		logf("start %d %d %s", time.Now().UnixNano(), os.Getpid(), gen)
		os.Exit(3)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPIPE, unix.SIGQUIT)
	if os.Getenv("GRANDCHILD") == "1" {
		var attr os.ProcAttr
		attr.Env = envWith(envWith(os.Environ(), "GRANDCHILD=0"), "REC="+rec+".grand")
		attr.Files = []*os.File{nil, os.Stdout, os.Stderr}
		if _, err := os.StartProcess(os.Args[0], os.Args[:1], &attr); err != nil {
			panic(err)
		}
	}
	logf("start %d %d %s", time.Now().UnixNano(), os.Getpid(), gen)
	for sig := range sigs {
		logf("%s", unix.SignalName(sig.(syscall.Signal)))
		if sig == unix.SIGTERM && os.Getenv("ON_TERM") != "ignore" {
			signal.Reset(unix.SIGTERM)
			unix.Kill(os.Getpid(), unix.SIGTERM)
			time.Sleep(5 * time.Second)
			os.Exit(99) // not reached
		}
	}
}

// pipeSizeChild prints "pipe=N", N the size of the pipe that is its stdout,
// once it is 1 MiB or after 10s: whoever reads the pipe may size it just
// after the start.
func pipeSizeChild() {
	size := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if size, err = unix.FcntlInt(1, unix.F_GETPIPE_SZ, 0); err != nil || size >= 1<<20 {
			break
		}
	}
	fmt.Printf("pipe=%d\n", size)
	os.Exit(0)
}

// childInput is an Input that runs testChild recording to rec.
func childInput(rec string, env ...string) Input {
	return Input{
		Argv:   []string{os.Args[0]},
		Env:    append([]string{"SHROUD_TEST_CHILD=1", "REC=" + rec, "PATH=" + os.Getenv("PATH")}, env...),
		Stderr: os.Stderr,
	}
}

// record is what a test child wrote.
type record struct{ lines []string }

func readRecord(path string) record {
	data, _ := os.ReadFile(path)
	return record{strings.Split(strings.TrimSpace(string(data)), "\n")}
}

// starts returns the start lines.
func (r record) starts() []start {
	var out []start
	for _, l := range r.lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "start" {
			continue
		}
		s := start{gen: strings.Join(f[3:], "")}
		s.at, _ = strconv.ParseInt(f[1], 10, 64)
		s.pid, _ = strconv.Atoi(f[2])
		out = append(out, s)
	}
	return out
}

func (r record) count(line string) int {
	n := 0
	for _, l := range r.lines {
		if l == line {
			n++
		}
	}
	return n
}

type start struct {
	at  int64
	gen string
	pid int
}

// waitRecord polls path until ok holds; the bound is generous, for a loaded
// machine, and only reached when the test fails.
func waitRecord(t *testing.T, path string, what string, ok func(record) bool) record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := readRecord(path)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; %s has:\n%s", what, filepath.Base(path), strings.Join(r.lines, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasStarts(n int) func(record) bool {
	return func(r record) bool { return len(r.starts()) >= n }
}

func hasLine(line string, n int) func(record) bool {
	return func(r record) bool { return r.count(line) >= n }
}

func startSupervisor(t *testing.T, in Input) *Supervisor {
	t.Helper()
	return startWithHook(t, in, nil)
}

// startWithHook starts a supervisor that calls hook with each run's start
// time, as the supervisor measures it for the backoff.
func startWithHook(t *testing.T, in Input, hook func(pid int, at time.Time)) *Supervisor {
	t.Helper()
	s, err := New(in)
	if err != nil {
		t.Fatal(err)
	}
	s.startHook = hook
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
	})
	return s
}

func waitDone(t *testing.T, s *Supervisor) (int, error) {
	t.Helper()
	select {
	case <-s.Done():
		return s.Wait()
	case <-time.After(60 * time.Second):
		t.Fatal("supervision did not end")
		return 0, nil
	}
}

func TestExitStatus(t *testing.T) {
	for _, tt := range []struct {
		ws   syscall.WaitStatus
		want int
	}{
		{0 << 8, 0},
		{1 << 8, 1},
		{125 << 8, 125},
		{255 << 8, 255},
		{syscall.WaitStatus(unix.SIGTERM), 143},
		{syscall.WaitStatus(unix.SIGKILL), 137},
		{syscall.WaitStatus(unix.SIGSEGV) | 0x80, 139}, // with a core dump
		{syscall.WaitStatus(unix.SIGHUP), 129},
		{syscall.WaitStatus(64), 192},
	} {
		if got := ExitStatus(tt.ws); got != tt.want {
			t.Errorf("ExitStatus(%#x) = %d, want %d", uint32(tt.ws), got, tt.want)
		}
	}
}

func TestSuperviseForwardsSignals(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	s := startSupervisor(t, childInput(rec))
	waitRecord(t, rec, "the child to start", hasStarts(1))

	// Signals sent to the supervising process reach the child, once each.
	for _, sig := range []syscall.Signal{unix.SIGHUP, unix.SIGUSR1, unix.SIGINT, unix.SIGUSR2} {
		if err := unix.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		waitRecord(t, rec, unix.SignalName(sig), hasLine(unix.SignalName(sig), 1))
	}
	// So do those sent with Signal.
	if err := s.Signal(unix.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	waitRecord(t, rec, "SIGQUIT", hasLine("SIGQUIT", 1))

	s.Stop()
	code, err := waitDone(t, s)
	if code != 128+int(unix.SIGTERM) || err != nil {
		t.Fatalf("status %d, %v; want 143 (the child died of the stop signal)", code, err)
	}
	r := readRecord(rec)
	for _, name := range []string{"SIGHUP", "SIGUSR1", "SIGINT", "SIGUSR2", "SIGQUIT", "SIGTERM"} {
		if n := r.count(name); n != 1 {
			t.Errorf("%s received %d times, want 1:\n%s", name, n, strings.Join(r.lines, "\n"))
		}
	}
	if s.Pid() != 0 {
		t.Errorf("Pid() = %d after the end", s.Pid())
	}
	if err := s.Signal(unix.SIGHUP); !errors.Is(err, ErrStopped) {
		t.Errorf("Signal after the end: %v", err)
	}
	if err := s.Restart(nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Restart after the end: %v", err)
	}
}

func TestSignalGroup(t *testing.T) {
	for _, group := range []bool{false, true} {
		t.Run(fmt.Sprintf("group=%v", group), func(t *testing.T) {
			rec := filepath.Join(t.TempDir(), "rec")
			in := childInput(rec, "GRANDCHILD=1")
			in.SignalGroup = group
			s := startSupervisor(t, in)
			waitRecord(t, rec, "the child", hasStarts(1))
			grand := waitRecord(t, rec+".grand", "the grandchild", hasStarts(1)).starts()[0].pid
			defer unix.Kill(grand, unix.SIGKILL)

			unix.Kill(os.Getpid(), unix.SIGUSR1)
			waitRecord(t, rec, "SIGUSR1 in the child", hasLine("SIGUSR1", 1))
			if group {
				waitRecord(t, rec+".grand", "SIGUSR1 in the grandchild", hasLine("SIGUSR1", 1))
			} else {
				// The grandchild must not get it. A SIGTERM sent to it
				// directly, after the child had both, is taken after them
				// (pending signals go lowest number first, SIGTERM is
				// 15): once it has it, it would have the others too.
				s.Signal(unix.SIGUSR2)
				waitRecord(t, rec, "SIGUSR2 in the child", hasLine("SIGUSR2", 1))
				unix.Kill(grand, unix.SIGTERM)
				if r := waitRecord(t, rec+".grand", "the grandchild's SIGTERM", hasLine("SIGTERM", 1)); r.count("SIGUSR1")+r.count("SIGUSR2") != 0 {
					t.Errorf("the grandchild got a signal meant for the child alone:\n%s", strings.Join(r.lines, "\n"))
				}
			}
		})
	}
}

// TestOwnBrokenPipeNotForwarded breaks a pipe and a TCP connection of the
// supervising process itself: the kernel raises SIGPIPE in it for each, and
// the child must not get them, nor a kill -PIPE sent to the supervisor.
func TestOwnBrokenPipeNotForwarded(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	s := startSupervisor(t, childInput(rec))
	waitRecord(t, rec, "the child to start", hasStarts(1))

	// A pipe whose reader is gone.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a broken pipe: %v, want EPIPE", err)
	}
	w.Close()

	// A TCP connection reset by its peer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // RST
	sawEPIPE := false
	for i := 0; i < 100 && !sawEPIPE; i++ {
		_, err := conn.Write([]byte("x"))
		sawEPIPE = errors.Is(err, syscall.EPIPE)
		time.Sleep(time.Millisecond)
	}
	if !sawEPIPE {
		t.Fatal("the reset connection never gave EPIPE")
	}

	// And a kill -PIPE from outside.
	unix.Kill(os.Getpid(), unix.SIGPIPE)

	// Then the stop: a forwarded SIGPIPE (13) would be taken before the
	// SIGTERM (15) the child dies of, so its record is complete once it
	// has died.
	s.Stop()
	if code, _ := waitDone(t, s); code != 143 {
		t.Fatalf("status %d, want 143: the child should have lived until the stop", code)
	}
	if r := readRecord(rec); r.count("SIGPIPE") != 0 || r.count("SIGTERM") != 1 {
		t.Fatalf("the child received:\n%s\nwant SIGTERM alone", strings.Join(r.lines, "\n"))
	}
}

// TestStopEscalates: a child that ignores the stop signal is killed after
// StopTimeout.
func TestStopEscalates(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	in := childInput(rec, "ON_TERM=ignore")
	in.StopSignal = unix.SIGUSR2
	in.StopTimeout = 300 * time.Millisecond
	s := startSupervisor(t, in)
	waitRecord(t, rec, "the child to start", hasStarts(1))

	begin := time.Now()
	s.Stop()
	elapsed := time.Since(begin)
	code, err := waitDone(t, s)
	if code != 137 || err != nil {
		t.Fatalf("status %d, %v; want 137 (SIGKILL)", code, err)
	}
	if elapsed < in.StopTimeout {
		t.Errorf("killed after %v, before the stop timeout %v", elapsed, in.StopTimeout)
	}
	if r := readRecord(rec); r.count("SIGUSR2") != 1 || r.count("SIGTERM") != 0 {
		t.Errorf("the child should have got the stop signal SIGUSR2 once:\n%s", strings.Join(r.lines, "\n"))
	}
}

func TestRestartWithFreshEnv(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	in := childInput(rec, "GEN=1")
	in.RestartBackoff = 20 * time.Millisecond
	s := startSupervisor(t, in)
	first := waitRecord(t, rec, "the first child", hasStarts(1)).starts()[0]
	if s.Pid() != first.pid {
		t.Fatalf("Pid() = %d, the child is %d", s.Pid(), first.pid)
	}

	if err := s.Restart(envWith(in.Env, "GEN=2")); err != nil {
		t.Fatal(err)
	}
	r := waitRecord(t, rec, "the second child", hasStarts(2))
	second := r.starts()[1]
	if second.gen != "2" || second.pid == first.pid || s.Pid() != second.pid {
		t.Fatalf("after Restart: %+v (Pid %d), first %+v", second, s.Pid(), first)
	}
	if r.count("SIGTERM") != 1 {
		t.Errorf("the old child should have got SIGTERM once:\n%s", strings.Join(r.lines, "\n"))
	}
	if err := unix.Kill(first.pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("the old child %d still exists (or is an unreaped zombie): %v", first.pid, err)
	}

	// A nil env keeps the current one.
	if err := s.Restart(nil); err != nil {
		t.Fatal(err)
	}
	if third := waitRecord(t, rec, "the third child", hasStarts(3)).starts()[2]; third.gen != "2" {
		t.Errorf("Restart(nil) started gen=%s, want 2", third.gen)
	}
}

// TestRestartsMerge: restarts asked for while one waits for its backoff are
// merged into it, with the newest environment.
func TestRestartsMerge(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	in := childInput(rec, "GEN=1")
	in.RestartBackoff = 3 * time.Second // the first restart waits this long after the start
	logs := &syncBuffer{b: &bytes.Buffer{}}
	in.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var startedAt startTimes
	s := startWithHook(t, in, startedAt.add)
	waitRecord(t, rec, "the first child", hasStarts(1))

	// One after another, each taken by the supervisor before the next.
	errs := make(chan error, 3)
	taken := func() int {
		return strings.Count(logs.String(), `msg="restart waits for the backoff"`) + strings.Count(logs.String(), `msg="restart merged into the one under way"`)
	}
	for gen := 2; gen <= 4; gen++ {
		go func() { errs <- s.Restart(envWith(in.Env, fmt.Sprintf("GEN=%d", gen))) }()
		waitFor(t, fmt.Sprintf("restart %d taken", gen-1), func() bool { return taken() == gen-1 })
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitRecord(t, rec, "the new child", hasStarts(2))
	if n := strings.Count(logs.String(), `msg="restart merged into the one under way"`); n != 2 {
		t.Errorf("%d restarts merged, want 2:\n%s", n, logs)
	}
	// A wrong second start right after this one would show here: that
	// quiet window is inherent.
	time.Sleep(300 * time.Millisecond)
	starts := readRecord(rec).starts()
	if len(starts) != 2 || starts[1].gen != "4" {
		t.Fatalf("3 restarts inside the backoff should give one new child with gen=4, got %+v", starts)
	}
	if gaps := startedAt.gaps(); len(gaps) != 1 || gaps[0] < in.RestartBackoff {
		t.Errorf("the restart came %v after the start, want one restart after the backoff %v", gaps, in.RestartBackoff)
	}
}

// startTimes collects the start times a supervisor measures.
type startTimes struct {
	mu sync.Mutex
	at []time.Time
}

func (s *startTimes) add(_ int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, at)
}

func (s *startTimes) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(s.at); i++ {
		g = append(g, s.at[i].Sub(s.at[i-1]))
	}
	return g
}

// TestCrashLoop: a restarted child that keeps crashing is started again with
// a growing backoff, and supervision gives up at the limit with its status.
func TestCrashLoop(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	in := childInput(rec, "GEN=1", "CRASH_IF_GEN=2")
	in.RestartBackoff = 100 * time.Millisecond
	in.CrashLimit = 3
	var startedAt startTimes
	s := startWithHook(t, in, startedAt.add)
	waitRecord(t, rec, "the first child", hasStarts(1))

	if err := s.Restart(envWith(in.Env, "GEN=2")); err != nil {
		t.Fatal(err)
	}
	code, err := waitDone(t, s)
	if code != 3 || err == nil || !strings.Contains(err.Error(), "crashed 3 times in a row") {
		t.Fatalf("status %d, %v; want 3 and a crash-loop error", code, err)
	}
	starts := readRecord(rec).starts()
	if len(starts) != 1+3 {
		t.Fatalf("want the first child and 3 crashed ones, got %+v", starts)
	}
	// Starts are spaced by the backoff, doubled for each short-lived run:
	// the stopped first run, then each crash.
	gaps := startedAt.gaps()
	if len(gaps) != 3 {
		t.Fatalf("gaps between starts: %v", gaps)
	}
	for i, want := range []time.Duration{100, 200, 400} {
		if gaps[i] < want*time.Millisecond {
			t.Errorf("start %d came %v after the one before, want at least %v", i+2, gaps[i], want*time.Millisecond)
		}
	}
}

// TestTerminatingSignalIsFinal: a restarted child that dies of a SIGTERM sent
// to the supervisor (docker stop) is not a crash to retry; and a SIGTERM
// during a pending restart cancels it.
func TestTerminatingSignalIsFinal(t *testing.T) {
	t.Run("after a restart", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		in := childInput(rec, "GEN=1")
		in.RestartBackoff = 10 * time.Millisecond
		s := startSupervisor(t, in)
		waitRecord(t, rec, "the first child", hasStarts(1))
		if err := s.Restart(envWith(in.Env, "GEN=2")); err != nil {
			t.Fatal(err)
		}
		waitRecord(t, rec, "the second child", hasStarts(2))
		unix.Kill(os.Getpid(), unix.SIGTERM)
		code, err := waitDone(t, s)
		if code != 143 || err != nil || len(readRecord(rec).starts()) != 2 {
			t.Fatalf("status %d, %v, %d starts; want 143, no error, no third start", code, err, len(readRecord(rec).starts()))
		}
	})
	t.Run("during a restart", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		in := childInput(rec, "GEN=1")
		in.RestartBackoff = 5 * time.Second // the restart waits this long after the start
		logs := &syncBuffer{b: &bytes.Buffer{}}
		in.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := startSupervisor(t, in)
		waitRecord(t, rec, "the first child", hasStarts(1))
		restarted := make(chan error, 1)
		go func() { restarted <- s.Restart(envWith(in.Env, "GEN=2")) }()
		waitFor(t, "the restart to wait for its backoff", func() bool { return strings.Contains(logs.String(), `msg="restart waits for the backoff"`) })
		unix.Kill(os.Getpid(), unix.SIGTERM)
		code, err := waitDone(t, s)
		if code != 143 || err != nil || len(readRecord(rec).starts()) != 1 {
			t.Fatalf("status %d, %v, %d starts; want 143, no error, no second start", code, err, len(readRecord(rec).starts()))
		}
		if err := <-restarted; !errors.Is(err, ErrStopped) {
			t.Fatalf("the cancelled Restart returned %v, want ErrStopped", err)
		}
	})
	t.Run("between runs", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec")
		in := childInput(rec, "GEN=1", "CRASH_IF_GEN=2")
		in.RestartBackoff = time.Second // after the crash, 2s without a child
		logs := &syncBuffer{b: &bytes.Buffer{}}
		in.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := startSupervisor(t, in)
		waitRecord(t, rec, "the first child", hasStarts(1))
		if err := s.Restart(envWith(in.Env, "GEN=2")); err != nil {
			t.Fatal(err)
		}
		waitRecord(t, rec, "the crashed child", hasStarts(2))
		waitFor(t, "the crash reaped and the next start waiting", func() bool { return strings.Contains(logs.String(), `msg="waiting before the next start"`) })
		unix.Kill(os.Getpid(), unix.SIGTERM)
		code, err := waitDone(t, s)
		if code != 143 || err != nil || len(readRecord(rec).starts()) != 2 {
			t.Fatalf("status %d, %v, %d starts; want 143, no error, no third start", code, err, len(readRecord(rec).starts()))
		}
	})
}

// TestTerminatingSignalToStoppedChild: a terminating signal forwarded to a
// child stopped by job control continues it, so that it acts on the signal
// (here: records it and dies of it) instead of waiting for a SIGCONT that
// docker stop never sends.
func TestTerminatingSignalToStoppedChild(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	in := childInput(rec)
	logs := &syncBuffer{b: &bytes.Buffer{}}
	in.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startSupervisor(t, in)
	waitRecord(t, rec, "the child to start", hasStarts(1))
	if err := unix.Kill(-s.Pid(), unix.SIGSTOP); err != nil { // its group, as job control does
		t.Fatal(err)
	}
	waitFor(t, "the supervisor to see the child stop", func() bool { return strings.Contains(logs.String(), `msg="child stopped" signal=SIGSTOP`) })
	unix.Kill(os.Getpid(), unix.SIGTERM)
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("the stopped child did not act on the forwarded SIGTERM; it has:\n%s", strings.Join(readRecord(rec).lines, "\n"))
	}
	code, err := s.Wait()
	if code != 143 || err != nil || readRecord(rec).count("SIGTERM") != 1 {
		t.Fatalf("status %d, %v; want 143 and the SIGTERM handled once:\n%s", code, err, strings.Join(readRecord(rec).lines, "\n"))
	}
}

// TestFirstRunIsNotRetried: a child started by Start that fails ends
// supervision with its status at once, as without shroud.
func TestFirstRunIsNotRetried(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	s := startSupervisor(t, childInput(rec, "GEN=2", "CRASH_IF_GEN=2"))
	code, err := waitDone(t, s)
	if code != 3 || err != nil || len(readRecord(rec).starts()) != 1 {
		t.Fatalf("status %d, %v, starts %d; want 3, no error, one start", code, err, len(readRecord(rec).starts()))
	}
}

func TestStartErrors(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		code int
	}{
		{[]string{"no-such-command-q7"}, ExitNotFound},
		{[]string{"/etc/passwd"}, ExitNotExecutable},
		{nil, ExitFailure},
	} {
		code, err := Supervise(Input{Argv: tt.argv, Env: []string{"PATH=/usr/bin:/bin"}})
		if code != tt.code || err == nil {
			t.Errorf("%v: status %d, %v; want %d", tt.argv, code, err, tt.code)
		}
	}
}

// TestStdio: Readers and Writers that are not files are copied through
// pipes; one Writer for stdout and stderr keeps their order.
func TestStdio(t *testing.T) {
	var out bytes.Buffer
	code, err := Supervise(Input{
		Argv:   []string{"sh", "-c", "cat; echo to-stderr >&2; echo to-stdout"},
		Env:    []string{"PATH=" + os.Getenv("PATH")},
		Stdin:  strings.NewReader("from-stdin\n"),
		Stdout: &out,
		Stderr: &out,
	})
	if code != 0 || err != nil || out.String() != "from-stdin\nto-stderr\nto-stdout\n" {
		t.Fatalf("status %d, %v, output %q", code, err, out.String())
	}
}

// readerFrom is a Writer that is an io.ReaderFrom, as the log pipeline's
// streams are: it records what it was given to read.
type readerFrom struct {
	mu      sync.Mutex
	out     bytes.Buffer
	readers []string // the type of each Reader given to ReadFrom
	writes  int
}

func (w *readerFrom) ReadFrom(r io.Reader) (int64, error) {
	w.mu.Lock()
	w.readers = append(w.readers, fmt.Sprintf("%T", r))
	w.mu.Unlock()
	if f, ok := r.(*os.File); ok {
		// What the log pipeline does with the pipe it is given.
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20); err != nil {
			return 0, err
		}
	}
	b, err := io.ReadAll(r)
	w.mu.Lock()
	w.out.Write(b)
	w.mu.Unlock()
	return int64(len(b)), err
}

func (w *readerFrom) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.out.Write(b)
}

// TestStdoutReaderFrom: a Writer that is an io.ReaderFrom gets the child's
// pipe itself, with no wrapper in between, once per run; the child sees the
// pipe it sized.
func TestStdoutReaderFrom(t *testing.T) {
	w := &readerFrom{}
	in := Input{
		Argv:   []string{os.Args[0]},
		Env:    []string{"SHROUD_TEST_CHILD=pipesize", "PATH=" + os.Getenv("PATH")},
		Stdout: w,
		Stderr: os.Stderr,
	}
	code, err := Supervise(in)
	if code != 0 || err != nil {
		t.Fatalf("status %d, %v", code, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if fmt.Sprint(w.readers) != "[*os.File]" || w.writes != 0 {
		t.Fatalf("ReadFrom given %v, %d Writes: want the pipe, as an *os.File, once, and no Write", w.readers, w.writes)
	}
	if got := strings.TrimSpace(w.out.String()); got != "pipe=1048576" {
		t.Fatalf("child says %q, want its stdout to be the 1 MiB pipe the ReaderFrom made", got)
	}
}

// TestStdinAcrossRestarts: a stdin Reader is read once for all runs: what
// the first run did not read goes to the next.
func TestStdinAcrossRestarts(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	var out bytes.Buffer
	outw := &syncBuffer{b: &out}
	s := startSupervisor(t, Input{
		Argv:           []string{"sh", "-c", `read line; echo "$GEN:$line"; exec sleep 100`},
		Env:            []string{"PATH=" + os.Getenv("PATH"), "GEN=1"},
		Stdin:          struct{ *os.File }{pr}, // a Reader that is not a file
		Stdout:         outw,
		RestartBackoff: 10 * time.Millisecond,
	})
	pw.WriteString("one\n")
	waitFor(t, "first line", func() bool { return strings.Contains(outw.String(), "1:one") })
	if err := s.Restart([]string{"PATH=" + os.Getenv("PATH"), "GEN=2"}); err != nil {
		t.Fatal(err)
	}
	pw.WriteString("two\n")
	waitFor(t, "second line", func() bool { return strings.Contains(outw.String(), "2:two") })
}

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func envWith(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	out := []string{kv}
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"SIGTERM": unix.SIGTERM, "TERM": unix.SIGTERM, "term": unix.SIGTERM, "sigHup": unix.SIGHUP,
		"15": unix.SIGTERM, "40": syscall.Signal(40), "SIGUSR2": unix.SIGUSR2,
	} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "SIG", "KILLME", "SIGTERM ", "ſigterm"} {
		if got, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %v, want an error", in, got)
		}
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"SIGTERM", "hup", "15", "64", "65", "+3", "SIGRTMIN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error %q does not name the input", err)
			}
			return
		}
		if sig < 1 || sig > 64 {
			t.Fatalf("ParseSignal(%q) = %d, out of range", s, sig)
		}
	})
}

func TestForwardable(t *testing.T) {
	got := map[os.Signal]bool{}
	for _, s := range forwardable() {
		got[s] = true
	}
	for _, s := range []syscall.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP, unix.SIGALRM, unix.SIGABRT, syscall.Signal(35), syscall.Signal(64)} {
		if !got[s] {
			t.Errorf("%v is not forwarded", s)
		}
	}
	for _, s := range []syscall.Signal{unix.SIGURG, unix.SIGCHLD, unix.SIGPIPE, unix.SIGKILL, unix.SIGSTOP, unix.SIGTTIN,
		unix.SIGTTOU, unix.SIGSEGV, unix.SIGPROF, syscall.Signal(32), syscall.Signal(33), syscall.Signal(34)} {
		if got[s] {
			t.Errorf("%v is forwarded", s)
		}
	}
}

// TestReapLeavesOwnChildren: while the supervisor reaps a stream of orphans
// of the child (shroud is their subreaper), processes shroud starts itself
// through os/exec (a notify command, an SDK's credential_process) keep
// their exit status for their own Wait; and every orphan is still reaped.
func TestReapLeavesOwnChildren(t *testing.T) {
	const orphans = 100
	stop := filepath.Join(t.TempDir(), "stop")
	// Each (sleep 0 &) leaves an orphan that is reparented to the test
	// process, the child's subreaper, and ends there.
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do (sleep 0 &); i=$((i+1)); done; while [ ! -e %s ]; do sleep 0.05; done`, orphans, stop)
	s := startSupervisor(t, Input{Argv: []string{"sh", "-c", script}})
	for i := range 100 {
		err := exec.Command("sh", "-c", "exit 3").Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("os/exec run %d while supervising: %v, want exit status 3", i, err)
		}
	}
	// While supervision runs, every orphan that ended is reaped. (One that
	// ends after it stopped would stay a zombie of this test process; in
	// shroud, the process ends then too.)
	waitFor(t, "no zombie children left", func() bool { return len(proctest.Zombies(os.Getpid())) == 0 })
	must.Succeed(t, os.WriteFile(stop, nil, 0o600))
	if code, err := waitDone(t, s); code != 0 || err != nil {
		t.Fatalf("child: %d %v", code, err)
	}
}
