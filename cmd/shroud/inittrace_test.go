package main

import (
	"fmt"
	"strings"
	"testing"
)

// initAllocs runs shroud version with GODEBUG=inittrace=1 and returns the
// bytes each package's init allocated.
func initAllocs(t *testing.T, env ...string) map[string]int {
	t.Helper()
	r := shroud(t, t.TempDir(), append(env, "GODEBUG=inittrace=1"), "version")
	if r.code != 0 {
		t.Fatalf("shroud version: exit %d, %s", r.code, r.stderr)
	}
	allocs := map[string]int{}
	for line := range strings.Lines(r.stderr) {
		// init PKG @T ms, X ms clock, B bytes, A allocs
		var pkg string
		var at, clock float64
		var bytes, n int
		if _, err := fmt.Sscanf(line, "init %s @%f ms, %f ms clock, %d bytes, %d allocs", &pkg, &at, &clock, &bytes, &n); err == nil {
			allocs[pkg] = bytes
		}
	}
	if len(allocs) == 0 {
		t.Fatalf("no init trace in shroud's stderr:\n%s", r.stderr)
	}
	return allocs
}

// TestOwnPackagesInitLazily: shroud's own packages do next to nothing
// before main (no regexp compiled, no table built at every start): what a
// command needs is made when it is first needed.
func TestOwnPackagesInitLazily(t *testing.T) {
	own, total := map[string]int{}, 0
	for pkg, bytes := range initAllocs(t) {
		if strings.HasPrefix(pkg, "github.com/shroud-dev/shroud/") || pkg == "main" {
			own[pkg] = bytes
			total += bytes
		}
	}
	if total > 4<<10 {
		t.Errorf("shroud's own packages allocated %d bytes at init, want under 4 KiB: %v", total, own)
	}
}
