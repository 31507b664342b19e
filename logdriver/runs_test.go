package logdriver

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pipeRun is one run's stdout as the supervisor gives it to a pipeline: a
// real pipe whose read end goes to ReadFrom of the stream. The test holds
// the write end, as a run's process (or a grandchild it left) does.
type pipeRun struct {
	w      *os.File
	copied chan error
}

func startPipeRun(t *testing.T, stream io.Writer) *pipeRun {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &pipeRun{w: pw, copied: make(chan error, 1)}
	go func() {
		_, err := stream.(io.ReaderFrom).ReadFrom(pr)
		pr.Close()
		r.copied <- err
	}()
	t.Cleanup(func() { pw.Close() })
	return r
}

func (r *pipeRun) write(t *testing.T, s string) {
	t.Helper()
	if _, err := r.w.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// end closes the write end and waits until the pipeline has read the
// run's output to its end.
func (r *pipeRun) end(t *testing.T) {
	t.Helper()
	r.w.Close()
	select {
	case err := <-r.copied:
		if err != nil {
			t.Fatalf("ReadFrom: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFrom did not return at end of file")
	}
}

// TestMaskingStatePerRun is a restart without --signal-group: the new run
// prints a secret in two writes, and between them a grandchild of the old
// run, which kept the old pipe, exits. The end of the old pipe must not
// send out the start of the secret that the new run's stream held back:
// each run's pipe is masked on its own.
func TestMaskingStatePerRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app-json.log")
	ti := newTestInput(JSONFile, map[string]string{"path": path})
	ti.Mask, ti.MaskValues = true, [][]byte{[]byte(MaskCanary)}
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	old := startPipeRun(t, p.Stdout())
	old.write(t, "old run\ngrandchild still here")
	waitFor(t, "the old run's line", func() bool { return strings.Contains(ti.stdout.String(), "old run\n") })

	cur := startPipeRun(t, p.Stdout())
	split := len(MaskCanary) / 2
	cur.write(t, "new run\npassword="+MaskCanary[:split])
	waitFor(t, "the new run's line", func() bool { return strings.Contains(ti.stdout.String(), "new run\n") })
	old.end(t) // the grandchild exits: the old pipe is at its end
	cur.write(t, MaskCanary[split:]+" done\n")
	cur.end(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	var logged []string
	for _, e := range readJSONLog(t, path) {
		logged = append(logged, e.Log)
	}
	NoMaskCanary(t, "tee", ti.stdout.String())
	NoMaskCanary(t, "json-file", strings.Join(logged, ""))
	// Each run's lines stay whole: the old run's unfinished line is its
	// own (a partial message at its end), not the start of the new run's.
	want := []string{"old run\n", "new run\n", "grandchild still here", "password=***** done\n"}
	if strings.Join(logged, "|") != strings.Join(want, "|") {
		t.Errorf("logged %q, want %q", logged, want)
	}
}

// TestBrokenTeePassedOn runs yes with its output teed to a pipe whose
// reader reads one line and closes, as in shroud run -- yes | head -1: yes
// must get its broken pipe (SIGPIPE, or EPIPE) as it would without shroud,
// and the driver keeps what was read before.
func TestBrokenTeePassedOn(t *testing.T) {
	for _, driver := range []string{None, JSONFile} {
		t.Run(driver, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app-json.log")
			var opts map[string]string
			if driver == JSONFile {
				opts = map[string]string{"path": path}
			}
			ti := newTestInput(driver, opts)
			ti.Tee, ti.Mask, ti.MaskValues = true, true, [][]byte{[]byte(MaskCanary)}
			headIn, teeOut, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer teeOut.Close()
			ti.Stdout = teeOut
			ti.Logger = slog.New(slog.NewTextHandler(ti.diag, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p, err := New(ti.Input)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("yes")
			cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// head -1: one read, then the reader is gone.
			buf := make([]byte, 2)
			if _, err := io.ReadFull(headIn, buf); err != nil || string(buf) != "y\n" {
				t.Fatalf("read %q, %v", buf, err)
			}
			headIn.Close()

			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err = <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatal("yes was still running 10s after its stdout's reader went away")
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("yes ended with %v, want a broken pipe", err)
			}
			if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() != syscall.SIGPIPE {
				t.Fatalf("yes ended by %v, want SIGPIPE", ws.Signal())
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(ti.diag.String(), "broken pipe") {
				t.Errorf("diagnostics do not say the tee's pipe broke:\n%s", ti.diag.String())
			}
			if driver == JSONFile {
				entries := readJSONLog(t, path)
				if len(entries) == 0 || entries[0].Log != "y\n" {
					t.Errorf("the driver got %d entries, want the lines read before the pipe broke", len(entries))
				}
			}
		})
	}
}

// TestShortValuesWarned checks that New says, once and without them, how
// many secret values are too short to be masked; and that the derived
// forms of the config and those added later are masked.
func TestShortValuesWarned(t *testing.T) {
	ti := newTestInput(None, nil)
	ti.Mask = true
	ti.MaskValues = [][]byte{[]byte("5432\n"), []byte("true"), []byte("5432"), []byte(MaskCanary), []byte(`{"port":"5432","password":"` + MaskCanaryOld + `"}`)}
	ti.MaskForms = [][]byte{[]byte("url=https://h/?p=" + MaskCanary[:10])}
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	diag := ti.diag.String()
	if strings.Count(diag, "level=WARN") != 1 || !strings.Contains(diag, "shorter than mask_min_length") || !strings.Contains(diag, "values=2") || !strings.Contains(diag, "mask_min_length=6") {
		t.Errorf("want one warning counting 2 short values (5432 and true):\n%s", diag)
	}
	for _, v := range []string{"5432", "true"} {
		if strings.Contains(diag, v) {
			t.Errorf("the warning shows the value %q:\n%s", v, diag)
		}
	}
	p.AddMaskForms([][]byte{[]byte("Basic " + MaskCanaryOld[:8] + "==")})
	runChild(t, p, `echo "url=https://h/?p=`+MaskCanary[:10]+`"; echo "Authorization: Basic `+MaskCanaryOld[:8]+`=="`)
	if got, want := ti.stdout.String(), "*****\nAuthorization: *****\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}

	ti = newTestInput(None, nil) // masking off: nothing to warn about
	ti.MaskValues = [][]byte{[]byte("5432")}
	if _, err := New(ti.Input); err != nil || ti.diag.String() != "" {
		t.Errorf("masking off: %v, diagnostics %q", err, ti.diag.String())
	}
}
