package inject

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/paths"
)

// Rendered is the content of one file, and where and how to write it.
type Rendered struct {
	Path  string
	Mode  fs.FileMode
	Owner *config.Owner
	Root  string
	Data  []byte
}

// WriteOptions change what Write does.
type WriteOptions struct {
	// DryRun checks every file and says what would change, writing
	// nothing (render --dry-run, check).
	DryRun bool
}

// Result says what a Write changed, or would change.
type Result struct {
	// Changed are the files whose content, mode or owner changed, in the
	// order given.
	Changed []Rendered
	// RetireAt is when a replaced generation of a set will have had its
	// grace, for Retire to remove it; zero when none waits.
	RetireAt time.Time
	// Exposed are the directories of the files that every user may write
	// to without the sticky bit: anyone there can replace the files, so
	// the caller warns.
	Exposed []string
}

// Paths are the paths of Changed.
func (r Result) Paths() []string {
	paths := make([]string, len(r.Changed))
	for i, f := range r.Changed {
		paths[i] = f.Path
	}
	return paths
}

// Write is the one place shroud writes files. It replaces each file
// atomically: readers see the old content or the new, never a part. Every
// file is checked first (files_root, symbolic links, owner), so one bad
// file stops them all before anything is written. A file alone in its
// directory is replaced by a rename (see writeAlone); the files of a
// directory that holds several are a set, switched all at once (see
// writeSet). Files that already hold their content, mode and owner are not
// touched, so unchanged secrets cause no notification. Replaced generations
// of sets past their grace are removed (see Retire); the Result says when
// the next will be, and which directories any user could write to.
func Write(files []Rendered, opt WriteOptions) (Result, error) {
	var (
		errs  *multierror.Error
		would = Result{Exposed: exposedDirs(files)}
	)
	for _, f := range files {
		changes, err := f.wouldChange()
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		if changes {
			would.Changed = append(would.Changed, f)
		}
	}
	if errs != nil || opt.DryRun {
		return would, config.ListErrors(errs)
	}
	res := Result{Exposed: would.Exposed}
	for _, set := range setsOf(files) {
		var (
			changed []Rendered
			err     error
		)
		if len(set) > 1 {
			changed, err = writeSet(set)
		} else {
			changed, err = writeAlone(set[0])
		}
		res.Changed = append(res.Changed, changed...)
		errs = multierror.Append(errs, err)
	}
	res.RetireAt = Retire(files)
	return res, config.ListErrors(errs)
}

// writeAlone replaces a file with its data: it writes a temporary file in
// the same directory (created 0600), sets its mode and owner, fsyncs it,
// renames it over the path and fsyncs the directory, so the change also
// survives a crash. On any error the temporary file is removed and the old
// file is left as it was.
//
// Missing directories are created 0700, owned by the file's owner when it
// has one (so that owner can reach it). A symbolic link at the path is
// refused rather than followed or replaced. With a Root (files_root), the
// path must lie inside it, no directory between the root and the file may
// be a symbolic link, and every operation goes through an os.Root, so a
// link swapped in meanwhile still cannot lead outside.
func writeAlone(r Rendered) (changed []Rendered, err error) {
	t, err := r.open(true)
	if err != nil {
		return nil, err
	}
	defer t.root.Close()
	t.removeStale()
	if t.holds(r) {
		return nil, nil
	}
	// O_EXCL makes the name safe; randomness only avoids collisions
	// (math/rand, as crypto/rand would add its package init to every start).
	tmp := filepath.Join(filepath.Dir(t.name), tmpPrefix(t.name)+strconv.FormatUint(rand.Uint64(), 36))
	if err := writeInto(t.root, tmp, r); err != nil {
		t.root.Remove(tmp)
		return nil, fmt.Errorf("writing %s: %w", r.Path, err)
	}
	if err := t.root.Rename(tmp, t.name); err != nil {
		t.root.Remove(tmp)
		return nil, fmt.Errorf("writing %s: %w", r.Path, err)
	}
	if err := syncDir(t.root, filepath.Dir(t.name)); err != nil {
		return []Rendered{r}, fmt.Errorf("writing %s: syncing its directory: %w", r.Path, err)
	}
	return []Rendered{r}, nil
}

// staleAge is how old a temporary file must be to count as left behind by
// a write that crashed, rather than one under way in another process.
const staleAge = time.Minute

// tmpPrefix begins the name of the temporary files of a write of name.
func tmpPrefix(name string) string { return "." + filepath.Base(name) + ".tmp-" }

// removeStale removes the temporary files that a write killed between
// create and rename left beside the file: each holds a copy of a secret.
func (t *place) removeStale() {
	prefix, dir := tmpPrefix(t.name), filepath.Dir(t.name)
	d, err := t.root.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		path := filepath.Join(dir, name)
		if info, err := t.root.Lstat(path); err == nil && info.Mode().IsRegular() && time.Since(info.ModTime()) > staleAge {
			t.root.Remove(path)
		}
	}
}

// wouldChange checks the file as Write does and reports whether Write
// would change it. It creates and writes nothing.
func (r Rendered) wouldChange() (bool, error) {
	t, err := r.open(false)
	if err != nil {
		return false, err
	}
	if t.root == nil { // a directory is missing: the file is new
		return true, nil
	}
	defer t.root.Close()
	return !t.holds(r), nil
}

// place is where a Rendered file goes, opened and checked.
type place struct {
	root *os.Root // files_root, or the file's directory; nil when missing
	name string   // the file, relative to root
	info fs.FileInfo
}

// open checks the file's place: inside Root, no symbolic link on the way
// or at the path, an owner shroud may give. With create, missing
// directories are made; without, open stops at the first missing one and
// returns a place with no root.
func (r Rendered) open(create bool) (*place, error) {
	fail := func(format string, args ...any) (*place, error) {
		return nil, fmt.Errorf("writing %s: %s", r.Path, fmt.Sprintf(format, args...))
	}
	if err := checkFileOwner(r.Owner); err != nil {
		return fail("%v", err)
	}
	top := r.Root
	if top == "" {
		top = filepath.Dir(r.Path)
	}
	if !paths.Within(top, r.Path) {
		return fail("the path is outside files_root %s", top)
	}
	rel, _ := filepath.Rel(top, r.Path)
	if create {
		if err := mkdirAll(top, r.Owner); err != nil {
			return fail("creating its directory: %v", err)
		}
	}
	root, err := os.OpenRoot(top)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return &place{name: rel}, nil
	}
	if err != nil {
		return fail("%v", err)
	}
	t := &place{root: root, name: rel}
	if err := t.walk(r, create); err != nil {
		root.Close()
		return nil, err
	}
	return t, nil
}

// mkdirAll creates dir and its missing parents 0700, as os.MkdirAll does.
// With an owner, the directories it creates are the owner's, who could not
// otherwise reach the file (and only those: a directory that exists is
// left as it is).
func mkdirAll(dir string, owner *config.Owner) error {
	if info, err := os.Stat(dir); err == nil {
		if !info.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent, owner); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile, by someone else
		}
		return err
	}
	if owner != nil {
		return os.Lchown(dir, owner.UID, owner.GID)
	}
	return nil
}

// walk checks every directory between the root and the file, and the file.
func (t *place) walk(r Rendered, create bool) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("writing %s: %s", r.Path, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(filepath.ToSlash(t.name), "/")
	for i := range parts[:len(parts)-1] {
		dir := filepath.Join(parts[:i+1]...)
		info, err := t.root.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := t.root.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fail("creating %s: %v", dir, err)
			} else if err == nil && r.Owner != nil {
				if err := t.root.Lchown(dir, r.Owner.UID, r.Owner.GID); err != nil {
					return fail("giving %s to %s: %v", dir, r.Owner, err)
				}
			}
			continue
		case errors.Is(err, fs.ErrNotExist):
			t.root.Close()
			t.root = nil // nothing further exists: the file would be new
			return nil
		case err != nil:
			return fail("%v", err)
		case info.Mode()&fs.ModeSymlink != 0:
			return fail("%s is a symbolic link inside files_root %s; refusing to follow it (make it a directory)", filepath.Join(t.root.Name(), dir), t.root.Name())
		case !info.IsDir():
			return fail("%s is not a directory", filepath.Join(t.root.Name(), dir))
		}
	}
	info, err := t.root.Lstat(t.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fail("%v", err)
	case info.Mode()&fs.ModeSymlink != 0:
		if !t.layoutLink() {
			return fail("refusing to replace a symbolic link; remove it or choose another path")
		}
		// One of shroud's own links into ..data (see writeSet): what
		// counts is the file it leads to.
		if info, err = t.root.Stat(t.name); err != nil {
			return fail("%v", err)
		}
		if !info.Mode().IsRegular() {
			return fail("%s leads to something that is not a regular file", dataLink)
		}
	case !info.Mode().IsRegular():
		return fail("it exists and is not a regular file")
	}
	t.info = info
	return nil
}

// layoutLink reports whether the file is a symbolic link to ..data/NAME,
// the layout writeSet makes.
func (t *place) layoutLink() bool {
	dest, err := t.root.Readlink(t.name)
	return err == nil && dest == dataLink+"/"+filepath.Base(t.name)
}

// holds reports whether the file already has r's content, mode and owner.
func (t *place) holds(r Rendered) bool {
	if t.info == nil || t.info.Mode().Perm() != r.Mode.Perm() || t.info.Size() != int64(len(r.Data)) {
		return false
	}
	if r.Owner != nil {
		st, ok := t.info.Sys().(*syscall.Stat_t)
		if !ok || int(st.Uid) != r.Owner.UID || int(st.Gid) != r.Owner.GID {
			return false
		}
	}
	old, err := t.root.ReadFile(t.name)
	return err == nil && bytes.Equal(old, r.Data)
}

// writeInto creates name in d with f's content, mode and owner, durably.
func writeInto(d *os.Root, name string, f Rendered) (err error) {
	fh, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := fh.Write(f.Data); err != nil {
		return err
	}
	if err := fh.Chmod(f.Mode.Perm()); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if f.Owner != nil {
		if err := fh.Chown(f.Owner.UID, f.Owner.GID); err != nil {
			return fmt.Errorf("setting owner %s: %w", f.Owner, err)
		}
	}
	return fsync(fh)
}

func syncDir(d *os.Root, name string) error {
	dir, err := d.Open(name)
	if err != nil {
		return err
	}
	defer dir.Close()
	return fsync(dir)
}

// fsync is every fsync the writer makes, of a file or a directory. It is a
// variable so that a test can see each one made, and when: durability is
// invisible otherwise.
var fsync = (*os.File).Sync

// checkFileOwner tells, before anything is written, whether shroud may give
// a file to owner: root may; another user only keeps files as its own,
// with its own group or one it belongs to.
func checkFileOwner(o *config.Owner) error {
	euid := os.Geteuid()
	if o == nil || euid == 0 {
		return nil
	}
	if o.UID != euid {
		return fmt.Errorf("owner %s: shroud runs as uid %d and only root can give a file to another user; run shroud as root or remove owner", o, euid)
	}
	if o.GID == os.Getegid() {
		return nil
	}
	groups, _ := os.Getgroups()
	if !slices.Contains(groups, o.GID) {
		return fmt.Errorf("owner %s: shroud runs as uid %d, which is not in group %d; run shroud as root or remove owner", o, euid, o.GID)
	}
	return nil
}
