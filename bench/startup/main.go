// Command startup measures what shroud adds to a command's start-up.
//
// It builds shroud as a release would (the Makefile's flags) and a
// minimal Go program that only execs (the floor of any Go wrapper), then runs,
// interleaved so that machine noise hits all alike:
//
//	true
//	floor true
//	shroud run --config examples/local/shroud.toml -- true
//
// and prints each median, with shroud's cost over the floor and ratios. It
// also sums package init time from GODEBUG=inittrace=1, where linking a heavy
// dependency shows first.
//
//	go run ./bench/startup [-n 300]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

func main() {
	n := flag.Int("n", 300, "runs of each command")
	flag.Parse()

	tmp, shroud, floor := benchutil.Setup("startup", "./bench/startup/floor")
	defer os.RemoveAll(tmp)
	truePath, err := exec.LookPath("true")
	benchutil.Check(err)

	cmds := []struct {
		name string
		argv []string
	}{
		{"true", []string{truePath}},
		{"floor (Go exec)", []string{floor, truePath}},
		{"shroud run (local)", []string{shroud, "run", "--config", "examples/local/shroud.toml", "--", truePath}},
	}
	times := make([][]time.Duration, len(cmds))
	for i := 0; i < *n+10; i++ {
		for j, c := range cmds {
			d := timeRun(c.argv)
			if i >= 10 { // warm-up
				times[j] = append(times[j], d)
			}
		}
	}
	med := make([]time.Duration, len(cmds))
	fmt.Printf("start-up, %d runs each, interleaved (medians):\n", *n)
	for j, c := range cmds {
		med[j] = benchutil.Median(times[j])
		fmt.Printf("  %-20s %8.3f ms   p90 %8.3f ms\n", c.name, benchutil.MS(med[j]), benchutil.MS(benchutil.Percentile(times[j], 0.9)))
	}
	fmt.Printf("shroud over the floor: %+.3f ms (%.2fx the floor, %.2fx true)\n",
		benchutil.MS(med[2]-med[1]), float64(med[2])/float64(med[1]), float64(med[2])/float64(med[0]))
	fmt.Printf("floor over true:       %+.3f ms\n", benchutil.MS(med[1]-med[0]))
	initTrace(shroud)
}

func timeRun(argv []string) time.Duration {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%v: %v\n", argv, err)
		os.Exit(1)
	}
	return time.Since(start)
}

// initTrace prints the package init cost of shroud: the total and the
// heaviest packages.
func initTrace(bin string) {
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	benchutil.Check(cmd.Run())
	type pkg struct {
		name  string
		ms    float64
		bytes int
	}
	var pkgs []pkg
	var total float64
	var totalBytes int
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		// init PKG @T ms, X ms clock, B bytes, A allocs
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] != "init" {
			continue
		}
		clock, _ := strconv.ParseFloat(f[4], 64)
		b, _ := strconv.Atoi(f[7])
		pkgs = append(pkgs, pkg{f[1], clock, b})
		total += clock
		totalBytes += b
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ms > pkgs[j].ms })
	fmt.Printf("package init (GODEBUG=inittrace=1, one run): %.3f ms, %d KiB in %d packages; heaviest:\n", total, totalBytes>>10, len(pkgs))
	for _, p := range pkgs[:min(5, len(pkgs))] {
		fmt.Printf("  %-60s %.3f ms %6d KiB\n", p.name, p.ms, p.bytes>>10)
	}
}
