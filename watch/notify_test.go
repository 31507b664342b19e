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
	"sync"
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

// lockedWriter serializes writes from the notifier's goroutine.
// logBuffer keeps a logger's output; the code under test writes it while
// the test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
