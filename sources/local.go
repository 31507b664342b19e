package sources

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/shroud-dev/shroud/internal/bounded"
)

// maxFileSize bounds a file: secret, so a reference to a device or a log
// file fails fast instead of filling memory.
const maxFileSize = 16 << 20

// FileSource reads file: references from the local filesystem. Symbolic links
// are followed, as Kubernetes secret volumes use them; the target must be a
// regular file. Relative paths are relative to the working directory: callers
// that read a config file make them absolute first.
type FileSource struct{}

// Fetch reads each file. The version is the file's modification time.
func (FileSource) Fetch(ctx context.Context, refs []Ref) []Result {
	out := make([]Result, len(refs))
	for i, ref := range refs {
		out[i] = readFile(ref.ID)
	}
	return out
}

func readFile(path string) Result {
	data, info, err := bounded.ReadFile(path, maxFileSize)
	if err != nil {
		return Result{Err: fileError(err)}
	}
	return Result{Value: Value{Data: data, Version: info.ModTime().UTC().Format(time.RFC3339Nano)}}
}

// fileError keeps the path and the cause of a filesystem error.
func fileError(err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if errors.As(err, &pe) {
			return fmt.Errorf("file %s does not exist", pe.Path)
		}
	case errors.Is(err, fs.ErrPermission):
		if errors.As(err, &pe) {
			return fmt.Errorf("file %s: permission denied", pe.Path)
		}
	}
	return err
}

// EnvSource reads env: references from the wrapper's own environment.
type EnvSource struct {
	// Lookup defaults to os.LookupEnv.
	Lookup func(string) (string, bool)
}

// Fetch looks up each variable; an unset variable is an error, an empty one
// is a value.
func (s EnvSource) Fetch(ctx context.Context, refs []Ref) []Result {
	lookup := s.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	out := make([]Result, len(refs))
	for i, ref := range refs {
		v, ok := lookup(ref.ID)
		if !ok {
			out[i].Err = fmt.Errorf("variable %s is not set in shroud's environment", ref.ID)
			continue
		}
		out[i].Value = Value{Data: []byte(v)}
	}
	return out
}
