package inject

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// The files of one directory are one set: a reader must never see some of
// them rotated and others not (a certificate and its key, a user and its
// password). They are kept in the layout Kubernetes gives secret volumes
// (its AtomicWriter):
//
//	DIR/..2026_11_23_12_00_00.k3x9/   a generation: the files, written once
//	DIR/..data -> ..2026_11_23_12_00_00.k3x9
//	DIR/tls.crt -> ..data/tls.crt
//	DIR/tls.key -> ..data/tls.key
//
// A change writes a whole new generation, then renames a new ..data link
// over the old one: one atomic step switches every file of the set. The
// generation before stays until the next switch, and any older one until it
// has been replaced for retireGrace, so a reader that resolved ..data just
// before a switch can finish, even when switches follow each other fast.
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
	genLayout   = "..2006_01_02_15_04_05."
)

// isGeneration reports whether name is a generation directory's name.
func isGeneration(name string) bool {
	if len(name) <= len(genLayout) {
		return false
	}
	_, err := time.Parse(genLayout, name[:len(genLayout)])
	return err == nil
}

// writeSet writes the files of one directory (two or more, already checked
// by Write) as a set, and returns those whose content, mode or owner
// changed. Unchanged files are hard links to the previous generation, so
// their inode stays.
func writeSet(files []Rendered) (changed []Rendered, err error) {
	t, err := files[0].open(true)
	if err != nil {
		return nil, err
	}
	defer t.root.Close()
	dirName := filepath.Dir(files[0].Path)
	fail := func(format string, args ...any) ([]Rendered, error) {
		return nil, fmt.Errorf("writing the files of %s: %s", dirName, fmt.Sprintf(format, args...))
	}
	d, err := t.root.OpenRoot(filepath.Dir(t.name))
	if err != nil {
		return fail("%v", err)
	}
	defer d.Close()

	cur, err := d.Readlink(dataLink)
	if err != nil || !isGeneration(cur) {
		cur = ""
	}
	reuse := make([]bool, len(files))
	linked := make([]bool, len(files))
	all := true
	for i, f := range files {
		name := filepath.Base(f.Path)
		dest, err := d.Readlink(name)
		linked[i] = err == nil && dest == dataLink+"/"+name
		if !holdsAt(d, name, f) {
			changed = append(changed, f)
		}
		reuse[i] = linked[i] && cur != "" && holdsAt(d, cur+"/"+name, f)
		all = all && reuse[i]
	}
	if all {
		return nil, nil
	}

	gen, err := newGeneration(d)
	if err != nil {
		return fail("creating a generation directory: %v", err)
	}
	if err := fillGeneration(d, gen, cur, files, reuse); err != nil {
		d.RemoveAll(gen)
		return fail("%v", err)
	}
	// The switch: one rename makes the new generation what every path
	// shows.
	if err := switchData(d, gen); err != nil {
		d.RemoveAll(gen)
		return fail("%v", err)
	}
	if err := linkPaths(d, files, linked); err != nil {
		return fail("%v", err)
	}
	if err := syncDir(d, "."); err != nil {
		return changed, fmt.Errorf("writing the files of %s: syncing the directory: %w", dirName, err)
	}
	retire(d, gen, cur)
	return changed, nil
}

// fillGeneration writes the files into the new generation gen, durably:
// those marked reuse as hard links to the current generation cur.
func fillGeneration(d *os.Root, gen, cur string, files []Rendered, reuse []bool) error {
	for i, f := range files {
		name := filepath.Base(f.Path)
		if reuse[i] && d.Link(cur+"/"+name, gen+"/"+name) == nil {
			continue
		}
		if err := writeInto(d, gen+"/"+name, f); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return syncDir(d, gen)
}

// switchData points ..data at gen by renaming a new link over it.
func switchData(d *os.Root, gen string) error {
	if err := d.Remove(dataLinkTmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := d.Symlink(gen, dataLinkTmp); err != nil {
		return err
	}
	if err := d.Rename(dataLinkTmp, dataLink); err != nil {
		d.Remove(dataLinkTmp)
		return err
	}
	return nil
}

// linkPaths makes the paths not yet linked (the first write, or a regular
// file left by an older layout) links into ..data, each by a rename.
func linkPaths(d *os.Root, files []Rendered, linked []bool) error {
	for i, f := range files {
		if linked[i] {
			continue
		}
		name := filepath.Base(f.Path)
		tmp := tmpPrefix(name) + strconv.FormatUint(rand.Uint64(), 36)
		if err := d.Symlink(dataLink+"/"+name, tmp); err != nil {
			return err
		}
		if err := d.Rename(tmp, name); err != nil {
			d.Remove(tmp)
			return err
		}
	}
	return nil
}

// holdsAt reports whether name in d holds f's content, mode and owner.
func holdsAt(d *os.Root, name string, f Rendered) bool {
	info, err := d.Stat(name)
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	t := &place{root: d, name: name, info: info}
	return t.holds(f)
}

// newGeneration creates an empty generation directory with the
// permissions (and, as root, the owner) of the directory it is in, so the
// set is exactly as reachable as a file there would be.
func newGeneration(d *os.Root) (string, error) {
	info, err := d.Stat(".")
	if err != nil {
		return "", err
	}
	for range 10 {
		name := time.Now().UTC().Format(genLayout) + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
		err = d.Mkdir(name, info.Mode().Perm())
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		// Mkdir applies the umask: set the mode exactly.
		if err := d.Chmod(name, info.Mode().Perm()); err != nil {
			d.Remove(name)
			return "", err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			if err := d.Chown(name, int(st.Uid), int(st.Gid)); err != nil {
				d.Remove(name)
				return "", err
			}
		}
		return name, nil
	}
	return "", err
}

// retireGrace is how long a generation stays once replaced: the longest a
// reader may take between resolving ..data and opening a file in it,
// with margin (a loaded machine can stall a reader for many milliseconds).
const retireGrace = 5 * time.Second

// retire removes the generations a reader can no longer be in: all but
// the current and the one it replaced, once their successor has been in
// place for retireGrace. A generation's successor is the next one by
// modification time (set as its files were written, before its switch).
// A failure only leaves an old generation behind.
func retire(d *os.Root, current, previous string) {
	dir, err := d.Open(".")
	if err != nil {
		return
	}
	entries, _ := dir.ReadDir(-1)
	dir.Close()
	type gen struct {
		name string
		made time.Time
	}
	var gens []gen
	for _, e := range entries {
		if !e.IsDir() || !isGeneration(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil {
			gens = append(gens, gen{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(gens, func(a, b gen) int { return a.made.Compare(b.made) })
	for i, g := range gens[:max(len(gens)-1, 0)] {
		if g.name != current && g.name != previous && time.Since(gens[i+1].made) > retireGrace {
			d.RemoveAll(g.name)
		}
	}
}

// setsOf groups files by directory, in the order their directories first
// appear.
func setsOf(files []Rendered) [][]Rendered {
	var (
		sets  [][]Rendered
		index = map[string]int{}
	)
	for _, f := range files {
		dir := filepath.Dir(f.Path)
		i, ok := index[dir]
		if !ok {
			i = len(sets)
			index[dir] = i
			sets = append(sets, nil)
		}
		sets[i] = append(sets[i], f)
	}
	return sets
}
