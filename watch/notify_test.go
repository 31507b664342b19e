package watch

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParsePid(t *testing.T) {
	for in, want := range map[string]int{"42\n": 42, " 4194304 ": 4194304, "77": 77} {
		if got, err := parsePid("app.pid", []byte(in)); err != nil || got != want {
			t.Errorf("parsePid(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1", "0", "-5", "4194305", "12 13", "0x10", "pid"} {
		if _, err := parsePid("app.pid", []byte(in)); err == nil {
			t.Errorf("parsePid(%q) accepted", in)
		}
	}
}

// FuzzParsePid: a pidfile is another program's output; whatever it holds,
// shroud signals only a plausible pid above 1.
func FuzzParsePid(f *testing.F) {
	for _, s := range []string{"42\n", "1", "", "-1", "999999999999", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pid, err := parsePid("app.pid", data)
		if err != nil {
			if pid != 0 {
				t.Fatal("a pid with an error")
			}
			return
		}
		if pid <= 1 || pid > 1<<22 {
			t.Fatalf("accepted pid %d from %q", pid, data)
		}
	})
}

// TestAppNotifier notifies an application in every way at once: its
// --notify-signal (not the rotation's) by pidfile, a POST naming the event
// (never a value) and a command; the log names the signal actually sent.
func TestAppNotifier(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	app := exec.Command("sh", "-c", `trap 'echo USR1 >> "$REC"' USR1; trap 'echo HUP >> "$REC"' HUP; echo start >> "$REC"; while :; do sleep 0.05; done`)
	app.Env = append(os.Environ(), "REC="+rec)
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { app.Process.Kill(); app.Wait() }()
	pidfile := filepath.Join(dir, "app.pid")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(app.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	posts := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posts <- r.Method + " " + r.Header.Get("User-Agent") + " " + string(body)
	}))
	defer srv.Close()
	logs := &logBuffer{}
	events := &recorder{}
	n, err := NewAppNotifier(AppOptions{Signal: syscall.SIGUSR1, DefaultSignal: syscall.SIGHUP, Pidfile: pidfile,
		URL: srv.URL + "/-/reload?token=" + canary, Command: `echo "$SHROUD_EVENT" >> ` + filepath.Join(dir, "cmd"),
		UserAgent: "shroud/test", Events: events, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string { data, _ := os.ReadFile(filepath.Join(dir, name)); return string(data) }
	await := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	await("the application", func() bool { return read("rec") == "start\n" })
	if err := n.Signal(syscall.SIGHUP); err != nil { // the loop passes its rotation signal
		t.Fatal(err)
	}
	select {
	case p := <-posts:
		if !strings.HasPrefix(p, `POST shroud/test {"event":"secrets_changed","time":"`) {
			t.Errorf("POST = %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no POST")
	}
	await("the signal", func() bool { return read("rec") == "start\nUSR1\n" })
	await("the command", func() bool { return read("cmd") == "secrets_changed\n" })
	await("three notifications counted", func() bool {
		events.mu.Lock()
		defer events.mu.Unlock()
		return len(events.notified) == 3
	})
	out := logs.String()
	if !strings.Contains(out, "signal=SIGUSR1") || strings.Contains(out, "SIGHUP") || strings.Contains(out, canary) {
		t.Errorf("log does not name the signal sent, or shows the URL's token:\n%s", out)
	}
}

// TestNotifyProcessMasterOnly: --notify-process signals the master of a
// server that forks workers under its own name, not the workers (which
// nginx's ignore, logging "ignoring"), and logs the signal it sent.
func TestNotifyProcessMasterOnly(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	// A name of its own: the kernel keeps 15 bytes of it; forked
	// subshells keep it, as nginx's workers keep nginx.
	name := "master" + strconv.Itoa(os.Getpid()%100000)
	script := `#!/bin/sh
worker() { trap 'echo "worker $1 HUP" >> "$REC"' HUP; echo "worker $1" >> "$REC"; while :; do sleep 0.05; done; }
trap 'echo "master HUP" >> "$REC"' HUP
trap 'kill $w1 $w2; exit 0' TERM
worker 1 & w1=$!
worker 2 & w2=$!
echo master >> "$REC"
while :; do sleep 0.05; done
`
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	app := exec.Command(filepath.Join(dir, name))
	app.Env = append(os.Environ(), "REC="+rec)
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { app.Process.Signal(syscall.SIGTERM); app.Wait() }()
	lines := func() []string {
		data, _ := os.ReadFile(rec)
		return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
	}
	await := func(what string, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(lines()) < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %q", what, lines())
			}
		}
	}
	await("the master and two workers", 3)
	if pids := findProcesses(name); len(pids) != 1 || pids[0] != app.Process.Pid {
		t.Fatalf("findProcesses(%q) = %v, want the master %d only", name, pids, app.Process.Pid)
	}
	logs := &logBuffer{}
	n, err := NewAppNotifier(AppOptions{Signal: syscall.SIGHUP, Process: name, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Signal(syscall.SIGUSR1); err != nil { // --notify-signal wins over the loop's signal
		t.Fatal(err)
	}
	await("the master's HUP", 4)
	time.Sleep(200 * time.Millisecond) // a worker's HUP would show by now
	if got := strings.Join(lines(), " "); strings.Contains(got, "worker_1_HUP") || strings.Contains(got, "worker_2_HUP") || !strings.Contains(got, "master_HUP") {
		t.Errorf("signalled: %s", got)
	}
	out := logs.String()
	if want := "signal=SIGHUP pid=" + strconv.Itoa(app.Process.Pid); !strings.Contains(out, want) || strings.Count(out, "notified") != 1 {
		t.Errorf("log does not say the signal sent once, %s:\n%s", want, out)
	}
}

func TestStatParent(t *testing.T) {
	for stat, want := range map[string]int{
		"42 (nginx) S 1 42 42 0 -1":       1,
		"43 (nginx: worker) S 42 42 42 0": 42,
		"44 (a) b (c) R 7 44 44 0":        7,
		"45 ()) S 12 45":                  12,
		"46 (x\ny) S 3 46":                3,
	} {
		if got, ok := statParent([]byte(stat)); !ok || got != want {
			t.Errorf("statParent(%q) = %d, %v; want %d", stat, got, ok, want)
		}
	}
	for _, stat := range []string{"", "47 (x) S", "48 (x) S pid", "49 x S 1"} {
		if got, ok := statParent([]byte(stat)); ok {
			t.Errorf("statParent(%q) = %d, want no parent", stat, got)
		}
	}
}

// FuzzStatParent: /proc/PID/stat holds a command name any process may set
// (spaces and parentheses included); whatever it holds, the parent is the
// field after the state that follows the last ")", or nothing.
func FuzzStatParent(f *testing.F) {
	for _, s := range []string{"42 (nginx) S 1 42", "44 (a) b (c) R 7 44", "", ")", "1 () S -1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stat []byte) {
		ppid, ok := statParent(stat)
		if !ok {
			return
		}
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		fields := strings.Fields(string(rest))
		if len(fields) < 2 || fields[1] == "" {
			t.Fatalf("statParent(%q) = %d from fields %q", stat, ppid, fields)
		}
		if n, err := strconv.Atoi(fields[1]); err != nil || n != ppid {
			t.Fatalf("statParent(%q) = %d, the field after the state is %q", stat, ppid, fields[1])
		}
	})
}
