// Package paths holds the path rules that both the config checks and the
// file writer apply, so the two can never disagree.
package paths

import (
	"path/filepath"
	"slices"
	"strings"
)

// Within reports whether path lies strictly inside dir; both are clean and
// absolute.
func Within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// HasDotDot reports whether a path still climbs with ".." once cleaned.
func HasDotDot(p string) bool {
	return slices.Contains(strings.Split(filepath.ToSlash(filepath.Clean(p)), "/"), "..")
}
