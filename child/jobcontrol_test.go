//go:build linux

package child

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestJobControlWithoutTerminal has a child stop itself with SIGTSTP where
// there is no controlling terminal (a new session, stdin /dev/null): the
// supervisor must not stop too, and must still forward SIGTERM and exit with
// the child's status.
func TestJobControlWithoutTerminal(t *testing.T) {
	h := startHelper(t, os.Args[0], []string{"/bin/sh", "-c", "kill -TSTP $$; echo resumed"}, &syscall.SysProcAttr{Setsid: true})
	child := h.childPid(t)
	if state := waitState(t, child, 5*time.Second, "T"); state != "T" {
		t.Fatalf("the child did not stop (state %s)", state)
	}
	logged := func(line string) bool { return strings.Contains(h.stderr(), line) }
	waitFor(t, "the supervisor to see the child stop", func() bool { return logged(`msg="child stopped" signal=SIGTSTP`) })
	// A supervisor that stopped itself forwards nothing: SIGWINCH (ignored
	// by the child once it runs) is answered only by one still running.
	h.cmd.Process.Signal(unix.SIGWINCH)
	for deadline := time.Now().Add(10 * time.Second); !logged(`msg="forwarding signal" signal=SIGWINCH`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			state := procState(h.cmd.Process.Pid)
			h.cmd.Process.Signal(unix.SIGCONT)
			t.Fatalf("the supervisor did not forward a signal after the child stopped (state %s): it stopped itself without a terminal", state)
		}
	}
	h.cmd.Process.Signal(unix.SIGTERM)
	select {
	case err := <-h.done:
		h.done <- err
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(unix.SIGTERM) {
			t.Fatalf("the supervisor ended with %v, want status 143; stderr: %s", err, h.stderr())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the supervisor did not end 5 s after SIGTERM (state %s)", procState(h.cmd.Process.Pid))
	}
}
