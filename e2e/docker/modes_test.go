package docker

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stalledSyslog is a TCP syslog server that reads nothing until released,
// with a small receive buffer, so that a sender soon waits for it.
type stalledSyslog struct {
	addr     string
	release  chan struct{}
	messages atomic.Int64
}

func startStalledSyslog(t *testing.T) *stalledSyslog {
	s := &stalledSyslog{release: make(chan struct{})}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = "tcp://" + l.Addr().String()
	serve(t, l, func(c net.Conn) {
		<-s.release
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.messages.Add(1)
		}
	})
	return s
}

// modeLines is how many lines of 1000 bytes the child writes: 16 MB, more
// than pipes, buffers and socket buffers hold together.
const modeLines = 16384

// modeScript writes modeLines lines, then creates the file $DONE.
const modeScript = `yes "$(head -c 1000 /dev/zero | tr '\0' a)" | head -n ` + "16384" + `; touch "$DONE"`

// TestModesAsDocker sends to a syslog server that does not read: with
// mode=blocking (the default) the child waits for it, and every line
// arrives once it reads; with mode=non-blocking the child does not wait,
// and what does not fit in max-buffer-size is dropped. As in Docker.
func TestModesAsDocker(t *testing.T) {
	requireDocker(t)
	if !strings.Contains(modeScript, strconv.Itoa(modeLines)) {
		t.Fatal("modeScript does not write modeLines lines")
	}
	for _, mode := range []string{"blocking", "non-blocking"} {
		t.Run(mode, func(t *testing.T) {
			opts := []opt{{"mode", mode}}
			if mode == "non-blocking" {
				opts = append(opts, opt{"max-buffer-size", "1m"})
			}
			tb := newTable(t, "mode="+mode)
			type result struct {
				waited   bool
				received int64
			}
			run := func(side string) result {
				srv := startStalledSyslog(t)
				dir := t.TempDir()
				os.Chmod(dir, 0o777)
				all := append([]opt{{"syslog-address", srv.addr}}, opts...)
				var wait func()
				if side == "Docker" {
					id := startDocker(t, containerName(t), "syslog", all, []string{"DONE=/done/flag"}, modeScript, "-v", dir+":/done")
					wait = func() { mustDocker(t, "wait", id) }
				} else {
					cmd, stderr := shroudCmd(t, "syslog", all, []string{"DONE=" + filepath.Join(dir, "flag")}, modeScript)
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					wait = func() {
						err := cmd.Wait()
						if err != nil {
							t.Errorf("shroud run: %v\n%s", err, stderr)
						}
						if dropped := strings.Contains(stderr.String(), "dropped"); dropped != (mode == "non-blocking") {
							t.Errorf("shroud's diagnostics say dropped: %v, want %v:\n%s", dropped, !dropped, stderr)
						}
					}
				}
				// The child is done within 3 s unless it waits for the server.
				done := waitForFile(filepath.Join(dir, "flag"), 3*time.Second)
				close(srv.release)
				wait()
				if !done && !waitForFile(filepath.Join(dir, "flag"), 20*time.Second) {
					t.Errorf("%s: the child did not finish once the server read", side)
				}
				// What is sent arrives within moments of the end.
				for last := int64(-1); last != srv.messages.Load(); time.Sleep(300 * time.Millisecond) {
					last = srv.messages.Load()
				}
				return result{waited: !done, received: srv.messages.Load()}
			}
			d, s := run("Docker"), run("shroud")
			tb.same("the child waits for a server that does not read", d.waited, s.waited)
			tb.same("every line arrives", d.received == modeLines, s.received == modeLines)
			if (mode == "blocking") != d.waited || (mode == "blocking") != (d.received == modeLines) || d.received == 0 {
				t.Errorf("Docker: waited %v, %d of %d lines arrived", d.waited, d.received, modeLines)
			}
			tb.row("lines that arrive", d.received, s.received, "what the buffers held; varies from run to run")
		})
	}
}

// waitForFile reports whether path exists within d.
func waitForFile(path string, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
