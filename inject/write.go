package inject

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data, atomically: readers see the
// old content or the new, never a part. It writes a temporary file in the
// same directory (created 0600), fsyncs it, renames it over path and fsyncs
// the directory, so the change also survives a crash. Missing parent
// directories are created 0700. A symbolic link at path is refused rather
// than followed or replaced.
//
// When the file already holds data with mode, nothing is written and changed
// is false, so unchanged secrets cause no notification.
func WriteFile(path string, data []byte, mode fs.FileMode) (changed bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("writing %s: creating its directory: %w", path, err)
	}
	info, err := os.Lstat(path)
	switch {
	case err == nil && info.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("writing %s: refusing to replace a symbolic link; remove it or choose another path", path)
	case err == nil && !info.Mode().IsRegular():
		return false, fmt.Errorf("writing %s: it exists and is not a regular file", path)
	case err == nil && info.Mode().Perm() == mode.Perm() && sameContent(path, data):
		return false, nil
	case err != nil && !os.IsNotExist(err):
		return false, fmt.Errorf("writing %s: %w", path, err)
	}

	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Chmod(mode.Perm()); err != nil {
		return false, fmt.Errorf("writing %s: setting mode: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err = syncDir(dir); err != nil {
		return true, fmt.Errorf("writing %s: syncing its directory: %w", path, err)
	}
	return true, nil
}

func sameContent(path string, data []byte) bool {
	old, err := os.ReadFile(path)
	return err == nil && bytes.Equal(old, data)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
