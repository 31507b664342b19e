//go:build linux

package child

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChildDiesWithSupervisor kills a supervisor with SIGKILL: its child
// must not run on unsupervised. The child is started from a goroutine whose
// OS thread then ends, as a parent-death signal tied to that thread would
// kill the child early.
func TestChildDiesWithSupervisor(t *testing.T) {
	h := startHelper(t, os.Args[0], []string{"/bin/sleep", "60"}, nil, "START_ON_DYING_THREAD=1")
	child := h.childPid(t)
	if state := waitState(t, child, 300*time.Millisecond, "Z", "gone"); state == "Z" || state == "gone" {
		t.Fatalf("the child died while its supervisor runs (state %s)", state)
	}
	h.cmd.Process.Signal(unix.SIGKILL)
	<-h.done
	h.done <- nil
	if state := waitState(t, child, time.Second, "Z", "gone"); state != "Z" && state != "gone" {
		unix.Kill(child, unix.SIGKILL)
		t.Fatalf("the child runs on 1 s after its supervisor was killed (state %s)", state)
	}
}
