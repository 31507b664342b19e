package docker

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jsonRecord is one line of a json-file log.
type jsonRecord struct {
	Line   string // the line as written
	Fields []field
}

func (r jsonRecord) str(key string) string {
	f, _ := get(r.Fields, key)
	s, _ := f.Value.(string)
	return s
}

// readJSONFile reads a json-file log, each record with its fields in
// order, grouped by stream.
func readJSONFile(t *testing.T, path string) map[string][]jsonRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]jsonRecord{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fs, err := jsonFields(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		r := jsonRecord{Line: sc.Text(), Fields: fs}
		out[r.str("stream")] = append(out[r.str("stream")], r)
	}
	return out
}

// dockerLogPath is where Docker keeps a container's json-file log. The
// test skips, saying why, where that file is out of reach (a remote or
// rootless daemon, a user who may not read it).
func dockerLogPath(t *testing.T, id string) string {
	t.Helper()
	path := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.LogPath}}", id))
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err != nil {
		t.Skipf("SKIPPED, json-file parity not checked: Docker's log file is out of reach here: %v", err)
	} else {
		f.Close()
	}
	return path
}

var timeMember = regexp.MustCompile(`"time":"[^"]*"`)

// checkJSONTime checks a json-file time: RFC 3339 in UTC with nanoseconds,
// trailing zeros dropped (Go's RFC3339Nano), between from and to.
func checkJSONTime(t *testing.T, who, s string, from, to time.Time) {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || ts.UTC().Format(time.RFC3339Nano) != s || !strings.HasSuffix(s, "Z") {
		t.Errorf("%s: time %q is not UTC RFC 3339 nano as Go formats it (%v)", who, s, err)
	}
	if ts.Before(from) || ts.After(to) {
		t.Errorf("%s: time %s is not within the run (%s to %s)", who, s, from, to)
	}
}

// TestJSONFileAsDocker compares shroud's json-file log with the one Docker
// writes for the same child, line by line and byte for byte but the time.
func TestJSONFileAsDocker(t *testing.T) {
	requireDocker(t)
	// max-size and max-file are given so that the daemon's defaults
	// (daemon.json log-opts) do not apply.
	opts := append([]opt{{"max-size", "100m"}, {"max-file", "1"}}, commonOpts...)
	from := time.Now()
	id := runDocker(t, containerName(t), "json-file", opts, parityEnv, parityScript)
	dockerDone := time.Now()
	docker := readJSONFile(t, dockerLogPath(t, id))
	path := filepath.Join(t.TempDir(), "app-json.log")
	shroudFrom := time.Now()
	runShroud(t, "json-file", append(opts, opt{"path", path}), parityEnv, parityScript)
	shroud := readJSONFile(t, path)
	to := time.Now()

	tb := newTable(t, "json-file")
	for _, stream := range []string{"stdout", "stderr"} {
		for i, p := range pairs(tb, stream, docker[stream], shroud[stream]) {
			d, s := p[0], p[1]
			tb.same("record, but the time (log escaping, \\n, pieces, attrs)", timeMember.ReplaceAllString(d.Line, `"time":"T"`), timeMember.ReplaceAllString(s.Line, `"time":"T"`))
			tb.same("field order", keys(d.Fields), keys(s.Fields))
			tb.same("stream", d.str("stream"), s.str("stream"))
			tb.same("log", d.str("log"), s.str("log"))
			if a, ok := get(d.Fields, "attrs"); ok {
				b, _ := get(s.Fields, "attrs")
				tb.same("attrs (tag, env, env-regex)", a.Value, b.Value)
			}
			checkJSONTime(t, "Docker "+stream+" record "+strconv.Itoa(i), d.str("time"), from, dockerDone)
			checkJSONTime(t, "shroud "+stream+" record "+strconv.Itoa(i), s.str("time"), shroudFrom, to)
			tb.row("time", d.str("time"), s.str("time"), "same format (RFC3339Nano, UTC); values are each run's")
		}
	}
	// The three pieces of the 40000-byte line share the first one's time.
	for who, recs := range map[string][]jsonRecord{"Docker": docker["stdout"], "shroud": shroud["stdout"]} {
		var times []string
		for _, r := range recs {
			if strings.HasPrefix(r.str("log"), "xxxx") {
				times = append(times, r.str("time"))
			}
		}
		if len(times) != 3 || times[0] != times[1] || times[1] != times[2] {
			t.Errorf("%s: the pieces of a 40000-byte line have times %v, want 3 equal", who, times)
		}
	}
	tb.row("pieces of a split line", "the first piece's time", "the first piece's time", "equal")
}

// dockerLogs runs docker logs with args and returns its stdout and stderr:
// Docker's own json-file reader, writing each record to the stream it came
// from.
func dockerLogs(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"logs"}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker logs %v: %v: %s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// stoppedContainer runs true in a container with the json-file options
// and returns its id and log path: the place where shroud then writes, for
// Docker's reader to read.
func stoppedContainer(t *testing.T, opts []opt) (id, logPath string) {
	t.Helper()
	id = runDocker(t, containerName(t), "json-file", opts, nil, "true")
	logPath = dockerLogPath(t, id)
	if info, err := os.Stat(logPath); err != nil || info.Size() != 0 {
		t.Fatalf("the container's log %s: %v, want it empty", logPath, err)
	}
	return id, logPath
}

// TestDockerLogsReadsShroud has shroud write its json-file log where Docker
// keeps a stopped container's, and reads it back with docker logs: the
// output is the same as docker logs of a container that ran the same
// child, byte for byte, each stream on its own, split lines joined; and
// docker logs --timestamps shows the records' times.
func TestDockerLogsReadsShroud(t *testing.T) {
	requireDocker(t)
	opts := []opt{{"max-size", "100m"}, {"max-file", "1"}}
	ref := runDocker(t, containerName(t), "json-file", opts, parityEnv, parityScript)
	wantOut, wantErr := dockerLogs(t, ref)
	id, logPath := stoppedContainer(t, opts)
	runShroud(t, "json-file", append(opts, opt{"path", logPath}), parityEnv, parityScript)
	gotOut, gotErr := dockerLogs(t, id)
	tb := newTable(t, "docker logs")
	tb.same("stdout", wantOut, gotOut)
	tb.same("stderr", wantErr, gotErr)
	if !strings.HasSuffix(gotOut, "tail without newline") || !strings.Contains(gotOut, strings.Repeat("x", 40000)+"\n") {
		t.Errorf("docker logs does not show the last line, or the joined pieces of the long one")
	}

	// --timestamps puts each line's time before it.
	stamped, _ := dockerLogs(t, "--timestamps", id)
	var want []time.Time // the times of the records that end a line (pieces are joined)
	for _, r := range readJSONFile(t, logPath)["stdout"] {
		if strings.HasSuffix(r.str("log"), "\n") {
			ts, _ := time.Parse(time.RFC3339Nano, r.str("time"))
			want = append(want, ts)
		}
	}
	lines := strings.SplitAfter(stamped, "\n")
	for i, ts := range want {
		prefix, _, _ := strings.Cut(lines[min(i, len(lines)-1)], " ")
		got, err := time.Parse(time.RFC3339Nano, prefix)
		if i >= len(lines) || err != nil || !got.Equal(ts) {
			t.Errorf("docker logs --timestamps, line %d: %.60q, want the time %s", i, lines[min(i, len(lines)-1)], ts)
			break
		}
	}
	tb.row("--timestamps", "the record's time", "the record's time", "equal")
}

// rotationScript writes 25 lines of 940 bytes: json-file entries of about
// 1010 bytes, so that a max-size of 10k (10000 bytes, not 10240) holds ten.
const rotationScript = `l=$(head -c 940 /dev/zero | tr '\0' a); for i in $(seq 1 25); do echo "$i $l"; done`

// rotatedFile is one file of a rotated json-file log.
type rotatedFile struct {
	suffix  string // "", ".1.gz", ...
	mode    os.FileMode
	header  gzip.Header // of a compressed file
	entries []string    // the lines, decompressed
	newest  string      // the latest time of the entries
}

// rotatedFiles reads the files of the json-file log at path, once Docker
// (which compresses in the background) has compressed them.
func rotatedFiles(t *testing.T, path string) []rotatedFile {
	t.Helper()
	var names []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		names, _ = filepath.Glob(path + "*")
		pending := slices.ContainsFunc(names, func(n string) bool { return regexp.MustCompile(`\.\d+$`).MatchString(n) })
		if !pending || time.Now().After(deadline) {
			break
		}
	}
	var out []rotatedFile
	for _, name := range names {
		f := rotatedFile{suffix: strings.TrimPrefix(name, path)}
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		f.mode = info.Mode()
		data, _ := os.ReadFile(name)
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			f.header = zr.Header
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		for _, line := range strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n") {
			f.entries = append(f.entries, timeMember.ReplaceAllString(line, `"time":"T"`))
			if m := timeMember.FindString(line); m > `"time":"`+f.newest+`"` {
				f.newest = strings.TrimSuffix(strings.TrimPrefix(m, `"time":"`), `"`)
			}
		}
		out = append(out, f)
	}
	return out
}

// TestJSONFileRotationAsDocker rotates the same output with the same
// max-size, max-file and compress on both sides: the files have Docker's
// names, modes, entries and gzip headers (whose extra field holds the
// newest entry's time). Then shroud writes its rotated log where Docker
// keeps a stopped container's, and docker logs reads all its files back
// as it reads Docker's own.
func TestJSONFileRotationAsDocker(t *testing.T) {
	requireDocker(t)
	// A tag, as json-file records differ without one (TestTagTemplatesAsDocker).
	opts := []opt{{"max-size", "10k"}, {"max-file", "3"}, {"compress", "true"}, {"tag", "parity"}}
	ref := runDocker(t, containerName(t), "json-file", opts, nil, rotationScript)
	docker := rotatedFiles(t, dockerLogPath(t, ref))
	path := filepath.Join(t.TempDir(), "app-json.log")
	runShroud(t, "json-file", append(opts, opt{"path", path}), nil, rotationScript)
	shroud := rotatedFiles(t, path)

	tb := newTable(t, "json-file rotation")
	suffixes := func(fs []rotatedFile) (out []string) {
		for _, f := range fs {
			out = append(out, f.suffix)
		}
		return out
	}
	tb.same("file names", suffixes(docker), suffixes(shroud))
	for _, p := range pairs(tb, "files", docker, shroud) {
		d, s := p[0], p[1]
		tb.same("file mode", d.mode, s.mode)
		tb.same("entries, but the time", d.entries, s.entries)
		if d.suffix != "" {
			tb.same("gzip header: name, comment, mtime, OS", []any{d.header.Name, d.header.Comment, d.header.ModTime, d.header.OS},
				[]any{s.header.Name, s.header.Comment, s.header.ModTime, s.header.OS})
			for who, f := range map[string]rotatedFile{"Docker": d, "shroud": s} {
				if want := `{"lastTime":"` + f.newest + `"}`; string(f.header.Extra) != want {
					t.Errorf("%s: %s has the gzip extra field %q, want %s", who, f.suffix, f.header.Extra, want)
				}
			}
			tb.row("gzip header: extra", string(d.header.Extra), string(s.header.Extra), "equal: {\"lastTime\": the newest entry's time}")
		}
	}

	// docker logs reads shroud's rotated files as Docker's own.
	id, logPath := stoppedContainer(t, opts)
	runShroud(t, "json-file", append(opts, opt{"path", logPath}), nil, rotationScript)
	rotatedFiles(t, logPath)
	wantOut, _ := dockerLogs(t, ref)
	gotOut, _ := dockerLogs(t, id)
	tb.same("docker logs of the rotated files", wantOut, gotOut)
	if n := strings.Count(wantOut, "\n"); n < 21 {
		t.Errorf("docker logs shows %d lines: want the three files' 21 or more", n)
	}
}
