//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunLogServerDownAtExit: the log server shroud connected to at start
// goes away, then the child writes its last line and exits 7. In the
// default blocking mode shroud must still exit, with the child's status,
// once the pipeline's close timeout (10s) has passed, saying what was lost.
func TestRunLogServerDownAtExit(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	connected := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			connected <- c
		}
	}()
	gate := filepath.Join(dir, "server-gone")
	config := write(t, dir, "shroud.toml", fmt.Sprintf(`
[log]
driver = "syslog"
options = { "syslog-address" = "tcp://%s", tag = "app" }
`, ln.Addr()))
	s := startShroud(t, nil, "run", "--config", config, "--", "sh", "-c",
		fmt.Sprintf(`while [ ! -e %q ]; do sleep 0.05; done; echo last line; exit 7`, gate))

	select {
	case c := <-connected:
		ln.Close()
		c.Close()
	case <-time.After(20 * time.Second):
		t.Fatalf("shroud did not connect to the log server; stderr:\n%s", s.stderr)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code := s.wait(t)
	took := time.Since(start)
	if code != 7 {
		t.Fatalf("exit %d, want the child's 7; stderr:\n%s", code, s.stderr)
	}
	// 10s of close timeout and 1s of output drain, with room for a loaded
	// machine: the bug this guards against has no bound.
	if took > 40*time.Second {
		t.Fatalf("shroud took %v to exit after the child", took)
	}
	if e := s.stderr.String(); !strings.Contains(e, "log delivery incomplete") || !strings.Contains(e, "not delivered: 1 message (9 bytes)") {
		t.Errorf("stderr does not say what was lost:\n%s", e)
	}
}

// TestRunOutputPipeSize: with a pipeline (masking here), the child's stdout
// is the 1 MiB pipe the pipeline reads in large chunks, not a 64 KiB one.
func TestRunOutputPipeSize(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shroud.toml", "[log]\nmask = true\n")
	r := shroud(t, dir, []string{"SHROUD_E2E_CHILD=pipesize"}, "run", "--config", "shroud.toml", "--", os.Args[0])
	if r.code != 0 || strings.TrimSpace(r.stdout) != "pipe=1048576" {
		t.Fatalf("exit %d, stdout %q, want pipe=1048576; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// pipeSizeChild is the pipesize child (see e2eChild).
func pipeSizeChild() int {
	size := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if size, err = unix.FcntlInt(1, unix.F_GETPIPE_SZ, 0); err != nil || size >= 1<<20 {
			break
		}
	}
	fmt.Printf("pipe=%d\n", size)
	return 0
}
