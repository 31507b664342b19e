//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/proctest"
)

// These tests run the real binary with --supervise over real children (this
// test binary in a child mode, see child_test.go, or sh) and send real
// signals.

// started is a shroud process the test did not wait for yet. Its stderr
// may be read while it runs.
type started struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

// lockedBuffer is a buffer one goroutine writes while another reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startShroud(t *testing.T, env []string, args ...string) *started {
	t.Helper()
	cmd := exec.Command(shroudBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=/home/test"}, env...)
	s := &started{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = s.stderr
	// A grandchild left running may hold the stderr pipe: once shroud has
	// exited, stop waiting for its end.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return s
}

func (s *started) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to shroud: %v", sig, err)
	}
}

// wait returns shroud's exit status; a shroud killed by a signal fails the
// test: it must always exit with a status.
func (s *started) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("shroud did not exit; stderr:\n%s", s.stderr)
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	ws := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		t.Fatalf("shroud itself was killed by %v; stderr:\n%s", ws.Signal(), s.stderr)
	}
	return ws.ExitStatus()
}

// childRecord is what the signals child wrote: its start line, then one
// signal name a line.
type childRecord struct {
	pid, pgid, ppid int
	signals         []string
}

func readChildRecord(path string) (childRecord, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return childRecord{}, false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var r childRecord
	if _, err := fmt.Sscanf(lines[0], "start %d %d %d", &r.pid, &r.pgid, &r.ppid); err != nil {
		return r, false
	}
	r.signals = lines[1:]
	return r, true
}

func (r childRecord) count(name string) int {
	n := 0
	for _, s := range r.signals {
		if s == name {
			n++
		}
	}
	return n
}

// awaitChild polls the record at path until ok holds. The bound is generous
// for a loaded machine; it is only reached when the test fails.
func awaitChild(t *testing.T, path, what string, ok func(childRecord) bool) childRecord {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, started := readChildRecord(path)
		if started && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(path)
			t.Fatalf("waiting for %s; %s has:\n%s", what, filepath.Base(path), data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func anyRecord(childRecord) bool { return true }

// TestSuperviseForwardsSignals: every signal shroud forwards reaches the
// child exactly once, and with --signal-group its whole process group; the
// child's death by the last one (SIGTERM) is shroud's exit status.
func TestSuperviseForwardsSignals(t *testing.T) {
	for _, group := range []bool{false, true} {
		t.Run(fmt.Sprintf("signal-group=%v", group), func(t *testing.T) {
			rec := filepath.Join(t.TempDir(), "rec")
			args := []string{"run", "--supervise"}
			if group {
				args = []string{"run", "--signal-group"} // implies --supervise
			}
			s := startShroud(t, []string{"SHROUD_E2E_CHILD=signals", "REC=" + rec, "GRANDCHILD=1"},
				append(args, "--", os.Args[0])...)
			child := awaitChild(t, rec, "the child", anyRecord)
			grand := awaitChild(t, rec+".grand", "the grandchild", anyRecord)
			t.Cleanup(func() { unix.Kill(grand.pid, unix.SIGKILL) })
			if shroud := s.cmd.Process.Pid; child.ppid != shroud || child.pgid != child.pid || child.pgid == shroud {
				t.Fatalf("child pid %d pgid %d ppid %d: want shroud (%d) as parent and a process group of its own",
					child.pid, child.pgid, child.ppid, shroud)
			}

			var sent []string
			for _, sig := range childSignals {
				if sig == unix.SIGTERM || sig == unix.SIGPIPE {
					continue // SIGTERM ends the test; SIGPIPE is never forwarded
				}
				name := signalName(sig)
				s.signal(t, sig)
				sent = append(sent, name)
				awaitChild(t, rec, name+" in the child", func(r childRecord) bool { return r.count(name) == 1 })
				if group {
					awaitChild(t, rec+".grand", name+" in the grandchild", func(r childRecord) bool { return r.count(name) == 1 })
				}
			}
			s.signal(t, unix.SIGTERM)
			if code := s.wait(t); code != 143 {
				t.Fatalf("exit %d, want 143 (the child died of SIGTERM); stderr:\n%s", code, s.stderr)
			}
			r, _ := readChildRecord(rec)
			if got, want := strings.Join(r.signals, " "), strings.Join(append(sent, "SIGTERM"), " "); got != want {
				t.Errorf("the child got\n  %s\nwant each signal once, in order:\n  %s", got, want)
			}
			g, _ := readChildRecord(rec + ".grand")
			if group && len(g.signals) != len(sent)+1 {
				t.Errorf("with --signal-group the grandchild got %v", g.signals)
			}
			if !group && len(g.signals) != 0 {
				t.Errorf("without --signal-group the grandchild got %v", g.signals)
			}
		})
	}
}

// TestSuperviseDoesNotForwardURG: SIGURG is the Go runtime's preemption
// signal; a shell child shows none arrives.
func TestSuperviseDoesNotForwardURG(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	s := startShroud(t, []string{"REC=" + rec}, "run", "--supervise", "--", "sh", "-c",
		`trap 'echo URG >> "$REC"' URG; trap 'echo WINCH >> "$REC"' WINCH; echo ready > "$REC"; while :; do sleep 0.05; done`)
	awaitLine := func(line string) {
		t.Helper()
		waitFor(t, line, func() bool {
			data, _ := os.ReadFile(rec)
			return strings.Contains(string(data), line)
		})
	}
	awaitLine("ready")
	s.signal(t, unix.SIGURG)
	// A marker behind it, with a higher number: pending signals are taken,
	// and a shell runs their traps, lowest number first, so a forwarded
	// SIGURG (23) would be recorded before SIGWINCH (28).
	s.signal(t, unix.SIGWINCH)
	awaitLine("WINCH")
	if data, _ := os.ReadFile(rec); strings.Contains(string(data), "URG") {
		t.Errorf("the child got SIGURG:\n%s", data)
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 143 {
		t.Errorf("exit %d, want 143", code)
	}
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

// TestSuperviseExitStatus: every exit code 0..255 and every death by a
// signal come back exactly from the real binary: N, and 128+N for signal N.
func TestSuperviseExitStatus(t *testing.T) {
	type tc struct {
		script string
		want   int
	}
	var cases []tc
	for code := 0; code <= 255; code++ {
		cases = append(cases, tc{fmt.Sprintf("exit %d", code), code})
	}
	// Every signal whose default action ends a process.
	fatal := []syscall.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT,
		unix.SIGBUS, unix.SIGFPE, unix.SIGKILL, unix.SIGUSR1, unix.SIGSEGV, unix.SIGUSR2, unix.SIGPIPE,
		unix.SIGALRM, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGPROF,
		unix.SIGIO, unix.SIGPWR, unix.SIGSYS}
	for n := 34; n <= 64; n++ {
		fatal = append(fatal, syscall.Signal(n))
	}
	for _, sig := range fatal {
		cases = append(cases, tc{fmt.Sprintf("ulimit -c 0; kill -%d $$", int(sig)), 128 + int(sig)})
	}

	dir := t.TempDir()
	var mu sync.Mutex
	var failures []string
	work := make(chan tc)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				cmd := exec.Command(shroudBin, "run", "--supervise", "--", "sh", "-c", c.script)
				cmd.Dir, cmd.Env = dir, []string{"PATH=" + os.Getenv("PATH")}
				out, err := cmd.CombinedOutput()
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode() // -1 if shroud itself died of a signal
				} else if err != nil {
					got = -2
				}
				if got != c.want {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("sh -c %q: exit %d, want %d %s", c.script, got, c.want, out))
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d statuses checked", len(cases))
}

// TestSuperviseChildKilled: kill -9 of the child makes shroud exit 137.
func TestSuperviseChildKilled(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	s := startShroud(t, []string{"SHROUD_E2E_CHILD=signals", "REC=" + rec}, "run", "--supervise", "--", os.Args[0])
	child := awaitChild(t, rec, "the child", anyRecord)
	if err := unix.Kill(child.pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t); code != 137 {
		t.Fatalf("exit %d, want 137; stderr:\n%s", code, s.stderr)
	}
}

// TestSupervisePID1Reaps runs shroud as PID 1 of a new PID namespace over a
// child that leaves 200 orphans: none stays a zombie. The same child as PID
// 1 without shroud shows the probe sees zombies when nobody reaps them.
func TestSupervisePID1Reaps(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is not installed: cannot make a PID namespace")
	}
	ns := func(argv ...string) (string, int) {
		cmd := exec.Command(unshare, append([]string{"--pid", "--fork", "--mount-proc"}, argv...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SHROUD_E2E_CHILD=orphans"}
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "Operation not permitted") {
			// Not a failure of shroud: the kernel refused the namespace
			// (unshare needs CAP_SYS_ADMIN, which a container's default
			// profile withholds even from root).
			t.Skipf("cannot make a PID namespace here, so shroud cannot be PID 1: unshare needs CAP_SYS_ADMIN; it said: %s", strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), code
	}

	out, _ := ns(os.Args[0], "200")
	if out != "reaper=1 orphans=200 zombies=200" {
		t.Fatalf("control without shroud: %q, want the 200 orphans left as zombies of PID 1", out)
	}
	out, code := ns(shroudBin, "run", "--supervise", "--", os.Args[0], "200")
	if code != 0 || out != "reaper=1 orphans=200 zombies=0" {
		t.Fatalf("shroud as PID 1: exit %d, %q; want 200 orphans of PID 1 and no zombie", code, out)
	}
}

// TestSuperviseSubreaper: outside a PID namespace shroud is the child
// subreaper: the child's orphans become shroud's, and shroud reaps them.
func TestSuperviseSubreaper(t *testing.T) {
	var out bytes.Buffer
	cmd := exec.Command(shroudBin, "run", "--supervise", "--", os.Args[0], "50")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SHROUD_E2E_CHILD=orphans"}
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("reaper=%d orphans=50 zombies=0\n", cmd.Process.Pid)
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// TestSuperviseOwnBrokenPipe: shroud writes its diagnostics to a stderr
// whose reader is gone, which raises SIGPIPE in shroud at each line; a kill
// -PIPE comes on top. None reaches the child, and shroud lives on to report
// the child's status.
func TestSuperviseOwnBrokenPipe(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shroudBin, "--log-level", "debug", "run", "--supervise", "--", os.Args[0])
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SHROUD_E2E_CHILD=signals", "REC=" + rec}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s := &started{cmd: cmd, stderr: &lockedBuffer{}}
	awaitChild(t, rec, "the child", anyRecord)
	r.Close() // every line shroud writes from now on meets a broken pipe
	for _, sig := range []syscall.Signal{unix.SIGUSR1, unix.SIGHUP, unix.SIGPIPE, unix.SIGUSR2} {
		s.signal(t, sig) // each forwarded one is logged at debug level
	}
	awaitChild(t, rec, "SIGUSR2", func(r childRecord) bool { return r.count("SIGUSR2") == 1 })
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 143 {
		t.Fatalf("exit %d, want 143", code)
	}
	// Signals sent at once may arrive in any order.
	got, _ := readChildRecord(rec)
	slices.Sort(got.signals)
	if strings.Join(got.signals, " ") != "SIGHUP SIGTERM SIGUSR1 SIGUSR2" {
		t.Fatalf("the child got %v, want SIGUSR1, SIGHUP, SIGUSR2, SIGTERM once each and no SIGPIPE", got.signals)
	}
}

// TestSuperviseRunLocalExample: a supervised child gets the same secrets as
// on the fast path, with shroud as its parent instead of its own PID.
func TestSuperviseRunLocalExample(t *testing.T) {
	dir := localExample(t)
	r := shroud(t, dir, nil, "run", "--supervise", "--config", "shroud.toml", "--",
		"sh", "-c", `test "$DB_PASSWORD" = canary-db-pw-7Hq2xT && echo "$DB_USER $PPID $$"`)
	f := strings.Fields(r.stdout)
	if r.code != 0 || len(f) != 3 || f[0] != "app" || f[1] != strconv.Itoa(r.pid) || f[2] == strconv.Itoa(r.pid) {
		t.Fatalf("exit %d stdout %q (shroud %d) stderr %q", r.code, r.stdout, r.pid, r.stderr)
	}
	noCanary(t, "stderr", r.stderr)
	// Start failures keep their statuses.
	if r := shroud(t, dir, nil, "run", "--supervise", "--", "no-such-command-q7"); r.code != 127 || !strings.Contains(r.stderr, "command not found") {
		t.Errorf("not found: exit %d stderr %q", r.code, r.stderr)
	}
}

// TestPID1SupervisesByDefault: as PID 1 (a container's entrypoint), shroud
// run supervises without being asked: sleep, which has no handler for
// SIGTERM and would ignore it as PID 1, gets the SIGTERM shroud forwards
// and shroud exits 143 at once. With --exec, the fast path makes sleep PID
// 1 and the same SIGTERM does nothing: the control that shows the test can
// fail.
func TestPID1SupervisesByDefault(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is not installed: cannot make a PID namespace")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (code int, took time.Duration, out string) {
		argv := append([]string{"--pid", "--fork", "--mount-proc", shroudBin, "run"}, extra...)
		cmd := exec.Command(unshare, append(argv, "--", sleep, "60")...)
		outFile, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer outFile.Close()
		cmd.Stdout, cmd.Stderr = outFile, outFile // a file: no copying goroutine to race with
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		output := func() string { data, _ := os.ReadFile(outFile.Name()); return string(data) }
		defer cmd.Process.Kill()
		// PID 1 of the namespace is unshare's child; wait until its child,
		// sleep, runs (or, with --exec, until it is sleep itself).
		pid1 := 0
		deadline := time.Now().Add(10 * time.Second)
		for ; ; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no sleep started: %s", output())
			}
			if out := output(); strings.Contains(out, "Operation not permitted") {
				t.Skipf("cannot make a PID namespace here (needs root or CAP_SYS_ADMIN): %s", out)
			}
			kids := proctest.Children(cmd.Process.Pid)
			if len(kids) != 1 {
				continue
			}
			pid1 = kids[0].PID
			isSleep := func(p proctest.Proc) bool { return p.Comm == "sleep" }
			if isSleep(kids[0]) || slices.ContainsFunc(proctest.Children(pid1), isSleep) {
				break
			}
		}
		start := time.Now()
		syscall.Kill(pid1, syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode(), time.Since(start), output()
			}
			return 0, time.Since(start), output()
		case <-time.After(2 * time.Second):
			syscall.Kill(pid1, syscall.SIGKILL) // the namespace ends with its PID 1
			<-done
			return -1, time.Since(start), output()
		}
	}
	if code, took, out := run(); code != 143 || took > time.Second {
		t.Fatalf("shroud as PID 1: exit %d after %v, want 143 within 1s\n%s", code, took.Round(time.Millisecond), out)
	}
	if code, _, _ := run("--exec"); code != -1 {
		t.Fatalf("with --exec, sleep as PID 1 ended on SIGTERM (exit %d): the control cannot tell supervision apart", code)
	}
}
