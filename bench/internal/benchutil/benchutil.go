// Package benchutil holds what shroud's benchmarks share: building binaries
// as a release is built, and order statistics for noisy timings.
package benchutil

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Build builds the package pkg into out with the Makefile's release flags:
// static, trimmed paths, stripped, without urfave/cli's docs generator.
func Build(out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags=-s -w -X main.version=bench", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

// Setup makes a benchmark's temporary directory and builds shroud (and
// the baseline package, if given) into it with Build. It returns the
// directory, which the caller removes, and the two binaries' paths.
func Setup(name, baselinePkg string) (dir, shroud, baseline string) {
	dir, err := os.MkdirTemp("", "shroud-bench-"+name+"-")
	Check(err)
	shroud = filepath.Join(dir, "shroud")
	Check(Build(shroud, "./cmd/shroud"))
	if baselinePkg != "" {
		baseline = filepath.Join(dir, "baseline")
		Check(Build(baseline, baselinePkg))
	}
	return dir, shroud, baseline
}

// Against registers -against REV: a git revision whose shroud the
// benchmark also runs, in the same interleaved rounds, so a change is
// measured against what it changes (go run ./bench/startup -against main).
func Against() *string {
	return flag.String("against", "", "also measure shroud as built at git revision `REV`, interleaved")
}

// BuildAt builds shroud as of the git revision rev into out, with Build's
// flags, from a temporary worktree of this repository.
func BuildAt(rev, out string) error {
	tree, err := os.MkdirTemp("", "shroud-bench-rev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	add := exec.Command("git", "worktree", "add", "--detach", "--force", tree, rev)
	add.Stderr = os.Stderr
	if err := add.Run(); err != nil {
		return fmt.Errorf("checking out %s: %w", rev, err)
	}
	defer exec.Command("git", "worktree", "remove", "--force", tree).Run()
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags=-s -w -X main.version=bench", "-o", abs, "./cmd/shroud")
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building shroud at %s: %w", rev, err)
	}
	return nil
}

// Median returns the middle value of v (the lower one for an even count).
func Median[T cmp.Ordered](v []T) T { return Percentile(v, 0.5) }

// Percentile returns the value at fraction p (0..1) of v, sorted.
func Percentile[T cmp.Ordered](v []T, p float64) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// MS converts a duration to milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Check ends the benchmark with err, if any.
func Check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Verdict says whether a goal is met.
func Verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
