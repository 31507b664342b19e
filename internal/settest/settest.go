// Package settest checks what README.md ("Rotation") promises a reader of
// a set of files that shroud rotates: each file read by its path is whole,
// and the files read through one resolution of DIR/..data are one
// generation. Tests write Content into the files and run Read in a separate
// process while they rotate.
//
// Test code only: the shroud binary never imports it.
package settest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Content is file name's content in generation gen: a header and a trailer
// naming both, around a body (holding marker) long enough that a torn read
// shows.
func Content(gen int, name, marker string) []byte {
	head := fmt.Sprintf("gen=%06d file=%s\n", gen, name)
	return []byte(head + strings.Repeat(fmt.Sprintf("%06d-%s-", gen, marker), 200) + "\nend " + head)
}

// Parse returns the generation of a whole file of name, or an error saying
// what is wrong with it.
func Parse(name, marker string, data []byte) (int, error) {
	if len(data) == 0 {
		return 0, errors.New("empty")
	}
	var gen int
	if _, err := fmt.Sscanf(string(data), "gen=%06d file=", &gen); err != nil {
		return 0, fmt.Errorf("no header (%d bytes)", len(data))
	}
	if !bytes.Equal(data, Content(gen, name, marker)) {
		return 0, fmt.Errorf("generation %d torn or mixed (%d bytes)", gen, len(data))
	}
	return gen, nil
}

// Report is what a reader saw.
type Report struct {
	// Sets counts the sets read through ..data, all consistent; Retired
	// the reads started again because their generation was retired.
	Sets, Retired int
	// FileReads counts the files read by their paths, all whole;
	// PathMixed the sets read path by path that mixed generations (allowed:
	// that is why a set is read through ..data).
	FileReads, PathMixed int
	FirstGen, LastGen    int
	// Bad lists what broke a promise (the first 20).
	Bad []string
}

// Read reads the set names of dir in a loop, both ways, until stop
// exists, then once more, and returns what it saw. It creates ready once it
// has read its first set, so that a test rotates while it reads.
func Read(dir string, names []string, marker, stop, ready string) Report {
	r := Report{FirstGen: -1}
	last := -1
	bad := func(format string, args ...any) {
		if len(r.Bad) < 20 {
			r.Bad = append(r.Bad, fmt.Sprintf(format, args...))
		}
	}
	for done := false; !done; {
		if _, err := os.Stat(stop); err == nil {
			done = true // one last read, after the last rotation
		}
		// The set: resolve ..data once, read every file inside it.
		gen, err := os.Readlink(filepath.Join(dir, "..data"))
		if err != nil {
			bad("..data: %v", err)
			continue
		}
		gens := map[int]bool{}
		retired := false
		for _, name := range names {
			data, err := os.ReadFile(filepath.Join(dir, gen, name))
			if errors.Is(err, fs.ErrNotExist) {
				retired = true
				break
			}
			g, err := Parse(name, marker, data)
			if err != nil {
				bad("set %s/%s: %v", gen, name, err)
				continue
			}
			gens[g] = true
		}
		if retired {
			r.Retired++
			done = false // read again
			continue
		}
		if len(gens) != 1 {
			bad("set %s mixes generations %v", gen, gens)
			continue
		}
		for g := range gens {
			if g < last {
				bad("generation %d after %d", g, last)
			}
			last = g
			if r.FirstGen < 0 {
				r.FirstGen = g
			}
			r.LastGen = g
		}
		r.Sets++
		if r.Sets == 1 {
			os.WriteFile(ready, nil, 0o600)
		}
		// Each file by its path: whole, whatever its generation.
		pathGens := map[int]bool{}
		for _, name := range names {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				bad("%s: %v", name, err)
				continue
			}
			g, err := Parse(name, marker, data)
			if err != nil {
				bad("%s: %v", name, err)
				continue
			}
			pathGens[g] = true
			r.FileReads++
		}
		if len(pathGens) > 1 {
			r.PathMixed++
		}
	}
	return r
}

// Main is the reader process: it reads SETTEST_DIR's files SETTEST_NAMES
// (comma-separated) until SETTEST_STOP exists and prints the Report as
// JSON on w.
func Main(w io.Writer) int {
	stop := os.Getenv("SETTEST_STOP")
	r := Read(os.Getenv("SETTEST_DIR"), strings.Split(os.Getenv("SETTEST_NAMES"), ","), os.Getenv("SETTEST_MARKER"), stop, readyFile(stop))
	json.NewEncoder(w).Encode(r)
	return 0
}

// Env is the environment of a reader process that stops once stop exists.
func Env(dir string, names []string, marker, stop string) []string {
	return []string{"SETTEST_DIR=" + dir, "SETTEST_NAMES=" + strings.Join(names, ","), "SETTEST_MARKER=" + marker, "SETTEST_STOP=" + stop}
}

// readyFile is the file a reader process given stop creates once reading.
func readyFile(stop string) string { return stop + ".ready" }

// AwaitReader waits until the reader process given stop has read its first
// set, or until within has passed.
func AwaitReader(stop string, within time.Duration) error {
	for deadline := time.Now().Add(within); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(readyFile(stop)); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the reader read no set within %v", within)
		}
	}
}
