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
// over the old one: one atomic step switches every file of the set. A
// replaced generation stays for retireGrace, so a reader that resolved
// ..data just before a switch can finish, even when switches follow each
// other fast; then Retire removes it, whether or not another switch came,
// since it holds old secret values.
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
// set is as reachable as a file there would be (a group that may read its
// files may search it) — but never writable by group or others: in a
// sticky directory such as /tmp (1777) anyone could otherwise delete or
// replace the files inside, which the sticky bit protects only in the
// directory it is set on. /tmp's generations are 0755, as Kubernetes
// makes its own.
func newGeneration(d *os.Root) (string, error) {
	info, err := d.Stat(".")
	if err != nil {
		return "", err
	}
	perm := info.Mode().Perm() &^ 0o022
	for range 10 {
		name := time.Now().UTC().Format(genLayout) + strconv.FormatUint(rand.Uint64()%(36*36*36*36), 36)
		err = d.Mkdir(name, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		// Mkdir applies the umask: set the mode exactly.
		if err := d.Chmod(name, perm); err != nil {
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

// Retire removes the generations of the sets among files that were
// replaced retireGrace ago or more, and returns when the next of those it
// kept may go, or the zero time when it kept none. Write calls it; a
// caller that stays (the watch loop) calls it again then, so old secret
// values leave the disk even when no further switch comes.
func Retire(files []Rendered) time.Time { return retireSets(files, retireGrace) }

// RetireAll removes every replaced generation of the sets among files at
// once, for when shroud stops and no later Retire would come. A reader
// still inside one sees it vanish, and starts again from ..data (README,
// "Rotation").
func RetireAll(files []Rendered) { retireSets(files, 0) }

func retireSets(files []Rendered, grace time.Duration) (next time.Time) {
	for _, set := range setsOf(files) {
		if len(set) < 2 {
			continue // a lone file has no generations
		}
		if due := retireSet(set[0], grace); !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// retireSet retires in the directory of the set f is part of, reached as
// Write reaches it.
func retireSet(f Rendered, grace time.Duration) time.Time {
	t, err := f.open(false)
	if err != nil || t.root == nil {
		return time.Time{}
	}
	defer t.root.Close()
	d, err := t.root.OpenRoot(filepath.Dir(t.name))
	if err != nil {
		return time.Time{}
	}
	defer d.Close()
	return retireIn(d, grace)
}

// retireIn removes the generations in d a reader can no longer be in:
// every one but the current, once its successor has been in place for
// grace. A generation's successor is the next one by modification time
// (set as its files were written, just before its switch); the newest has
// none and stays. It returns when the next one kept may go. A failure only
// leaves an old generation behind.
func retireIn(d *os.Root, grace time.Duration) (next time.Time) {
	current, _ := d.Readlink(dataLink)
	gens := generations(d)
	now := time.Now()
	for i, g := range gens[:max(len(gens)-1, 0)] {
		if g.name == current {
			continue
		}
		if due := gens[i+1].made.Add(grace); grace > 0 && now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		d.RemoveAll(g.name)
	}
	return next
}

// generation is a generation directory and when it was made.
type generation struct {
	name string
	made time.Time
}

// generations lists the generation directories in d, oldest first.
func generations(d *os.Root) []generation {
	dir, err := d.Open(".")
	if err != nil {
		return nil
	}
	entries, _ := dir.ReadDir(-1)
	dir.Close()
	var gens []generation
	for _, e := range entries {
		if !e.IsDir() || !isGeneration(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil {
			gens = append(gens, generation{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(gens, func(a, b generation) int { return a.made.Compare(b.made) })
	return gens
}

// exposedDirs lists the directories of files that every user may write to
// and that have no sticky bit: anyone can rename or delete what shroud
// writes there (a file, ..data, the links) and put their own in its place.
func exposedDirs(files []Rendered) []string {
	var dirs []string
	for _, set := range setsOf(files) {
		dir := filepath.Dir(set[0].Path)
		info, err := os.Stat(dir)
		if err == nil && info.Mode().Perm()&0o002 != 0 && info.Mode()&fs.ModeSticky == 0 {
			dirs = append(dirs, dir)
		}
	}
	return dirs
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
