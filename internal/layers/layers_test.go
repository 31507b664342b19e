// Package layers checks that shroud's packages import each other one way
// only (DESIGN §3): cmd → engine → admin → watch → inject → config → the
// leaves (sources, template, child, logdriver), which import none of each
// other (policy sits on sources alone); and that no test fake is linked
// into the binary.
package layers

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/shroud-dev/shroud/"

// above lists, for each package, the packages it must never import:
// everything on a layer above it, and the other leaves.
var above = map[string][]string{
	"config":    {"inject", "watch", "admin", "engine", "cmd/shroud"},
	"inject":    {"watch", "admin", "engine", "cmd/shroud"},
	"watch":     {"admin", "engine", "cmd/shroud"},
	"admin":     {"engine", "cmd/shroud"},
	"engine":    {"cmd/shroud"},
	"policy":    {"config", "inject", "watch", "admin", "engine", "cmd/shroud", "template", "child", "logdriver"},
	"sources":   {"config", "inject", "watch", "admin", "engine", "cmd/shroud", "template", "child", "logdriver"},
	"template":  {"config", "inject", "watch", "admin", "engine", "cmd/shroud", "sources", "child", "logdriver"},
	"child":     {"config", "inject", "watch", "admin", "engine", "cmd/shroud", "sources", "template", "logdriver"},
	"logdriver": {"config", "inject", "watch", "admin", "engine", "cmd/shroud", "sources", "template", "child"},
}

// fakes are test code: never part of the shipped binary.
var fakes = []string{"internal/awsfake", "internal/kmsfake", "internal/settest", "internal/proctest", "internal/must"}

// deps returns the module's own packages (by path within the module, test
// files aside) with every package of the module each imports, directly or
// not. It reads the sources with go/build, so go test sees the files it
// depends on and never reuses a result across a change.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	direct := map[string][]string{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") && path != "../.." {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files
		}
		rel, _ := filepath.Rel("../..", path)
		for _, imp := range p.Imports {
			if own, ok := strings.CutPrefix(imp, module); ok {
				direct[filepath.ToSlash(rel)] = append(direct[filepath.ToSlash(rel)], own)
			}
		}
		if _, ok := direct[filepath.ToSlash(rel)]; !ok {
			direct[filepath.ToSlash(rel)] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string][]string{}
	for pkg := range direct {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(p string) {
			for _, d := range direct[p] {
				if !seen[d] {
					seen[d] = true
					walk(d)
				}
			}
		}
		walk(pkg)
		for d := range seen {
			all[pkg] = append(all[pkg], d)
		}
	}
	return all
}

// layerOf is the layer a package belongs to: its first path element, or
// cmd/shroud; sources/aws is a sources package.
func layerOf(pkg string) string {
	if strings.HasPrefix(pkg, "cmd/") {
		return "cmd/shroud"
	}
	first, _, _ := strings.Cut(pkg, "/")
	return first
}

func TestImportsRunOneWay(t *testing.T) {
	all := deps(t)
	checked := 0
	for pkg, ds := range all {
		banned, ok := above[layerOf(pkg)]
		if !ok {
			continue
		}
		checked++
		for _, d := range ds {
			if l := layerOf(d); l != layerOf(pkg) && slices.Contains(banned, l) {
				t.Errorf("%s imports %s: %s is on a layer it must not reach", pkg, d, l)
			}
		}
	}
	if checked < len(above) {
		t.Fatalf("checked %d packages, want at least %d: has the layout changed?", checked, len(above))
	}
}

func TestNoFakeInBinary(t *testing.T) {
	bin := deps(t)["cmd/shroud"]
	if len(bin) < 10 {
		t.Fatalf("cmd/shroud depends on %d packages of the module: go list failed?", len(bin))
	}
	for _, f := range fakes {
		if slices.Contains(bin, f) {
			t.Errorf("the shroud binary links %s, a test fake", f)
		}
	}
}
