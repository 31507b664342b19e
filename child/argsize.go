package child

import (
	"fmt"
	"sort"
	"strings"
)

// The limits of execve on the size of a new program's arguments and
// environment differ by system: checkExecSize, which reports going over
// them with these helpers, is in argsize_linux.go and argsize_darwin.go.

// envName returns the NAME of NAME=value.
func envName(kv string) string {
	name, _, _ := strings.Cut(kv, "=")
	return name
}

// largestVars names the n largest variables of env, with their sizes.
func largestVars(env []string, n int) string {
	sorted := append([]string(nil), env...)
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	var names []string
	for _, kv := range sorted[:min(n, len(sorted))] {
		names = append(names, fmt.Sprintf("%s (%d bytes)", envName(kv), len(kv)))
	}
	return strings.Join(names, ", ")
}
