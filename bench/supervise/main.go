// Command supervise measures what a supervising shroud costs while its child
// runs, beside baselines measured in the same run:
//
//   - resident memory (VmRSS from /proc) of
//     shroud run --supervise --config (50 secrets from file: sources) -- sleep
//     and of the same with [rotation] on (the sources watched with inotify
//     and polled every 10 s), beside a minimal Go program that starts sleep
//     and waits for it (the least any Go supervisor costs), and sleep itself;
//   - CPU time and wake-ups while idle over a window (default 60 s) of the
//     same shroud, the same baseline and sleep, and their resident memory
//     at the end of it.
//
// Each RSS figure is the median of -n starts, interleaved so that machine
// noise hits all alike; the idle figures are totals over the window and the
// median of its -step slices.
//
//	go run ./bench/supervise [-n 15] [-idle 60s] [-step 10s] [-against REV]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

const secrets = 50

func main() {
	n := flag.Int("n", 15, "starts of each supervisor for the RSS medians")
	idle := flag.Duration("idle", 60*time.Second, "idle window for CPU time")
	step := flag.Duration("step", 10*time.Second, "slice of the idle window for the median")
	against := benchutil.Against()
	flag.Parse()

	tmp, shroud, baseline := benchutil.Setup("supervise", "./bench/supervise/baseline")
	defer os.RemoveAll(tmp)
	sleep, err := exec.LookPath("sleep")
	benchutil.Check(err)
	config := writeConfig(tmp, "shroud.toml", "")
	rotating := writeConfig(tmp, "rotation.toml", rotationTable)

	supervisors := []struct {
		name string
		argv []string
	}{
		{"shroud run --supervise", []string{shroud, "run", "--supervise", "--config", config, "--", sleep, "600"}},
		{"baseline (Go, fork+wait)", []string{baseline, sleep, "600"}},
		{"shroud run, rotation on", []string{shroud, "run", "--config", rotating, "--", sleep, "600"}},
	}
	if *against != "" { // measured beside, reported after the others
		old := filepath.Join(tmp, "shroud-against")
		benchutil.Check(benchutil.BuildAt(*against, old))
		supervisors = append(supervisors, []struct {
			name string
			argv []string
		}{
			{"--supervise @" + *against, []string{old, "run", "--supervise", "--config", config, "--", sleep, "600"}},
			{"rotation on @" + *against, []string{old, "run", "--config", rotating, "--", sleep, "600"}},
		}...)
	}

	// Resident memory after start.
	rss := make([][]int, len(supervisors)+1)
	for i := 0; i < *n; i++ {
		for j, s := range supervisors {
			p := start(s.argv)
			time.Sleep(300 * time.Millisecond) // past start-up work
			rss[j] = append(rss[j], rssKiB(p.pid))
			if j == 0 {
				rss[len(supervisors)] = append(rss[len(supervisors)], rssKiB(p.child))
			}
			p.stop()
		}
	}
	fmt.Printf("resident memory after start, %d starts each, interleaved (medians):\n", *n)
	med := make([]int, len(rss))
	for j := range rss {
		med[j] = benchutil.Median(rss[j])
	}
	for j, s := range supervisors {
		fmt.Printf("  %-28s %6.2f MiB  (min %.2f, max %.2f)\n", s.name, mib(med[j]), mib(slices.Min(rss[j])), mib(slices.Max(rss[j])))
	}
	fmt.Printf("  %-28s %6.2f MiB\n", "sleep (the child)", mib(med[len(supervisors)]))
	fmt.Printf("shroud over the baseline: %+.2f MiB (%.2fx the baseline); goal <= 12 MiB: %s\n",
		mib(med[0]-med[1]), float64(med[0])/float64(med[1]), benchutil.Verdict(mib(med[0]) <= 12))
	fmt.Printf("with rotation on: %+.2f MiB over the baseline (%.2fx), %+.2f MiB over --supervise; goal <= 12 MiB: %s\n",
		mib(med[2]-med[1]), float64(med[2])/float64(med[1]), mib(med[2]-med[0]), benchutil.Verdict(mib(med[2]) <= 12))
	fmt.Printf("with %d secrets bound from file: sources; rotation on: %s\n\n", secrets, strings.ReplaceAll(strings.TrimSpace(rotationTable), "\n", "; "))

	// CPU while idle: all at once, over the same window.
	var procs []*proc
	for _, s := range supervisors {
		procs = append(procs, start(s.argv))
	}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	time.Sleep(time.Second) // past start-up work
	type sample struct{ cpu, wakeups []int64 }
	type task struct {
		name string
		pid  int
	}
	var tasks []task
	for i, s := range supervisors {
		tasks = append(tasks, task{s.name, procs[i].pid})
	}
	tasks = append(tasks, task{"sleep (shroud's child)", procs[0].child})
	samples := make([]sample, len(tasks))
	record := func() {
		for i, t := range tasks {
			cpu, wake := usage(t.pid)
			samples[i].cpu = append(samples[i].cpu, cpu)
			samples[i].wakeups = append(samples[i].wakeups, wake)
		}
	}
	record()
	for elapsed := time.Duration(0); elapsed < *idle; elapsed += *step {
		time.Sleep(min(*step, *idle-elapsed))
		record()
	}
	secs := idle.Seconds()
	fmt.Printf("idle for %v (CPU time from /proc/PID/task/*/schedstat, wake-ups = context switches):\n", *idle)
	total := make([]int64, len(tasks))
	for i, t := range tasks {
		s := samples[i]
		cpu := s.cpu[len(s.cpu)-1] - s.cpu[0]
		wake := s.wakeups[len(s.wakeups)-1] - s.wakeups[0]
		total[i] = cpu
		fmt.Printf("  %-28s CPU %8.3f ms (%.4f%% of a core; median slice %.3f ms), %6d wake-ups (%.2f/s)\n",
			t.name, ms(cpu), 100*float64(cpu)/1e9/secs, ms(medianDelta(s.cpu)), wake, float64(wake)/secs)
	}
	fmt.Printf("shroud over the baseline: %+.3f ms of CPU in %v; shroud over sleep: %+.3f ms\n",
		ms(total[0]-total[1]), *idle, ms(total[0]-total[len(tasks)-1]))
	fmt.Printf("rotation on over the baseline: %+.3f ms of CPU in %v (%.4f%% of a core); goal ~0: %s\n",
		ms(total[2]-total[1]), *idle, 100*float64(total[2]-total[1])/1e9/secs, benchutil.Verdict(float64(total[2]-total[1])/1e9/secs < 0.001))
	// Start-up memory given back can come back as the supervisor works: the
	// resident memory again, at the end of the window.
	fmt.Printf("resident memory at the end of the idle window:\n")
	for i, s := range supervisors {
		fmt.Printf("  %-28s %6.2f MiB\n", s.name, mib(rssKiB(procs[i].pid)))
	}
}

// rotationTable turns rotation on: the 50 file: sources are watched with
// inotify and also read every interval, short enough that polls fall in
// the idle window.
const rotationTable = `
[rotation]
interval = "10s"
`

// writeConfig writes 50 secret files and a config binding each to an env
// var, with extra appended; it returns the config's path.
func writeConfig(dir, name, extra string) string {
	var cfg strings.Builder
	benchutil.Check(os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	for i := 0; i < secrets; i++ {
		name := fmt.Sprintf("s%02d", i)
		benchutil.Check(os.WriteFile(filepath.Join(dir, "secrets", name), []byte(fmt.Sprintf("bench-value-%02d-%s", i, strings.Repeat("x", 32))), 0o600))
		fmt.Fprintf(&cfg, "[[secrets]]\nname = \"SECRET_%02d\"\nvalue_from = \"file:secrets/%s\"\n\n", i, name)
	}
	cfg.WriteString(extra)
	path := filepath.Join(dir, name)
	benchutil.Check(os.WriteFile(path, []byte(cfg.String()), 0o600))
	return path
}

type proc struct {
	cmd   *exec.Cmd
	pid   int
	child int
}

// start runs a supervisor and waits until its child runs.
func start(argv []string) *proc {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	benchutil.Check(cmd.Start())
	p := &proc{cmd: cmd, pid: cmd.Process.Pid}
	deadline := time.Now().Add(30 * time.Second)
	for p.child == 0 {
		// Each thread lists the children it forked: the Go runtime forks
		// from any of them.
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.pid))
		for _, t := range tasks {
			data, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(data)) {
				pid, _ := strconv.Atoi(f)
				// Past the fork: wait for the exec of sleep.
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "sleep" {
					p.child = pid
				}
			}
		}
		if time.Now().After(deadline) {
			benchutil.Check(fmt.Errorf("%v: no child after 30s", argv))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return p
}

// stop ends the child (shroud then exits with its status, as the baseline
// does) and waits for the supervisor.
func (p *proc) stop() {
	syscall.Kill(p.child, syscall.SIGTERM)
	p.cmd.Wait()
}

// rssKiB reads VmRSS of pid.
func rssKiB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	benchutil.Check(err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			benchutil.Check(err)
			return kb
		}
	}
	benchutil.Check(errors.New("no VmRSS"))
	return 0
}

// usage sums, over the threads of pid, the CPU time in ns and the context
// switches (each one a wake-up or a preemption).
func usage(pid int) (cpuNs, switches int64) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	benchutil.Check(err)
	for _, t := range tasks {
		dir := fmt.Sprintf("/proc/%d/task/%s/", pid, t.Name())
		if data, err := os.ReadFile(dir + "schedstat"); err == nil {
			if f := strings.Fields(string(data)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				cpuNs += ns
			}
		}
		if data, err := os.ReadFile(dir + "status"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				for _, key := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
					if v, ok := strings.CutPrefix(line, key); ok {
						n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
						switches += n
					}
				}
			}
		}
	}
	return cpuNs, switches
}

// medianDelta is the median of the differences between successive samples.
func medianDelta(v []int64) int64 {
	var d []int64
	for i := 1; i < len(v); i++ {
		d = append(d, v[i]-v[i-1])
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[(len(d)-1)/2]
}

func mib(kib int) float64 { return float64(kib) / 1024 }
func ms(ns int64) float64 { return float64(ns) / 1e6 }
