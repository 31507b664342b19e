//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunRefusesUnboundedInputs: a config or task definition that is a
// device, a FIFO, too large or nested without end fails before the child
// starts, with status 125, an error naming the file, and bounded memory:
// before, /dev/zero grew memory without end, a FIFO waited for a writer
// and two million brackets overflowed the stack (exit 2).
func TestRunRefusesUnboundedInputs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("[", 2_000_000) + strings.Repeat("]", 2_000_000)
	big := write(t, dir, "big.toml", "# "+strings.Repeat("x", 4<<20)+"\n")
	deepTOML := write(t, dir, "deep.toml", "x = "+deep+"\n")
	deepJSON := write(t, dir, "deep.json", `{"containerDefinitions": `+deep+"}")
	// os/exec starts shroud by vfork: its peak RSS starts at the test
	// binary's (much larger under -race). What counts is what shroud adds
	// to shroud version, started the same way.
	_, base := shroudRSS(t, dir, "version")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", "/dev/zero"}, "reading config: /dev/zero is not a regular file (a character device)"},
		{[]string{"--ecs-task-definition", "/dev/zero"}, "reading ECS task definition: /dev/zero is not a regular file (a character device)"},
		{[]string{"--config", fifo}, "reading config: " + fifo + " is not a regular file (a FIFO)"},
		{[]string{"--ecs-task-definition", fifo}, "reading ECS task definition: " + fifo + " is not a regular file (a FIFO)"},
		{[]string{"--config", big}, "reading config: " + big + " is larger than 4 MiB"},
		{[]string{"--config", deepTOML}, deepTOML + ": line 1 nests deeper than 64 levels"},
		{[]string{"--ecs-task-definition", deepJSON}, deepJSON + ": not an ECS task definition: line 1 nests deeper than 64 levels"},
	} {
		args := append(append([]string{"run"}, c.args...), "--", "touch", filepath.Join(dir, "ran"))
		r, rss := shroudRSS(t, dir, args...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 125 and %q", c.args, r.code, r.stderr, c.want)
		}
		if rss-base > 64<<20 {
			t.Errorf("%v: peak RSS %d MiB, %d MiB over shroud version", c.args, rss>>20, (rss-base)>>20)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran")
	}
}

// shroudRSS runs shroud as shroud() does, with a bound on time, and
// returns its peak RSS in bytes.
func shroudRSS(t *testing.T, dir string, args ...string) (result, int64) {
	t.Helper()
	cmd := exec.Command(shroudBin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/home/test", "AWS_EC2_METADATA_DISABLED=true"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	r.code = ws.ExitStatus()
	if ws.Signaled() {
		r.code, r.signal = -1, ws.Signal()
	}
	return r, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// TestRotateDeepTOMLKeepsSupervising: a file: source rewritten during a
// watched rotation as a TOML document two million levels deep is a failed
// refresh, logged with the file: the child keeps running, supervised, with
// its last good file; signals are still forwarded; the next good rotation
// goes through. Before, the parser overflowed the stack and took shroud
// down, leaving the child without supervision or rotation.
func TestRotateDeepTOMLKeepsSupervising(t *testing.T) {
	dir := t.TempDir()
	c := rotCanaries
	src := write(t, dir, "src/secrets.toml", "password = \""+c[0]+"\"\n")
	write(t, dir, "shroud.toml", `
[rotation]
interval = "0"          # file: sources are watched

[[files]]
path = "out/password"
value_from = "file:src/secrets.toml#password"
`)
	rec := filepath.Join(dir, "rec")
	out := filepath.Join(dir, "out", "password")
	addr := freeAddr(t)
	s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + out},
		"run", "--listen", addr, "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
	awaitRec(t, rec, "the child", atLeast("start ", 1))
	awaitListener(t, addr)

	deep := strings.Repeat("[", 2_000_000) + strings.Repeat("]", 2_000_000)
	replaceFile(t, src, "password = \""+c[1]+"\"\nx = "+deep+"\n")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := get(t, "GET", addr, "/metrics")
		if metric(body, `shroud_refreshes_total{result="failed"}`) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed refresh; shroud exited: %v; stderr:\n%s", s.cmd.ProcessState, s.stderr)
		}
	}
	s.signal(t, unix.SIGUSR1)
	lines := awaitRec(t, rec, "SIGUSR1 forwarded after the failed refresh", atLeast("SIGUSR1", 1))
	if !has("SIGUSR1 " + c[0])(lines) {
		t.Fatalf("the child lost its last good file:\n%s", strings.Join(lines, "\n"))
	}

	replaceFile(t, src, "password = \""+c[2]+"\"\n")
	lines = awaitRec(t, rec, "SIGHUP after a good rotation", atLeast("SIGHUP", 1))
	if !has("SIGHUP "+c[2])(lines) || count(lines, "start ") != 1 {
		t.Fatalf("after the good rotation:\n%s", strings.Join(lines, "\n"))
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d (the child exits 0 on SIGTERM)", code)
	}
	stderr := s.stderr.String()
	if !strings.Contains(stderr, "refresh failed") || !strings.Contains(stderr, `file:src/secrets.toml#password`) ||
		!strings.Contains(stderr, "line 2 nests deeper than 64 levels") {
		t.Errorf("the failed refresh is not logged with its file:\n%s", stderr)
	}
	noRotCanary(t, "shroud's log", stderr)
}
