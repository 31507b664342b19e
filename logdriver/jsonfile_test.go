package logdriver

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestJSONFile makes a json-file driver writing to a temporary file.
func newTestJSONFile(t *testing.T, s jsonFileSettings) *jsonFile {
	t.Helper()
	if s.path == "" {
		s.path = filepath.Join(t.TempDir(), "app-json.log")
	}
	if s.maxFiles == 0 {
		s.maxFiles = 1
	}
	d, err := newJSONFile(s, driverEnv{stop: context.Background(), opt: func(name, problem string) error {
		t.Fatalf("option %s: %s", name, problem)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.close() })
	return d.(*jsonFile)
}

// TestJSONFileTimeAsDocker checks the time field: UTC, RFC 3339 with
// nanoseconds and the trailing zeros dropped, as Docker's json-file writes
// it ("2026-12-06T00:50:19.3354Z").
func TestJSONFileTimeAsDocker(t *testing.T) {
	j := newTestJSONFile(t, jsonFileSettings{})
	east := time.FixedZone("UTC+2", 2*60*60)
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 12, 6, 0, 50, 19, 335400948, time.UTC), "2026-12-06T00:50:19.335400948Z"},
		{time.Date(2026, 12, 6, 0, 50, 19, 335400000, time.UTC), "2026-12-06T00:50:19.3354Z"},
		{time.Date(2026, 12, 6, 0, 50, 19, 0, time.UTC), "2026-12-06T00:50:19Z"},
		{time.Date(2026, 12, 6, 2, 50, 19, 100000000, east), "2026-12-06T00:50:19.1Z"},
	} {
		got := string(j.entry(nil, Message{Line: []byte("x"), Stream: "stdout", Time: tt.t}))
		want := `{"log":"x\n","stream":"stdout","time":"` + tt.want + `"}` + "\n"
		if got != want {
			t.Errorf("%v: got %s, want %s", tt.t, got, want)
		}
	}
}

// TestJSONFileAttrsAsDocker checks the attrs object: encoding/json's
// escaping, keys sorted, as Docker's json-file encodes it (a tab is \t
// there, unlike in the log field).
func TestJSONFileAttrsAsDocker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app-json.log")
	d, err := newJSONFile(jsonFileSettings{path: path, maxFiles: 1}, driverEnv{
		tag: "a\tb<c>", tagGiven: true, attrs: map[string]string{"Z": "\xff", "A": "&"}, stop: context.Background(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	got := string(d.(*jsonFile).entry(nil, Message{Line: []byte("x"), Stream: "stdout", Time: time.Unix(0, 0)}))
	want := `{"log":"x\n","stream":"stdout","attrs":{"A":"\u0026","Z":"\ufffd","tag":"a\tb\u003cc\u003e"},"time":"1970-01-01T00:00:00Z"}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestJSONFileRotatesAsDocker checks where files end: Docker rotates
// before an entry when the file has reached max-size, so a file ends with
// the entry that took it to max-size or past it. Entries given in one call
// or one a call end in the same files.
func TestJSONFileRotatesAsDocker(t *testing.T) {
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	msg := Message{Line: []byte("0123456789"), Stream: "stdout", Time: at}
	var msgs []Message
	for range 7 {
		msgs = append(msgs, msg)
	}
	for _, perCall := range []int{7, 1} {
		path := filepath.Join(t.TempDir(), "app-json.log")
		j := newTestJSONFile(t, jsonFileSettings{path: path, maxSize: 200, maxFiles: 5})
		entry := len(j.entry(nil, msg))
		for k := 0; k < len(msgs); k += perCall {
			if _, err := j.log(msgs[k : k+perCall]); err != nil {
				t.Fatal(err)
			}
		}
		perFile := (200 + entry - 1) / entry // entries until a file reaches 200 bytes
		for f, want := range map[string]int{".2": perFile, ".1": perFile, "": 7 - 2*perFile} {
			info, err := os.Stat(path + f)
			if err != nil || info.Size() != int64(want*entry) {
				t.Errorf("%d a call: app-json.log%s: %v, want %d entries of %d bytes", perCall, f, err, want, entry)
			}
		}
		if _, err := os.Stat(path + ".3"); err == nil {
			t.Errorf("%d a call: app-json.log.3 exists", perCall)
		}
	}
}

// TestJSONFileGzipHeaderAsDocker checks the compressed files' gzip header:
// as Docker's, its extra field is {"lastTime":...}, the newest entry's
// time, which Docker's reader compares with docker logs --since.
func TestJSONFileGzipHeaderAsDocker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app-json.log")
	j := newTestJSONFile(t, jsonFileSettings{path: path, maxSize: 100, maxFiles: 3, compress: true})
	t0 := time.Date(2026, 12, 6, 1, 2, 3, 450000000, time.FixedZone("UTC+1", 3600))
	var msgs []Message
	// Two entries a file; the second file's entries have the time of the
	// first's last.
	for _, at := range []time.Time{t0, t0.Add(time.Second), t0.Add(time.Second), t0.Add(time.Second)} {
		msgs = append(msgs, Message{Line: []byte("0123456789abcdef"), Stream: "stdout", Time: at})
	}
	if _, err := j.log(msgs); err != nil {
		t.Fatal(err)
	}
	j.log(msgs[:1]) // rotates the second file
	for file, want := range map[string]string{
		path + ".2.gz": `{"lastTime":"2026-12-06T00:02:04.45Z"}`,
		path + ".1.gz": `{"lastTime":"2026-12-06T00:02:04.45Z"}`,
	} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(zr.Extra) != want || zr.Name != "" || !zr.ModTime.IsZero() || zr.OS != 255 {
			t.Errorf("%s: extra %q name %q mtime %v OS %d, want extra %s and the rest empty, as Docker's", file, zr.Extra, zr.Name, zr.ModTime, zr.OS, want)
		}
		f.Close()
	}
}

// TestJSONFileMaxSizeDecimal checks that max-size counts as Docker's
// json-file counts it, in multiples of 1000: Docker rotates "10k" files
// at 10000 bytes (max-buffer-size and fluentd-buffer-limit count in
// multiples of 1024, in Docker and here).
func TestJSONFileMaxSizeDecimal(t *testing.T) {
	for v, want := range map[string]int64{"10k": 10_000, "10kb": 10_000, "1m": 1_000_000, "2g": 2_000_000_000, "512": 512} {
		r := &optReader{driver: JSONFile, opts: map[string]string{"max-size": v}}
		if got := parseJSONFile(r).maxSize; got != want || len(r.errs) > 0 {
			t.Errorf("max-size=%s: %d bytes (%v), want %d", v, got, r.errs, want)
		}
	}
	r := &optReader{driver: JSONFile, opts: map[string]string{"max-buffer-size": "10k", "mode": NonBlocking}}
	if got := parseCommon(r).maxBufferSize; got != 10<<10 {
		t.Errorf("max-buffer-size=10k: %d bytes, want %d", got, 10<<10)
	}
}

// TestJSONFileTagOnlyWhenGiven: Docker's json-file writes attrs.tag only
// when the tag option is set; its other drivers use the default tag.
func TestJSONFileTagOnlyWhenGiven(t *testing.T) {
	for _, given := range []bool{false, true} {
		d, err := newJSONFile(jsonFileSettings{path: filepath.Join(t.TempDir(), "app-json.log"), maxFiles: 1},
			driverEnv{tag: "app", tagGiven: given, stop: context.Background()})
		if err != nil {
			t.Fatal(err)
		}
		got := string(d.(*jsonFile).entry(nil, Message{Line: []byte("x"), Stream: "stdout", Time: time.Unix(0, 0)}))
		d.close()
		if has := strings.Contains(got, `"attrs":{"tag":"app"}`); has != given {
			t.Errorf("tag option given %v: %s", given, got)
		}
	}
}
