// Package bounded keeps what shroud reads and parses within bounds: files
// are read only when they are regular and small enough, and structured text
// is checked for nesting before a parser sees it, since a recursive parser
// fed a few megabytes of brackets overflows its stack, which no recover can
// catch.
//
// It imports only the standard library.
package bounded

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile reads the file at path, which must be a regular file of at most
// limit bytes. It opens without blocking, so a FIFO fails at once instead
// of waiting for a writer, and stops reading past limit, so a device such
// as /dev/zero fails instead of filling memory. Errors name the path;
// those of opening are *fs.PathError, for the caller to explain.
func ReadFile(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file%s", path, kind(info.Mode()))
	}
	if info.Size() > limit {
		return nil, nil, tooLarge(path, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit { // it grew since Stat
		return nil, nil, tooLarge(path, limit)
	}
	return data, info, nil
}

// MaxPEM bounds a PEM file: a CA bundle, a certificate or a key. The
// largest system bundles are a few hundred KiB.
const MaxPEM = 4 << 20

func tooLarge(path string, limit int64) error {
	return fmt.Errorf("%s is larger than %s", path, Size(limit))
}

// Size writes a limit for a person: 4 MiB, 64 KiB, 64 bytes.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// kind says what a file that is not regular is, in parentheses.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return " (a directory)"
	case m&fs.ModeNamedPipe != 0:
		return " (a FIFO)"
	case m&fs.ModeSocket != 0:
		return " (a socket)"
	case m&fs.ModeCharDevice != 0:
		return " (a character device)"
	case m&fs.ModeDevice != 0:
		return " (a block device)"
	}
	return ""
}
