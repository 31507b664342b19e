package logdriver

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type jsonFileSettings struct {
	path     string // empty: DefaultJSONFileDir/<name>-json.log
	maxSize  int64  // 0: never rotate
	maxFiles int
	compress bool
}

// DefaultJSONFileDir holds json-file logs when the path option is not set.
const DefaultJSONFileDir = "/var/log/shroud"

func parseJSONFile(r *optReader) jsonFileSettings {
	s := jsonFileSettings{path: r.str("path", "")}
	if v, ok := r.value("max-size"); ok && v != "-1" {
		s.maxSize = r.decimalSize("max-size", 0)
	}
	s.maxFiles = r.integer("max-file", 1, 1, 1<<20)
	s.compress = r.boolean("compress", false)
	if s.compress && s.maxFiles < 2 {
		r.fail("compress", "needs max-file of 2 or more: only rotated files are compressed")
	}
	if r.has("max-file") && s.maxFiles > 1 && !r.has("max-size") {
		r.fail("max-file", "needs max-size: files rotate when they reach it")
	}
	return s
}

// jsonFile writes Docker's json-file format, one JSON object a line:
//
//	{"log":"hello\n","stream":"stdout","attrs":{"tag":"app"},"time":"2024-05-01T12:00:00.12345678Z"}
//
// and rotates as Docker does: once file.log has reached max-size, the next
// entry goes to a new file.log, the old one becoming file.log.1
// (file.log.1.gz with compress), file.log.1 becoming file.log.2, and so on
// up to max-file files in all.
type jsonFile struct {
	s       jsonFileSettings
	f       *os.File
	size    int64
	regular bool   // only a regular file rotates (never /dev/null)
	attrs   []byte // `,"attrs":{...}` or empty
	buf     []byte
	// The time field of the last entry, reused while reads share a time.
	lastTime    time.Time
	lastTimeFmt []byte
	// newest is the latest time of the current file's entries, for the
	// header of its compressed copy.
	newest time.Time
}

// safeName keeps a default file name to letters, digits, '.', '_' and
// '-'.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return r
		}
		return '_'
	}, s)
}

func newJSONFile(s jsonFileSettings, env driverEnv) (driver, error) {
	if s.path == "" {
		s.path = filepath.Join(DefaultJSONFileDir, safeName(env.info.Name)+"-json.log")
	}
	attrs := map[string]string{}
	for k, v := range env.attrs {
		attrs[k] = v
	}
	if env.tagGiven && env.tag != "" { // Docker's json-file writes a tag only when asked
		attrs["tag"] = env.tag
	}
	j := &jsonFile{s: s}
	if len(attrs) > 0 {
		// Encoded once, as Docker's json-file encodes them: encoding/json,
		// keys sorted.
		obj, err := json.Marshal(attrs)
		if err != nil {
			return nil, err
		}
		j.attrs = append([]byte(`,"attrs":`), obj...)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return nil, env.opt("path", fmt.Sprintf("cannot create the directory: %v", err))
	}
	if err := j.open(); err != nil {
		return nil, env.opt("path", err.Error())
	}
	return j, nil
}

func (j *jsonFile) open() error {
	f, err := os.OpenFile(j.s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	j.f, j.size, j.regular = f, info.Size(), info.Mode().IsRegular()
	return nil
}

// writeSize is about how much a json-file write carries: large enough for
// few calls, small enough that the entries are still in the cache when the
// kernel copies them, and the buffer's size stays bounded.
const writeSize = 256 << 10

// log writes msgs in writes of about writeSize, and at each rotation.
func (j *jsonFile) log(msgs []Message) (int, error) {
	j.buf = j.buf[:0]
	done := 0 // msgs[:done] are written
	for i, m := range msgs {
		if j.rotates() && j.size+int64(len(j.buf)) >= j.s.maxSize {
			// The file has reached max-size: rotate before the next entry,
			// as Docker does (a file ends with the entry that took it to
			// max-size or past it).
			if err := j.write(j.buf); err != nil {
				return done, err
			}
			done = i
			j.buf = j.buf[:0]
			if err := j.rotate(); err != nil {
				return done, err
			}
		}
		j.buf = j.entry(j.buf, m)
		if len(j.buf) >= writeSize {
			if err := j.write(j.buf); err != nil {
				return done, err
			}
			done = i + 1
			j.buf = j.buf[:0]
		}
	}
	if err := j.write(j.buf); err != nil {
		return done, err
	}
	return len(msgs), nil
}

func (j *jsonFile) rotates() bool { return j.s.maxSize > 0 && j.regular }

func (j *jsonFile) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if j.f == nil {
		if err := j.open(); err != nil {
			return err
		}
	}
	n, err := j.f.Write(b)
	j.size += int64(n)
	return err
}

// entry appends one message as a JSON line. A piece of a split line gets
// no newline in "log", so the pieces join back into the line, as Docker's.
func (j *jsonFile) entry(b []byte, m Message) []byte {
	b = append(b, `{"log":`...)
	if m.Partial == nil || m.Partial.Last {
		b = appendJSONStringNL(b, m.Line)
	} else {
		b = appendJSONString(b, m.Line)
	}
	b = append(b, `,"stream":"`...)
	b = append(b, m.Stream...)
	b = append(b, '"')
	b = append(b, j.attrs...)
	b = append(b, `,"time":"`...)
	if m.Time.After(j.newest) {
		j.newest = m.Time
	}
	if !m.Time.Equal(j.lastTime) || j.lastTimeFmt == nil {
		j.lastTime = m.Time
		// RFC 3339 with nanoseconds, trailing zeros dropped, as Docker's.
		j.lastTimeFmt = m.Time.UTC().AppendFormat(j.lastTimeFmt[:0], time.RFC3339Nano)
	}
	b = append(b, j.lastTimeFmt...)
	return append(b, `"}`+"\n"...)
}

// appendJSONStringNL appends s followed by a newline as a JSON string.
func appendJSONStringNL(dst, s []byte) []byte {
	dst = appendJSONString(dst, s)
	return append(dst[:len(dst)-1], `\n"`...)
}

// rotate shifts the files: path.N-1 to path.N, ..., path to path.1, then
// compresses path.1 if asked. With max-file 1 the file starts over.
func (j *jsonFile) rotate() error {
	if err := j.f.Close(); err != nil {
		return err
	}
	j.f = nil
	newest := j.newest
	j.newest = time.Time{}
	ext := ""
	if j.s.compress {
		ext = ".gz"
	}
	if j.s.maxFiles < 2 {
		if err := os.Truncate(j.s.path, 0); err != nil {
			return err
		}
		return j.open()
	}
	for i := j.s.maxFiles - 1; i > 1; i-- {
		from := j.s.path + "." + strconv.Itoa(i-1) + ext
		to := j.s.path + "." + strconv.Itoa(i) + ext
		if err := os.Rename(from, to); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Rename(j.s.path, j.s.path+".1"); err != nil {
		return err
	}
	if j.s.compress {
		if err := gzipFile(j.s.path+".1", newest); err != nil {
			return err
		}
	}
	return j.open()
}

// gzipFile replaces path by path.gz, written to a temporary file first so a
// reader never sees half of it. As Docker's, the gzip header's extra field
// holds {"lastTime":...}, the time of the newest entry, with which Docker's
// reader skips the file for docker logs --since a later time.
func gzipFile(path string, lastTime time.Time) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".gz.tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	zw.Extra, _ = json.Marshal(struct {
		LastTime time.Time `json:"lastTime"`
	}{lastTime.UTC()})
	if _, err := io.Copy(zw, in); err != nil {
		tmp.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path+".gz"); err != nil {
		return err
	}
	return os.Remove(path)
}

func (j *jsonFile) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
