// Command startup measures what shroud adds to a command's start-up.
//
// It builds shroud as a release would (the Makefile's flags), a minimal Go
// program that only execs (the floor of any Go wrapper), and the same
// program linking the AWS and Alibaba SDKs shroud uses (the floor of any
// one binary that carries them: Go runs every linked package's init before
// main). Then it runs, interleaved so that machine noise hits all alike:
//
//	true
//	floor true
//	sdkfloor true
//	shroud run --config examples/local/shroud.toml -- true
//
// and prints each median wall time and page faults (minor faults of the
// process, exec'd true included), shroud's cost over each floor, and the
// package init time from GODEBUG=inittrace=1, where linking a heavy
// dependency shows first. On a virtual machine page faults are a large
// part of a start-up, and they do not vary from run to run.
//
//	go run ./bench/startup [-n 300] [-against REV]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

func main() {
	n := flag.Int("n", 300, "runs of each command")
	against := benchutil.Against()
	flag.Parse()

	tmp, shroud, floor := benchutil.Setup("startup", "./bench/startup/floor")
	defer os.RemoveAll(tmp)
	sdkfloor := filepath.Join(tmp, "sdkfloor")
	benchutil.Check(benchutil.Build(sdkfloor, "./bench/startup/sdkfloor"))
	truePath, err := exec.LookPath("true")
	benchutil.Check(err)

	cmds := []struct {
		name string
		argv []string
	}{
		{"true", []string{truePath}},
		{"floor (Go exec)", []string{floor, truePath}},
		{"floor + SDKs linked", []string{sdkfloor, truePath}},
		{"shroud run (local)", []string{shroud, "run", "--config", "examples/local/shroud.toml", "--", truePath}},
	}
	if *against != "" {
		old := filepath.Join(tmp, "shroud-against")
		benchutil.Check(benchutil.BuildAt(*against, old))
		cmds = append(cmds, struct {
			name string
			argv []string
		}{"shroud @" + *against, []string{old, "run", "--config", "examples/local/shroud.toml", "--", truePath}})
	}
	times := make([][]time.Duration, len(cmds))
	faults := make([][]int64, len(cmds))
	for i := 0; i < *n+10; i++ {
		for j, c := range cmds {
			d, f := timeRun(c.argv)
			if i >= 10 { // warm-up
				times[j] = append(times[j], d)
				faults[j] = append(faults[j], f)
			}
		}
	}
	med := make([]time.Duration, len(cmds))
	flt := make([]int64, len(cmds))
	fmt.Printf("start-up, %d runs each, interleaved (medians):\n", *n)
	for j, c := range cmds {
		med[j], flt[j] = benchutil.Median(times[j]), benchutil.Median(faults[j])
		fmt.Printf("  %-20s %8.3f ms   p90 %8.3f ms   %5d page faults\n", c.name, benchutil.MS(med[j]),
			benchutil.MS(benchutil.Percentile(times[j], 0.9)), flt[j])
	}
	const fl, sdk, sh = 1, 2, 3
	fmt.Printf("shroud over the floor:         %+.3f ms (%.2fx the floor, %.2fx true), %+d page faults\n",
		benchutil.MS(med[sh]-med[fl]), float64(med[sh])/float64(med[fl]), float64(med[sh])/float64(med[0]), flt[sh]-flt[fl])
	fmt.Printf("SDKs linked over the floor:    %+.3f ms (%.2fx the floor), %+d page faults\n",
		benchutil.MS(med[sdk]-med[fl]), float64(med[sdk])/float64(med[fl]), flt[sdk]-flt[fl])
	fmt.Printf("shroud over the SDK floor:     %+.3f ms (%.2fx), %+d page faults\n",
		benchutil.MS(med[sh]-med[sdk]), float64(med[sh])/float64(med[sdk]), flt[sh]-flt[sdk])
	fmt.Printf("floor over true:               %+.3f ms\n", benchutil.MS(med[fl]-med[0]))
	if *against != "" {
		const old = 4
		fmt.Printf("shroud over shroud @%s:  %+.3f ms (%.3fx), %+d page faults\n", *against,
			benchutil.MS(med[sh]-med[old]), float64(med[sh])/float64(med[old]), flt[sh]-flt[old])
	}
	initTrace(shroud)
}

// timeRun runs argv and returns its wall time and its minor page faults.
func timeRun(argv []string) (time.Duration, int64) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%v: %v\n", argv, err)
		os.Exit(1)
	}
	took := time.Since(start)
	return took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Minflt
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
