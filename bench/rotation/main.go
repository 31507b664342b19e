//go:build linux

// Linux only: its processes die with their parent by PR_SET_PDEATHSIG.

// Command rotation measures the latency from a secret's change becoming
// visible to the child receiving its signal, through a real shroud run:
//
//   - fsnotify: a file: source is replaced by a rename (as the kubelet and
//     editors do); shroud reads it, writes the output file atomically and
//     sends SIGHUP. Beside it, in the same run and the same way, the floor
//     of any watcher: a Go program that sends SIGHUP at every fsnotify
//     event and reads and writes nothing (bench/rotation/baseline).
//   - polling: a new version is put in the KMS fake (through the real
//     Alibaba SDK over loopback); shroud polls its version every -interval,
//     reads the value, writes the file and sends SIGHUP. The change waits
//     for the next poll, so the latency is spread over the interval; the
//     goal is at most interval + 50 ms.
//
// The child is this program in child mode: it prints the wall-clock time of
// each SIGHUP. Rotations are spaced so that each is seen on its own.
//
//	go run ./bench/rotation [-n 200] [-polls 40] [-interval 500ms]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
	"github.com/shroud-dev/shroud/internal/kmsfake"
)

func main() {
	if os.Getenv("BENCH_ROTATION_CHILD") == "1" {
		child()
		return
	}
	n := flag.Int("n", 200, "rotations of the file: source (and of the baseline)")
	polls := flag.Int("polls", 40, "rotations in the KMS fake")
	interval := flag.Duration("interval", 500*time.Millisecond, "[rotation] interval of the polling run")
	flag.Parse()

	tmp, shroud, baseline := benchutil.Setup("rotation", "./bench/rotation/baseline")
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	benchutil.Check(err)

	// fsnotify: shroud and the baseline watch the same kind of directory;
	// rotations alternate between them so that machine noise hits both.
	src := filepath.Join(tmp, "src")
	benchutil.Check(os.MkdirAll(src, 0o700))
	benchutil.Check(os.MkdirAll(filepath.Join(tmp, "staging"), 0o700))
	rotate(tmp, src, "key", 0)
	cfg := filepath.Join(tmp, "shroud.toml")
	benchutil.Check(os.WriteFile(cfg, []byte("[rotation]\ninterval = \"0\"\n[[files]]\npath = \"out/key\"\nvalue_from = \"file:src/key\"\n"), 0o600))
	baseSrc := filepath.Join(tmp, "base-src")
	benchutil.Check(os.MkdirAll(baseSrc, 0o700))
	rotate(tmp, baseSrc, "key", 0)

	sh := start(shroud, "--log-level", "warn", "run", "--config", cfg, "--", self)
	defer sh.stop()
	base := start(baseline, baseSrc, "--", self)
	defer base.stop()
	var fsLat, baseLat []time.Duration
	for i := 1; i <= *n; i++ {
		fsLat = append(fsLat, sh.measure(func() { rotate(tmp, src, "key", i) }))
		baseLat = append(baseLat, base.measure(func() { rotate(tmp, baseSrc, "key", i) }))
	}
	sh.stop()
	base.stop()
	fmt.Printf("change -> SIGHUP in the child, %d rotations each, interleaved:\n", *n)
	report("shroud run, file: source (fsnotify)", fsLat)
	report("baseline (fsnotify -> kill)", baseLat)
	p50, p99 := benchutil.Percentile(fsLat, 0.50), benchutil.Percentile(fsLat, 0.99)
	fmt.Printf("shroud over the baseline: p50 %+.2f ms (%.1fx), p99 %+.2f ms; goal p99 <= 50 ms: %s\n\n",
		benchutil.MS(p50-benchutil.Percentile(baseLat, 0.50)), float64(p50)/float64(benchutil.Percentile(baseLat, 0.50)), benchutil.MS(p99-benchutil.Percentile(baseLat, 0.99)), benchutil.Verdict(p99 <= 50*time.Millisecond))

	// Polling the KMS fake.
	fake, err := kmsfake.New("cn-hangzhou")
	benchutil.Check(err)
	defer fake.Close()
	fake.AddAccessKey("LTAIbenchKeyId01", "bench-secret")
	fake.Put("cn-hangzhou", "bench/key", []byte("bench-value-0"))
	kcfg := filepath.Join(tmp, "kms.toml")
	benchutil.Check(os.WriteFile(kcfg, []byte(fmt.Sprintf(`[alibaba]
region = "cn-hangzhou"
endpoint = %q
[rotation]
interval = %q
jitter = 0
[[files]]
path = "kms-out/key"
value_from = "kms:bench/key"
`, fake.URL(), interval.String())), 0o600))
	kms := startEnv([]string{"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIbenchKeyId01", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret"},
		shroud, "--log-level", "warn", "run", "--config", kcfg, "--", self)
	defer kms.stop()
	var pollLat []time.Duration
	for i := 1; i <= *polls; i++ {
		// At a random point of the poll cycle, as a real rotation comes.
		time.Sleep(time.Duration(rand.Int64N(int64(*interval))))
		pollLat = append(pollLat, kms.measure(func() { fake.Put("cn-hangzhou", "bench/key", []byte("bench-value-"+strconv.Itoa(i))) }))
	}
	kms.stop()
	fmt.Printf("change -> SIGHUP in the child when polling, %d rotations, interval %v (jitter 0):\n", *polls, *interval)
	report("shroud run, KMS fake (polling)", pollLat)
	fmt.Printf("p99 - interval = %+.2f ms; goal p99 <= interval + 50 ms: %s (a change waits up to one interval for the next poll: p50 ~ interval/2)\n",
		benchutil.MS(benchutil.Percentile(pollLat, 0.99)-*interval), benchutil.Verdict(benchutil.Percentile(pollLat, 0.99) <= *interval+50*time.Millisecond))
}

// rotate replaces dir/name with a new value by a rename from another
// directory of the same filesystem, so the watched directory sees one
// event, and returns once the change is visible.
func rotate(tmp, dir, name string, i int) {
	staged := filepath.Join(tmp, "staging", name)
	benchutil.Check(os.WriteFile(staged, []byte("bench-value-"+strconv.Itoa(i)), 0o600))
	benchutil.Check(os.Rename(staged, filepath.Join(dir, name)))
}

type watcher struct {
	cmd    *exec.Cmd
	hups   chan time.Time
	closed bool
}

func start(argv ...string) *watcher { return startEnv(nil, argv...) }

// startEnv starts a watcher whose child is this program in child mode, and
// waits until the child runs.
func startEnv(env []string, argv ...string) *watcher {
	r, w, err := os.Pipe()
	benchutil.Check(err)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "BENCH_ROTATION_CHILD=1"), env...)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	benchutil.Check(cmd.Start())
	w.Close()
	p := &watcher{cmd: cmd, hups: make(chan time.Time, 16)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				continue
			}
			ns, _ := strconv.ParseInt(sc.Text(), 10, 64)
			p.hups <- time.Unix(0, ns)
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		benchutil.Check(fmt.Errorf("%v: the child did not start", argv))
	}
	time.Sleep(200 * time.Millisecond) // past start-up work
	return p
}

// measure makes one change and returns the time from its visibility to
// the child's SIGHUP; then it waits for quiet, so the next change is seen
// on its own.
func (p *watcher) measure(change func()) time.Duration {
	// Taken just before the change: the rename (or the put) is what makes
	// it visible, and a watcher may be told while it is under way.
	visible := time.Now()
	change()
	var lat time.Duration
	select {
	case at := <-p.hups:
		lat = at.Sub(visible)
	case <-time.After(30 * time.Second):
		benchutil.Check(fmt.Errorf("no SIGHUP within 30s"))
	}
	time.Sleep(30 * time.Millisecond)
	for len(p.hups) > 0 {
		<-p.hups
		benchutil.Check(fmt.Errorf("more than one SIGHUP for one change"))
	}
	return lat
}

func (p *watcher) stop() {
	if p.closed {
		return
	}
	p.closed = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

// child prints "ready", then the wall-clock time of each SIGHUP. It ends
// on SIGTERM, or with its parent.
func child() {
	syscall.Syscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0)
	ch := make(chan os.Signal, 16)
	ossignal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM)
	fmt.Println("ready")
	for s := range ch {
		if s == syscall.SIGTERM {
			return
		}
		fmt.Println(time.Now().UnixNano())
	}
}

func report(name string, d []time.Duration) {
	fmt.Printf("  %-38s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
		name, benchutil.MS(benchutil.Percentile(d, 0.5)), benchutil.MS(benchutil.Percentile(d, 0.9)), benchutil.MS(benchutil.Percentile(d, 0.99)), benchutil.MS(slices.Max(d)))
}
