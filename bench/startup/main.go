// Command startup measures what shroud adds to a command's start-up, beside
// the floors any Go program with the same work pays, in one interleaved run.
//
// It builds shroud as a release would (the Makefile's flags) and:
//
//   - floor: a Go program that only execs (the floor of any Go wrapper);
//   - sdkfloor: the same, linking the AWS and Alibaba SDKs shroud uses (Go
//     runs every linked package's init before main: the floor of any one
//     binary that carries them);
//   - ssmfloor and smfloor: the SDK floors of a cloud start-up, programs
//     that read the same secrets with aws-sdk-go-v2 (the same module
//     versions and batching: two GetParameters calls at once, one
//     BatchGetSecretValue call) and exec.
//
// The cloud is the in-process AWS fake (internal/awsfake) on loopback
// HTTP, serving 20 SSM parameters and 20 Secrets Manager secrets; every
// request is signed and verified as AWS would. Then it runs, interleaved so
// that machine noise hits all alike:
//
//	true
//	floor true
//	sdkfloor true
//	shroud run --config examples/local/shroud.toml -- true
//	ssmfloor /bench/p00 ... /bench/p19 -- true
//	shroud run --config ssm.toml -- true    (the same 20 parameters)
//	smfloor bench/s00 ... bench/s19 -- true
//	shroud run --config sm.toml -- true     (the same 20 secrets)
//
// and prints for each the median wall time, page faults (minor faults of
// the process, exec'd true included: on a virtual machine they are a large
// part of a start-up, and do not vary from run to run) and peak RSS (GNU
// time's maxrss, in rounds of their own: the high-water mark of the
// process before its exec and of what it execs), the ratios to the floors
// against the goals, the stripped binary sizes, and shroud's package init
// from GODEBUG=inittrace=1, where linking a heavy dependency shows first.
//
//	go run ./bench/startup [-n 300] [-against REV]
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/internal/awsfake"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

// secrets is how many SSM parameters, and how many Secrets Manager
// secrets, a cloud start-up reads.
const secrets = 20

// row is one command and what its runs measured.
type row struct {
	name string
	argv []string
	// check is a variable the command must give its child, checked once
	// with printenv before timing ("" = none), and want its value.
	check, want string
	times       []time.Duration
	faults      []int64
	rss         []int64 // peak RSS, KiB
	// failed counts the runs that failed, left out of the figures; err is
	// what the first said.
	failed int
	err    string
}

func main() {
	n := flag.Int("n", 300, "runs of each command")
	against := benchutil.Against()
	flag.Parse()

	tmp, shroud, floor := benchutil.Setup("startup", "./bench/startup/floor")
	defer os.RemoveAll(tmp)
	bin := func(pkg string) string {
		out := filepath.Join(tmp, filepath.Base(pkg))
		benchutil.Check(benchutil.Build(out, pkg))
		return out
	}
	sdkfloor, ssmfloor, smfloor := bin("./bench/startup/sdkfloor"), bin("./bench/startup/ssmfloor"), bin("./bench/startup/smfloor")
	truePath, err := exec.LookPath("true")
	benchutil.Check(err)

	fake := awsfake.New()
	defer fake.Close()
	names, ids := cloud(fake)
	ssmConfig, smConfig := writeConfigs(tmp, names, ids)
	run := func(bin, config string) []string {
		return []string{bin, "run", "--config", config, "--", truePath}
	}
	rows := []*row{
		{name: "true", argv: []string{truePath}},
		{name: "floor (Go exec)", argv: []string{floor, truePath}},
		{name: "floor + SDKs linked", argv: []string{sdkfloor, truePath}},
		{name: "shroud (local)", argv: run(shroud, "examples/local/shroud.toml")},
		{name: "SDK floor, 20 SSM", argv: floorArgv(ssmfloor, names, truePath), check: "P19", want: "value-p19"},
		{name: "shroud, 20 SSM", argv: run(shroud, ssmConfig), check: "P19", want: "value-p19"},
		{name: "SDK floor, 20 SM", argv: floorArgv(smfloor, ids, truePath), check: "S19", want: "value-s19"},
		{name: "shroud, 20 SM", argv: run(shroud, smConfig), check: "S19", want: "value-s19"},
	}
	if *against != "" {
		old := filepath.Join(tmp, "shroud-against")
		benchutil.Check(benchutil.BuildAt(*against, old))
		rows = append(rows,
			&row{name: "shroud @" + *against + " (local)", argv: run(old, "examples/local/shroud.toml")},
			&row{name: "shroud @" + *against + ", 20 SSM", argv: run(old, ssmConfig), check: "P19", want: "value-p19"},
			&row{name: "shroud @" + *against + ", 20 SM", argv: run(old, smConfig), check: "S19", want: "value-s19"})
	}
	checkRows(rows)

	for i := 0; i < *n+10; i++ {
		for _, r := range rows {
			d, ru, err := timeRun(r.argv)
			if err != "" {
				r.failed++
				r.err = cmp.Or(r.err, err)
				continue
			}
			if i >= 10 { // warm-up
				r.times = append(r.times, d)
				r.faults = append(r.faults, ru.Minflt)
			}
		}
	}
	peaks(rows, max(20, *n/10), tmp)
	fmt.Printf("start-up, %d runs each, interleaved (medians); the cloud is the AWS fake on loopback HTTP:\n", *n)
	for _, r := range rows {
		fmt.Printf("  %-28s %8.3f ms   p90 %8.3f ms   %5d page faults   peak RSS %5.1f MiB\n", r.name, benchutil.MS(r.med()),
			benchutil.MS(benchutil.Percentile(r.times, 0.9)), r.flt(), r.peak())
		if r.failed > 0 {
			fmt.Printf("    %d runs FAILED, left out; the first said: %s\n", r.failed, r.err)
		}
	}
	summary(rows, *against, shroud, ssmfloor, smfloor)
	initTrace(shroud)
}

// summary prints the rows' ratios to their floors against the goals, the
// binaries' sizes, and how shroud compares with shroud at -against.
func summary(rows []*row, against, shroud, ssmfloor, smfloor string) {
	const tru, fl, sdk, local, ssmFl, ssmSh, smFl, smSh = 0, 1, 2, 3, 4, 5, 6, 7 // main's order
	fmt.Printf("floor over true:               %+.3f ms\n", benchutil.MS(rows[fl].med()-rows[tru].med()))
	fmt.Printf("SDKs linked over the floor:    %s\n", over(rows[sdk], rows[fl]))
	fmt.Printf("shroud (local) over the floor: %s\n", over(rows[local], rows[fl]))
	fmt.Println("goals:")
	goal("local → exec, over floor + SDKs linked", rows[local], rows[sdk], 1.10, 50)
	goal("20 SSM → exec, over the SDK floor", rows[ssmSh], rows[ssmFl], 1.05, -1)
	goal("20 SM → exec, over the SDK floor", rows[smSh], rows[smFl], 1.05, -1)
	rssGoal("peak RSS, 20 SSM", rows[ssmSh], rows[ssmFl])
	rssGoal("peak RSS, 20 SM", rows[smSh], rows[smFl])
	sizes(shroud, ssmfloor, smfloor)
	if against != "" {
		fmt.Printf("against shroud @%s:\n", against)
		for i, r := range rows[len(rows)-3:] {
			sh := rows[[]int{local, ssmSh, smSh}[i]]
			fmt.Printf("  %-28s %s\n", sh.name, over(sh, r))
		}
	}
}

// cloud fills the fake with the parameters and secrets a cloud start-up
// reads, and points every command run from now on at it.
func cloud(fake *awsfake.Fake) (names, ids []string) {
	for i := range secrets {
		names = append(names, fmt.Sprintf("/bench/p%02d", i))
		fake.PutParameter("us-east-1", names[i], awsfake.SecureString, fmt.Sprintf("value-p%02d", i))
		ids = append(ids, fmt.Sprintf("bench/s%02d", i))
		fake.PutSecretString("us-east-1", ids[i], fmt.Sprintf("value-s%02d", i))
	}
	for _, kv := range append(fake.Env(), "AWS_REGION=us-east-1") {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	// The fake speaks plain HTTP: a CA bundle or profile from the machine's
	// environment would only add work (or calls) to some commands.
	for _, k := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SESSION_TOKEN"} {
		os.Unsetenv(k)
	}
	return names, ids
}

// writeConfigs writes shroud's configs of the cloud start-ups: each
// parameter or secret into the variable the floor programs use.
func writeConfigs(dir string, names, ids []string) (ssmConfig, smConfig string) {
	write := func(file string, refs []string, ref func(string) string) string {
		var b strings.Builder
		for _, r := range refs {
			fmt.Fprintf(&b, "[[secrets]]\nname = %q\nvalue_from = %q\n\n", strings.ToUpper(filepath.Base(r)), ref(r))
		}
		path := filepath.Join(dir, file)
		benchutil.Check(os.WriteFile(path, []byte(b.String()), 0o600))
		return path
	}
	return write("ssm.toml", names, func(n string) string { return n }),
		write("sm.toml", ids, func(id string) string { return "sm:" + id })
}

// floorArgv is the command line of a floor program: the references, then
// the command.
func floorArgv(bin string, refs []string, argv ...string) []string {
	return slices.Concat([]string{bin}, refs, []string{"--"}, argv)
}

// checkRows runs each command that reads secrets once, with printenv in
// place of true, to know that it read them.
func checkRows(rows []*row) {
	printenv, err := exec.LookPath("printenv")
	benchutil.Check(err)
	for _, r := range rows {
		if r.check == "" {
			continue
		}
		argv := append(slices.Clone(r.argv[:len(r.argv)-1]), printenv, r.check)
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != r.want {
			benchutil.Check(fmt.Errorf("%s: printenv %s said %q, want %q (%v)", r.name, r.check, got, r.want, err))
		}
	}
}

func (r *row) med() time.Duration { return benchutil.Median(r.times) }
func (r *row) flt() int64         { return benchutil.Median(r.faults) }
func (r *row) peak() float64 {
	if len(r.rss) == 0 {
		return math.NaN()
	}
	return float64(benchutil.Median(r.rss)) / 1024
}

// over says how r compares with base: time, ratio, page faults.
func over(r, base *row) string {
	return fmt.Sprintf("%+.3f ms (%.3fx), %+d page faults, peak RSS %+.1f MiB", benchutil.MS(r.med()-base.med()),
		float64(r.med())/float64(base.med()), r.flt()-base.flt(), r.peak()-base.peak())
}

// goal prints r against base and whether the ratio (and, if maxFaults is
// not negative, the added page faults) meet the goal.
func goal(what string, r, base *row, maxRatio float64, maxFaults int64) {
	ratio := float64(r.med()) / float64(base.med())
	ok := ratio <= maxRatio && (maxFaults < 0 || r.flt()-base.flt() <= maxFaults)
	limit := fmt.Sprintf("<= %.2fx", maxRatio)
	if maxFaults >= 0 {
		limit += fmt.Sprintf(", <= %+d faults", maxFaults)
	}
	fmt.Printf("  %-42s %s   goal %s: %s\n", what, over(r, base), limit, benchutil.Verdict(ok))
}

func rssGoal(what string, r, base *row) {
	ratio := r.peak() / base.peak()
	fmt.Printf("  %-42s %.1f MiB, SDK floor %.1f MiB: %.2fx   goal <= 1.20x: %s\n", what, r.peak(), base.peak(), ratio, benchutil.Verdict(ratio <= 1.2))
}

// sizes prints the stripped binaries' sizes against the goal.
func sizes(shroud string, floors ...string) {
	size := func(p string) float64 {
		fi, err := os.Stat(p)
		benchutil.Check(err)
		return float64(fi.Size()) / (1 << 20)
	}
	var fs []string
	for _, f := range floors {
		fs = append(fs, fmt.Sprintf("%s %.1f MiB", filepath.Base(f), size(f)))
	}
	s := size(shroud)
	fmt.Printf("  %-42s %.1f MiB (%s)   goal <= 14 MiB: %s\n", "stripped binary", s, strings.Join(fs, ", "), benchutil.Verdict(s <= 14))
}

// peaks measures each row's peak RSS in runs more rounds, under
// /usr/bin/time: the rusage maxrss of a child that Go starts counts the
// starting process's own RSS (the child shares it until its exec), and
// here that process holds the AWS fake. GNU time forks from its own small
// footprint.
func peaks(rows []*row, runs int, dir string) {
	const gnuTime = "/usr/bin/time"
	if _, err := os.Stat(gnuTime); err != nil {
		fmt.Fprintln(os.Stderr, "bench: no peak RSS without /usr/bin/time (Debian package time)")
		return
	}
	out := filepath.Join(dir, "maxrss")
	for range runs {
		for _, r := range rows {
			if _, _, err := timeRun(append([]string{gnuTime, "-f", "%M", "-o", out}, r.argv...)); err != "" {
				continue // counted in the timed runs
			}
			data, err := os.ReadFile(out)
			benchutil.Check(err)
			kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			benchutil.Check(err)
			r.rss = append(r.rss, kib)
		}
	}
}

// timeRun runs argv and returns its wall time and its resource usage, or
// why it failed.
func timeRun(argv []string) (time.Duration, *syscall.Rusage, string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(stderr.String(), "\n  - ") // one problem of a list is enough
		first, _, _ := strings.Cut(strings.TrimPrefix(stderr.String()[len(msg):], "\n"), "\n")
		return 0, nil, fmt.Sprintf("%v: %s %s", err, strings.TrimSpace(msg), first)
	}
	took := time.Since(start)
	return took, cmd.ProcessState.SysUsage().(*syscall.Rusage), ""
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
