package logdriver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the two streams' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testInput is an Input whose tee targets and diagnostics are buffers.
type testInput struct {
	Input
	stdout, stderr, diag *syncBuffer
}

func newTestInput(driver string, options map[string]string) *testInput {
	ti := &testInput{stdout: &syncBuffer{}, stderr: &syncBuffer{}, diag: &syncBuffer{}}
	ti.Input = Input{
		Config: Config{Driver: driver, Options: options, Tee: DefaultTee(driver)},
		Info:   Info{Name: "app", Hostname: "host-1", FullID: "0123456789abcdef"},
		Stdout: ti.stdout, Stderr: ti.stderr,
		Logger:       slog.New(slog.NewTextHandler(ti.diag, nil)),
		CloseTimeout: 5 * time.Second,
	}
	return ti
}

// runChild runs sh -c script with its output through p, then closes p.
func runChild(t *testing.T, p *Pipeline, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

type jsonEntry struct {
	Log    string            `json:"log"`
	Stream string            `json:"stream"`
	Attrs  map[string]string `json:"attrs"`
	Time   time.Time         `json:"time"`
}

func readJSONLog(t *testing.T, path string) []jsonEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var out []jsonEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e jsonEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Bytes(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestJSONFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app-json.log")
	ti := newTestInput(JSONFile, map[string]string{"path": path, "tag": "{{.Name}}/{{.ID}}", "env": "STAGE", "env-regex": "^TEAM_"})
	ti.Info.Env = map[string]string{"STAGE": "prod", "OTHER": "x", "TEAM_NAME": "payments", "MY_TEAM_": "no"}
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	runChild(t, p, `echo out-1; echo err-1 >&2; printf 'tab\there "q" \033[31mred\033[0m é\n'; printf 'no newline'`)
	entries := readJSONLog(t, path)
	slices.SortStableFunc(entries, func(a, b jsonEntry) int { return strings.Compare(a.Stream, b.Stream) })
	if len(entries) != 4 {
		t.Fatalf("entries = %+v", entries)
	}
	wantAttrs := map[string]string{"tag": "app/0123456789ab", "STAGE": "prod", "TEAM_NAME": "payments"}
	for i, want := range []struct{ log, stream string }{
		{"err-1\n", "stderr"},
		{"out-1\n", "stdout"},
		{"tab\there \"q\" \x1b[31mred\x1b[0m é\n", "stdout"},
		{"no newline", "stdout"}, // a last line without newline keeps none, as in Docker
	} {
		e := entries[i]
		if e.Log != want.log || e.Stream != want.stream || fmt.Sprint(e.Attrs) != fmt.Sprint(wantAttrs) {
			t.Errorf("entry %d = %+v, want %q on %s", i, e, want.log, want.stream)
		}
		if e.Time.Before(before.Add(-time.Second)) || e.Time.After(time.Now()) {
			t.Errorf("entry %d time %v", i, e.Time)
		}
	}
	// The tee got the bytes as written.
	if ti.stdout.String() != "out-1\ntab\there \"q\" \x1b[31mred\x1b[0m é\nno newline" || ti.stderr.String() != "err-1\n" {
		t.Errorf("tee: %q %q", ti.stdout, ti.stderr)
	}
	if s := p.Stats(); s.Messages != 4 || s.DroppedMessages != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestJSONFileRotation checks max-size and max-file: a file rotates once
// it has reached max-size (so it ends with the entry that took it there,
// as in Docker), at most max-file files exist, the newest lines survive,
// and compress gzips the rotated files.
func TestJSONFileRotation(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app-json.log")
			ti := newTestInput(JSONFile, map[string]string{"path": path, "max-size": "4k", "max-file": "3", "compress": fmt.Sprint(compress)})
			ti.Tee = false
			p, err := New(ti.Input)
			if err != nil {
				t.Fatal(err)
			}
			runChild(t, p, `i=0; while [ $i -lt 400 ]; do echo "line $i of the log, padded to be a bit longer"; i=$((i+1)); done`)
			ext := ""
			if compress {
				ext = ".gz"
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*"))
			want := []string{path, path + ".1" + ext, path + ".2" + ext}
			if !slices.Equal(files, want) {
				t.Fatalf("files = %v, want %v", files, want)
			}
			var all []jsonEntry
			for i := len(want) - 1; i >= 0; i-- {
				if i > 0 {
					size, last := rotatedSize(t, want[i])
					if size < 4000 || size-last >= 4000 {
						t.Errorf("%s holds %d bytes, the last entry %d: it did not rotate at max-size", want[i], size, last)
					}
				}
				all = append(all, readJSONLog(t, want[i])...)
			}
			// The newest lines, in order, ending with the last.
			for i, e := range all {
				n := 400 - len(all) + i
				if e.Log != fmt.Sprintf("line %d of the log, padded to be a bit longer\n", n) {
					t.Fatalf("entry %d = %q, want line %d", i, e.Log, n)
				}
			}
			if len(all) < 50 {
				t.Fatalf("only %d lines kept", len(all))
			}
		})
	}
}

// rotatedSize returns the size of a rotated file's entries, decompressed,
// and of its last entry.
func rotatedSize(t *testing.T, path string) (size, last int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	trimmed := bytes.TrimSuffix(data, []byte("\n"))
	return len(data), len(data) - bytes.LastIndexByte(trimmed, '\n') - 1
}

// TestDirect checks that driver none without masking puts no pipe between
// the child and shroud's stdout and stderr: the child's fds are the files
// given.
func TestDirect(t *testing.T) {
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	ti := newTestInput(None, nil)
	ti.Stdout, ti.Stderr = out, out
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Direct() || p.Stdout() != io.Writer(out) || p.Stderr() != io.Writer(out) {
		t.Fatalf("driver none: Direct %v, Stdout %T", p.Direct(), p.Stdout())
	}
	runChild(t, p, `readlink /proc/self/fd/1; readlink /proc/self/fd/2`)
	data, _ := os.ReadFile(out.Name())
	if want := out.Name() + "\n" + out.Name() + "\n"; string(data) != want {
		t.Fatalf("child's fds: %q, want %q", data, want)
	}
	// Masking needs the bytes: then there is a pipe, and output goes to the
	// same place, masked.
	ti = newTestInput(None, nil)
	ti.Mask, ti.MaskValues = true, [][]byte{[]byte("canary-direct-77xQ")}
	p, err = New(ti.Input)
	if err != nil || p.Direct() {
		t.Fatalf("masking: direct %v, %v", p.Direct(), err)
	}
	runChild(t, p, `echo "pw canary-direct-77xQ"; readlink /proc/self/fd/1`)
	if got := ti.stdout.String(); !strings.HasPrefix(got, "pw *****\npipe:") {
		t.Fatalf("stdout = %q", got)
	}
}

// TestStreamAcrossRuns feeds one pipeline the output of several runs of a
// child, as the supervisor does across restarts: each run's pipe through
// ReadFrom, first one after the other, then two at once. A run's end sends
// its last line, without a newline, and the stream stays open for the next.
func TestStreamAcrossRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app-json.log")
	ti := newTestInput(JSONFile, map[string]string{"path": path})
	ti.Tee = false
	ti.Mask, ti.MaskValues = true, [][]byte{[]byte(MaskCanary)}
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	// run starts sh -c script with its stdout through ReadFrom of p's
	// stdout stream; the returned func waits for the child and the copy.
	run := func(script string) func() {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		copied := make(chan error, 1)
		go func() {
			_, err := p.Stdout().(io.ReaderFrom).ReadFrom(pr)
			pr.Close()
			copied <- err
		}()
		cmd := exec.Command("sh", "-c", script)
		cmd.Stdout = pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		return func() {
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if err := <-copied; err != nil {
				t.Fatalf("ReadFrom: %v", err)
			}
		}
	}
	run(`echo a-1; printf 'partial-a %s'` + " " + MaskCanary)()
	run(`echo b-1`)()
	const lines = 2000
	loop := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo %s; i=$((i+1)); done`, lines, strings.Repeat("c", 99))
	waitC, waitD := run(loop), run(loop)
	waitC()
	waitD()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	entries := readJSONLog(t, path)
	if len(entries) < 3 || entries[0].Log != "a-1\n" || entries[1].Log != "partial-a *****" || entries[2].Log != "b-1\n" {
		t.Fatalf("first entries %+v, want a-1, the masked partial line, b-1", entries[:min(3, len(entries))])
	}
	// The two overlapping runs: every byte arrives, in as many lines as
	// they wrote newlines (one more where a run's end cut the other's line).
	s := p.Stats()
	if wantBytes := uint64(len("a-1") + len("partial-a *****") + len("b-1") + 2*lines*99); s.Bytes != wantBytes || s.Messages < 3+2*lines || s.Messages > 5+2*lines {
		t.Fatalf("stats %+v, want %d bytes in %d messages", s, wantBytes, 3+2*lines)
	}
}

// The canaries of the masking tests: no sink may ever see them.
const (
	MaskCanary    = "canary-mask-e2e-Hq83Zp"
	MaskCanaryOld = "canary-rotated-old-Lk20"
)

// MaskScript prints canary whole, split across writes, across a 64 KiB
// read and a 16 KiB line boundary, in base64 at every alignment, JSON
// escaped, and on stderr.
var MaskScript = fmt.Sprintf(`
s=%[1]s
echo "whole: $s."
printf 'split: %[2]s'; sleep 0.2; printf '%[3]s.\n'
head -c 65530 /dev/zero | tr '\0' a; printf '%%s\n' "$s"
head -c 16380 /dev/zero | tr '\0' b; printf '%%s\n' "$s"
printf '%%s' "$s" | base64; printf 'x%%s' "$s" | base64; printf 'xy%%s' "$s" | base64
printf '{"password":"%%s"}\n' "$s"
echo "to stderr: $s" >&2
echo "old: %[4]s"
echo "done"
`, MaskCanary, MaskCanary[:9], MaskCanary[9:], MaskCanaryOld)

// NoMaskCanary fails if a planted secret, or its base64, shows in any text.
func NoMaskCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, c := range []string{MaskCanary, MaskCanaryOld} {
			if strings.Contains(text, c) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(c))[:20]) {
				t.Errorf("%s leaks %s:\n%.300s", what, c, text)
			}
		}
	}
}

func TestMaskingJSONFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app-json.log")
	ti := newTestInput(JSONFile, map[string]string{"path": path, "max-size": "32k", "max-file": "5"})
	ti.Mask = true
	ti.MaskValues = [][]byte{[]byte(MaskCanaryOld)}
	ti.MaskOptions = MaskOptions{Base64: true, JSON: true}
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	p.AddMask([][]byte{[]byte(MaskCanary)}) // a rotation: the old value stays masked
	runChild(t, p, MaskScript)
	var sinks []string
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		sinks = append(sinks, string(data))
	}
	NoMaskCanary(t, "json-file", sinks...)
	NoMaskCanary(t, "tee stdout", ti.stdout.String())
	NoMaskCanary(t, "tee stderr", ti.stderr.String())
	NoMaskCanary(t, "diagnostics", ti.diag.String())
	out := ti.stdout.String()
	for _, want := range []string{"whole: *****.", "split: *****.", "{\"password\":\"*****\"}", "old: *****", "done"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if s := p.Stats(); s.Masked < 9 {
		t.Errorf("stats = %+v, want at least 9 values masked", s)
	}
}

func TestNonBlockingDrops(t *testing.T) {
	// A driver held until the child is done, and a tiny buffer: the child
	// is never slowed, what does not fit is dropped and counted. Blocking
	// mode would hold the child at its first full buffer for good.
	ti := newTestInput(JSONFile, map[string]string{"mode": "non-blocking", "max-buffer-size": "1k", "path": filepath.Join(t.TempDir(), "x.log")})
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	held := &heldDriver{driver: p.drv, release: make(chan struct{})}
	p.drv = held
	// 2000 lines of 1.5 KB: more than the pipe and blocking mode's default
	// 1 MiB queue hold together.
	cmd := exec.Command("sh", "-c", `pad=$(printf '%01490d' 0); i=0; while [ $i -lt 2000 ]; do echo "line $i $pad"; i=$((i+1)); done`)
	cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // the child alone takes milliseconds
		close(held.release)
		t.Fatal("the child did not finish while the driver was held: non-blocking mode blocked it")
	}
	close(held.release)
	err = p.Close()
	s := p.Stats()
	if s.DroppedMessages == 0 || s.Messages+s.DroppedMessages != 2000 || s.DroppedBytes == 0 {
		t.Fatalf("stats = %+v", s)
	}
	if err == nil || !strings.Contains(err.Error(), "not delivered: ") {
		t.Fatalf("close: %v", err)
	}
	if !strings.Contains(ti.diag.String(), "dropped messages") {
		t.Errorf("diagnostics: %s", ti.diag)
	}
}

// heldDriver delivers nothing until release is closed, then delivers.
type heldDriver struct {
	driver
	release chan struct{}
}

func (d *heldDriver) log(msgs []Message) (int, error) {
	<-d.release
	return d.driver.log(msgs)
}

// failingDriver fails its first n deliveries, then delivers.
type failingDriver struct {
	failures int
	calls    []time.Time
	got      []string
	streams  map[string]string // line -> stream
}

func (d *failingDriver) log(msgs []Message) (int, error) {
	d.calls = append(d.calls, time.Now())
	if len(d.calls) <= d.failures {
		return 0, fmt.Errorf("connection refused")
	}
	for _, m := range msgs {
		d.got = append(d.got, string(m.Line))
		if d.streams == nil {
			d.streams = map[string]string{}
		}
		d.streams[string(m.Line)] = m.Stream
	}
	return len(msgs), nil
}

func (d *failingDriver) close() error { return nil }

// TestRetryBackoff checks that failed deliveries are retried with growing
// waits, and nothing is lost or duplicated.
func TestRetryBackoff(t *testing.T) {
	ti := newTestInput(JSONFile, map[string]string{"path": filepath.Join(t.TempDir(), "x.log")})
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	fd := &failingDriver{failures: 4}
	p.drv = fd
	// One line on each stream: the streams deliver in either order, each
	// line once, on its own stream.
	runChild(t, p, `echo one; echo two >&2`)
	if got := strings.Join(fd.got, ","); got != "one,two" && got != "two,one" || len(fd.got) != 2 {
		t.Fatalf("delivered %q", fd.got)
	}
	if fd.streams["one"] != "stdout" || fd.streams["two"] != "stderr" {
		t.Fatalf("streams %v, want one on stdout and two on stderr", fd.streams)
	}
	gaps := []time.Duration{}
	for i := 1; i < 5; i++ {
		gaps = append(gaps, fd.calls[i].Sub(fd.calls[i-1]))
	}
	// Waits are drawn from [w/2, w] with w = 100ms, 200ms, 400ms, 800ms.
	if gaps[0] < 50*time.Millisecond || gaps[3] < 400*time.Millisecond {
		t.Errorf("waits %v do not back off", gaps)
	}
	diag := ti.diag.String()
	if !strings.Contains(diag, "retrying with backoff") || !strings.Contains(diag, "delivers again") {
		t.Errorf("diagnostics: %s", diag)
	}
	if s := p.Stats(); s.DeliveryErrors != 4 || s.DroppedMessages != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestCloseGivesUp checks that Close returns within CloseTimeout on a
// driver that never recovers, in both modes, and on one whose call never
// returns, and reports what was lost. In blocking mode the child's last
// write waits for the driver while Close starts: nothing Close waits for
// may wait on that write.
func TestCloseGivesUp(t *testing.T) {
	for _, tt := range []struct {
		name, mode string
		drv        func() driver
		want       string
	}{
		{"non-blocking, driver down", NonBlocking, func() driver { return &failingDriver{failures: 1 << 30} }, ""},
		{"blocking, driver down", Blocking, func() driver { return &failingDriver{failures: 1 << 30} }, ""},
		{"blocking, driver call never returns", Blocking, func() driver { return newStuckDriver(t) }, "the driver did not finish"},
		{"non-blocking, driver call never returns", NonBlocking, func() driver { return newStuckDriver(t) }, "the driver did not finish"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ti := newTestInput(JSONFile, map[string]string{"path": filepath.Join(t.TempDir(), "x.log"), "mode": tt.mode})
			ti.CloseTimeout = 500 * time.Millisecond
			p, err := New(ti.Input)
			if err != nil {
				t.Fatal(err)
			}
			p.drv.close()
			p.drv = tt.drv()
			// As the supervisor does: once the child has exited, Close
			// follows, even if the copy of its output is still in a write.
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			copied := make(chan struct{})
			go func() {
				defer close(copied)
				io.Copy(p.Stdout(), pr)
			}()
			cmd := exec.Command("sh", "-c", "echo lost")
			cmd.Stdout = pw
			err = cmd.Run()
			pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-copied:
			case <-time.After(200 * time.Millisecond):
			}
			closed := make(chan error, 1)
			start := time.Now()
			go func() { closed <- p.Close() }()
			select {
			case err = <-closed:
			case <-time.After(20 * time.Second):
				t.Fatalf("Close still blocked after 20s with CloseTimeout %v", ti.CloseTimeout)
			}
			if err == nil || !strings.Contains(err.Error(), "not delivered: 1 message (4 bytes)") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("close: %v", err)
			}
			// Generous for a loaded machine; the hang this guards against
			// has no bound at all.
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("close took %v", d)
			}
			if s := p.Stats(); s.DroppedMessages != 1 || s.Messages != 0 {
				t.Errorf("stats = %+v, want the one line dropped", s)
			}
		})
	}
}

// TestBlockingWaitsForRoom: in blocking mode a writer waits once the
// queue holds max-buffer-size bytes the driver has not taken; Close still
// returns in time, and the waiting write fails instead of hanging.
func TestBlockingWaitsForRoom(t *testing.T) {
	ti := newTestInput(JSONFile, map[string]string{"path": filepath.Join(t.TempDir(), "x.log")})
	ti.CloseTimeout = 500 * time.Millisecond
	p, err := New(ti.Input)
	if err != nil {
		t.Fatal(err)
	}
	p.drv.close()
	p.drv = &failingDriver{failures: 1 << 30}
	line := []byte(strings.Repeat("x", 99) + "\n")
	wrote := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 3*DefaultMaxBufferSize/len(line); n++ {
			if _, err := p.Stdout().Write(line); err != nil {
				break
			}
		}
		wrote <- n
	}()
	// The queue fills, then the writer waits: no write fails before Close.
	waitFor(t, "the queue to fill", func() bool { return queuedBytes(p.queue) >= DefaultMaxBufferSize })
	select {
	case n := <-wrote:
		t.Fatalf("the writer did not wait: %d lines written with the driver down", n)
	default:
	}
	start := time.Now()
	err = p.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("close took %v", d)
	}
	n := <-wrote
	if n >= 3*DefaultMaxBufferSize/len(line) {
		t.Fatalf("all %d lines written: the writer never waited", n)
	}
	s := p.Stats()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d messages", s.DroppedMessages)) || s.DroppedMessages < uint64(DefaultMaxBufferSize/len(line)) {
		t.Fatalf("close: %v; stats %+v", err, s)
	}
}

// queuedBytes is how many bytes of lines q holds.
func queuedBytes(q *queue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.arena)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// stuckDriver's calls block until the test ends: a driver stuck in a write.
type stuckDriver struct{ release chan struct{} }

func newStuckDriver(t *testing.T) *stuckDriver {
	d := &stuckDriver{release: make(chan struct{})}
	t.Cleanup(func() { close(d.release) })
	return d
}

func (d *stuckDriver) log(msgs []Message) (int, error) {
	<-d.release
	return 0, fmt.Errorf("released")
}

func (d *stuckDriver) close() error { return nil }

func TestNewErrors(t *testing.T) {
	defer func(w time.Duration) { startWait = w }(startWait)
	startWait = 10 * time.Millisecond
	for _, tt := range []struct {
		driver string
		opts   map[string]string
		secret []string
		want   string
	}{
		{Syslog, map[string]string{"syslog-address": "udp//nowhere"}, nil, `syslog option syslog-address="udp//nowhere": want proto://address`},
		{Syslog, map[string]string{"syslog-address": "udp//canary-addr-Zq7"}, []string{"syslog-address"}, `syslog option syslog-address (from a secret, value not shown): want proto://address`},
		{Syslog, map[string]string{"syslog-address": "tcp://127.0.0.1:1"}, nil, `syslog option syslog-address="tcp://127.0.0.1:1": cannot connect after 4 attempts: connection refused`},
		{Syslog, map[string]string{"syslog-address": "tcp://127.0.0.1:1"}, []string{"syslog-address"}, `syslog option syslog-address (from a secret, value not shown): cannot connect after 4 attempts: connection refused`},
		{Fluentd, map[string]string{"fluentd-address": "127.0.0.1:1"}, []string{"fluentd-address"}, `fluentd option fluentd-address (from a secret, value not shown): cannot connect after 4 attempts: connection refused`},
		{GELF, map[string]string{"gelf-address": "tcp://127.0.0.1:1"}, []string{"gelf-address"}, `gelf option gelf-address (from a secret, value not shown): cannot connect after 4 attempts: connection refused`},
		{Splunk, map[string]string{"splunk-url": "https://127.0.0.1:1", "splunk-token": "canary-tok-8Yt2"}, []string{"splunk-url", "splunk-token"}, `splunk option splunk-url (from a secret, value not shown): cannot connect after 4 attempts: connection refused`},
		{JSONFile, map[string]string{"max-file": "0"}, nil, `json-file option max-file="0": want a whole number from 1 to 1048576`},
		{JSONFile, map[string]string{"max-size": "lots"}, nil, `json-file option max-size="lots": want a size`},
		{JSONFile, map[string]string{"compress": "true"}, nil, `needs max-file of 2 or more`},
		{JSONFile, map[string]string{"tag": "{{.Nope}}"}, nil, `json-file option tag="{{.Nope}}": template: tag:1:2: executing "tag" at <.Nope>: can't evaluate field Nope`},
		{Syslog, map[string]string{"mode": "fast"}, nil, `syslog option mode="fast": want one of blocking, non-blocking`},
		{JSONFile, map[string]string{"labels": "team"}, nil, `json-file option labels="team": not supported: shroud has no container labels to pick from; remove the option (env and env-regex pick fields from the child's environment)`},
		{Fluentd, map[string]string{"labels-regex": "^team"}, nil, `fluentd option labels-regex="^team": not supported: shroud has no container labels`},
		{GELF, map[string]string{"gelf-address": "udp://h:1", "gelf-tcp-max-reconnect": "3"}, nil, `applies to tcp:// addresses only`},
		{"journald", nil, nil, `unknown log driver "journald"`},
	} {
		ti := newTestInput(tt.driver, tt.opts)
		ti.SecretOptions = tt.secret
		p, err := New(ti.Input)
		if err == nil {
			p.Close()
			t.Errorf("%s %v: no error", tt.driver, tt.opts)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v:\n got %v\nwant %s", tt.driver, tt.opts, err, tt.want)
		}
		for _, name := range tt.secret {
			if v := tt.opts[name]; strings.Contains(err.Error(), v) {
				t.Errorf("%s: the error shows the secret value of %s: %v", tt.driver, name, err)
			}
		}
	}
}

func TestValidateOptionNames(t *testing.T) {
	errs := Validate(Fluentd, map[string]string{"fluentd-adress": "x", "tag": "t"}, []string{"fluentd-address", "splunk-token"})
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `unknown option "fluentd-adress" for the fluentd driver; known options: env, env-regex, fluentd-address,`) ||
		!strings.Contains(errs[1].Error(), `unknown option "splunk-token" for the fluentd driver`) {
		t.Fatalf("errs = %v", errs)
	}
	// Options from secrets count as set: splunk needs a token, and has one.
	if errs := Validate(Splunk, map[string]string{"splunk-url": "https://s:8088"}, []string{"splunk-token"}); len(errs) != 0 {
		t.Fatalf("errs = %v", errs)
	}
}

// FuzzOptions checks that no option text panics validation, and that the
// value of an option from a secret never shows in an error.
func FuzzOptions(f *testing.F) {
	for _, d := range Drivers {
		known, _ := KnownOptions(d)
		for _, o := range known {
			f.Add(d, o, "canary-fz-value-0001", true)
		}
	}
	f.Add(Syslog, "syslog-address", "tcp+tls://[::1", true)
	f.Add(Fluentd, "fluentd-address", "unix://", false)
	f.Add(Splunk, "splunk-url", "https://%zz", true)
	f.Add(JSONFile, "labels-regex", "(canary-fz-regex", true)
	f.Add(JSONFile, "tag", "{{canary-fz-template", true)
	f.Fuzz(func(t *testing.T, driver, name, value string, secret bool) {
		opts := map[string]string{name: value}
		var secretNames []string
		if secret {
			secretNames = []string{name}
		}
		Validate(driver, opts, secretNames) // values deferred
		r := &optReader{driver: driver, opts: opts, secret: map[string]bool{name: secret}}
		if _, ok := KnownOptions(driver); !ok {
			return
		}
		parseDriver(r)
		if !secret {
			return
		}
		for _, err := range r.errs {
			msg := err.Error()
			if strings.Contains(msg, strconv.Quote(value)) ||
				len(value) >= 16 && !strings.ContainsAny(value, " ,") && strings.Contains(msg, value) {
				t.Fatalf("error shows the secret value: %v", err)
			}
		}
	})
}

// TestDiagnosticsRedactedWithoutMasking: with masking off, an option error
// that quotes a secret's value still shows *****, from the masker of
// diagnostics that New builds only when something is reported.
func TestDiagnosticsRedactedWithoutMasking(t *testing.T) {
	ti := newTestInput(JSONFile, map[string]string{"path": filepath.Join(t.TempDir(), "x.log"), "max-size": MaskCanary})
	ti.MaskValues = [][]byte{[]byte(MaskCanary)}
	_, err := New(ti.Input)
	if err == nil {
		t.Fatal("a max-size that is no size was accepted")
	}
	if !strings.Contains(err.Error(), "max-size") || !strings.Contains(err.Error(), MaskText) {
		t.Errorf("error %q: want it to name max-size and show %s", err, MaskText)
	}
	NoMaskCanary(t, "error", err.Error())
}
