package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/sources"
)

// generationsIn counts the generation directories of a set in dir.
func generationsIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var gens []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			gens = append(gens, e.Name())
		}
	}
	return gens
}

// TestWatchRetiresGenerationsInTime: after a burst of rotations of a set,
// the replaced generations, which hold old secret values, leave the disk
// once their grace has passed (5 s), with no further rotation: only the
// current one remains. Before, the one before the current stayed until the
// next rotation, however long that took.
func TestWatchRetiresGenerationsInTime(t *testing.T) {
	dir := t.TempDir()
	replace(t, filepath.Join(dir, "src/user"), "app")
	replace(t, filepath.Join(dir, "src/pw"), "v0-"+canary)
	w := newWorld(t, dir, `[rotation]
interval = "0"
on_change = "none"
[[files]]
path = "out/user"
value_from = "file:src/user"
[[files]]
path = "out/pw"
value_from = "file:src/pw"
`, sources.NewResolver())
	w.watch(t)
	for i := 1; i <= 5; i++ {
		value := fmt.Sprintf("v%d-%s", i, canary)
		w.put(t, "src/pw", value)
		w.await(t, "rotation "+value, func() bool { return w.read("out/pw") == value })
	}
	burst := time.Now()
	if gens := generationsIn(t, w.path("out")); len(gens) < 2 {
		t.Fatalf("generations right after the burst: %v; want the replaced ones kept for their grace", gens)
	}
	w.await(t, "the replaced generations retired", func() bool { return len(generationsIn(t, w.path("out"))) == 1 })
	if took := time.Since(burst); took > 7*time.Second {
		t.Errorf("retired %v after the burst; want the 5 s grace and little more", took)
	}
	current, _ := os.Readlink(w.path("out/..data"))
	if gens := generationsIn(t, w.path("out")); gens[0] != current {
		t.Errorf("kept %v, not the current %s", gens, current)
	}
	if got := w.read("out/pw"); got != "v5-"+canary {
		t.Errorf("out/pw = %q", got)
	}
}
