//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pty is a pseudo-terminal: the test types on master what a user would
// type; the processes under test have the slave as their terminal.
type pty struct {
	master, slave *os.File
	mu            sync.Mutex
	out           strings.Builder // everything written to the terminal
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, slave: s}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close(); s.Close() })
	return p
}

func (p *pty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// await waits until the terminal shows text.
func (p *pty) await(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", text, p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// type_ writes keys to the terminal as a user typing them.
func (p *pty) type_(t *testing.T, keys string) {
	t.Helper()
	if _, err := p.master.WriteString(keys); err != nil {
		t.Fatal(err)
	}
}

// foreground is the terminal's foreground process group.
func (p *pty) foreground(t *testing.T) int {
	t.Helper()
	pgrp, err := unix.IoctlGetInt(int(p.master.Fd()), unix.TIOCGPGRP)
	if err != nil {
		t.Fatal(err)
	}
	return pgrp
}

// startInTerminal starts argv as the leader of a new session whose
// controlling terminal is the pty, in its foreground, as a login shell is.
func (p *pty) startInTerminal(t *testing.T, env []string, argv ...string) *os.Process {
	t.Helper()
	proc, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Env:   append([]string{"PATH=" + os.Getenv("PATH")}, env...),
		Files: []*os.File{p.slave, p.slave, p.slave},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Kill(); proc.Wait() })
	return proc
}

// TestSuperviseTerminalCtrlC: on a terminal, the child is the foreground
// process group, so Ctrl-C interrupts it once (the kernel's SIGINT to the
// child's group, nothing forwarded on top) and shroud exits 130; then the
// terminal's foreground is shroud's group again, so the shell script after
// it owns the terminal.
func TestSuperviseTerminalCtrlC(t *testing.T) {
	p := openPTY(t)
	script := `"$SHROUD" run --supervise -- "$CHILD"; echo "shroud-exit=$?"; SHROUD_E2E_CHILD=fgcheck "$CHILD"`
	sh := p.startInTerminal(t, []string{"SHROUD=" + shroudBin, "CHILD=" + os.Args[0], "SHROUD_E2E_CHILD=terminal"},
		"/bin/sh", "-c", script)
	p.await(t, "ready")
	if !strings.Contains(p.output(), "fg=true") {
		t.Fatalf("the child is not the terminal's foreground group:\n%s", p.output())
	}
	p.type_(t, "\x03") // Ctrl-C
	p.await(t, "restored=")
	sh.Wait()
	out := p.output()
	for _, want := range []string{"sigint=1\r\n", "shroud-exit=130\r\n", "restored=true\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal lacks %q:\n%s", want, out)
		}
	}
}

// TestSuperviseTerminalJobControl: Ctrl-Z stops the child, and shroud stops
// with it, giving the terminal back, so the shell sees the job stop; when
// the shell continues shroud in the foreground (fg), the child gets the
// terminal back and continues.
func TestSuperviseTerminalJobControl(t *testing.T) {
	p := openPTY(t)
	// The test is the shell: shroud leads the session, in the foreground.
	shroud := p.startInTerminal(t, []string{"SHROUD_E2E_CHILD=jobs"}, shroudBin, "run", "--supervise", "--", os.Args[0])
	p.await(t, "ready fg=true")

	p.type_(t, "\x1a") // Ctrl-Z
	if ws := waitPid(t, shroud.Pid, unix.WUNTRACED); !ws.Stopped() {
		t.Fatalf("shroud did not stop with its child: status %#x", uint32(ws))
	}
	if fg := p.foreground(t); fg != shroud.Pid {
		t.Fatalf("after Ctrl-Z the foreground group is %d, want shroud's (%d)", fg, shroud.Pid)
	}

	// fg: the terminal is already shroud's group's; continue it.
	unix.Kill(shroud.Pid, unix.SIGCONT)
	p.await(t, "cont fg=true")
	p.type_(t, "typed\n")
	p.await(t, `read "typed"`)

	p.type_(t, "\x03")
	if ws := waitPid(t, shroud.Pid, 0); !ws.Exited() || ws.ExitStatus() != 130 {
		t.Fatalf("shroud: status %#x, want exit 130", uint32(ws))
	}
}

// waitPid waits for a change of state of pid, polling so that a process
// that never changes fails the test instead of hanging it.
func waitPid(t *testing.T, pid, options int) unix.WaitStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, options|unix.WNOHANG, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got == pid {
			return ws
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not change state", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSuperviseInteractiveShell drives a real interactive bash on the
// terminal as a user would: run the child under shroud, Ctrl-Z, fg, type a
// line to it, Ctrl-C; bash reports the job stopped, the child reads the
// line in the foreground, and $? is 130.
func TestSuperviseInteractiveShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	p := openPTY(t)
	sh := p.startInTerminal(t, []string{"PS1=$ ", "SHROUD=" + shroudBin, "CHILD=" + os.Args[0], "TERM=dumb"},
		bash, "--norc", "--noprofile", "-i")
	p.await(t, "$ ")
	p.type_(t, `SHROUD_E2E_CHILD=jobs "$SHROUD" run --supervise -- "$CHILD"`+"\n")
	p.await(t, "ready fg=true")
	p.type_(t, "\x1a") // Ctrl-Z
	p.await(t, "Stopped")
	p.type_(t, "fg\n")
	p.await(t, "cont fg=true")
	p.type_(t, "typed\n")
	p.await(t, `read "typed"`)
	p.type_(t, "\x03") // Ctrl-C
	p.type_(t, "echo status=$?\n")
	p.await(t, "status=130")
	p.type_(t, "exit\n")
	sh.Wait()
}
