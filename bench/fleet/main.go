// Command fleet simulates a fleet of shroud wrappers against the
// in-process AWS and Alibaba fakes, with request quotas per API, account
// and region at their published defaults, and prints one table row per
// scenario (docs/aws.md and docs/alibaba.md quote it).
//
// Every wrapper is the real code, as a pod runs it: its own config, its own
// sources (sources/aws Session, sources/alibaba Source) and credentials,
// the real first resolve and the real watch loop; it records what its
// child would see. The fleet is scaled honestly: Fleet/K wrappers against
// every quota divided by K, with time compressed C times (intervals,
// deadlines and retry schedules C times shorter, quotas C times higher), so
// each simulated rate stands for rate·K/C in the real fleet, against the
// same quota.
//
//	go run ./bench/fleet [-fleet 10000] [-k 100] [-c 8] [-run REGEXP]
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime/pprof"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
	"github.com/shroud-dev/shroud/internal/backoff"
)

func main() {
	p := Params{Secrets: 20, Interval: 5 * time.Minute, Jitter: 0.1}
	flag.IntVar(&p.Fleet, "fleet", 10000, "wrappers of the real fleet")
	flag.Float64Var(&p.K, "k", 100, "divide the fleet and every quota by `k`")
	flag.Float64Var(&p.C, "c", 8, "compress time `c` times")
	run := flag.String("run", "", "only the scenarios whose name matches `regexp`")
	verbose := flag.Bool("v", false, "print the first failure of each scenario")
	profile := flag.String("cpuprofile", "", "write a CPU profile to `file`")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		benchutil.Check(err)
		benchutil.Check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	only, err := regexp.Compile(*run)
	benchutil.Check(err)

	backoff.Compress(p.C)
	fmt.Printf("fleet of %d wrappers × %d secrets, simulated as %d wrappers: k = %g (wrappers and quotas divided by k), time factor c = %g (interval %s → %s, quotas × %g)\n",
		p.Fleet, p.Secrets, p.N(), p.K, p.C, p.Interval, p.Sim(p.Interval), p.C)
	fmt.Println("rates, times and quotas are the real fleet's; call counts are the simulation's")
	fmt.Println()
	fmt.Println(header())
	for _, s := range scenarios() {
		if !only.MatchString(s.name + " " + s.quotas) {
			continue
		}
		r, err := s.run(p)
		benchutil.Check(err)
		fmt.Println(r.row())
		if *verbose && r.firstErr != "" {
			fmt.Fprintf(os.Stderr, "  %s: first failure: %s\n", s.name, r.firstErr)
		}
	}
}

// scenarios are the rows, in real time. A steady fleet started over one
// interval, so its polls are spread as a long-running fleet's are.
func scenarios() []scenario {
	const iv = 5 * time.Minute
	minutes := func(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }
	aws := func(name, quotas string, ssm []awsfakeQuota) scenario {
		return scenario{name: name, quotas: quotas, backend: "aws", aws: append(append([]awsfakeQuota(nil), smCombined...), ssm...),
			startWindow: iv, timeout: 30 * time.Second, window: [2]time.Duration{iv, minutes(8.5)}, end: minutes(8.5)}
	}
	steady := aws("steady state", "SM, SSM standard", ssmStandard)

	deploy := aws("rolling deploy", "SM, SSM standard", ssmStandard)
	deploy.startWindow, deploy.window, deploy.end = time.Minute, [2]time.Duration{2 * time.Minute, minutes(7.5)}, minutes(7.5)
	deployHigh := deploy
	deployHigh.quotas, deployHigh.aws = "SM, SSM higher throughput", append(append([]awsfakeQuota(nil), smCombined...), ssmHigher...)
	deployLong := deploy
	deployLong.name, deployLong.timeout = "rolling deploy, [aws] timeout 2m", 2*time.Minute

	rotation := aws("rotation of a secret all use", "SM, SSM standard", ssmStandard)
	// A wrapper's first poll may come 1.5 intervals after its start (the
	// splay): the last started see the rotation by 12.5 minutes.
	rotation.rotate, rotation.rotateKey = iv, "S00"
	rotation.end, rotation.window[1] = minutes(12.5), minutes(12.5)

	// The outage begins once every wrapper runs: one starting in it would
	// fail to start, as it should.
	outage := aws("5 min outage, a rotation in it", "SM, SSM standard", ssmStandard)
	outage.outage = [2]time.Duration{minutes(5.5), minutes(10.5)}
	outage.rotate, outage.rotateKey = minutes(5.5), "S01"
	outage.window, outage.end = [2]time.Duration{minutes(5.5), minutes(13)}, minutes(13)

	kms := func(quotas string, q []kmsfakeQuota) scenario {
		return scenario{name: "KMS steady state, a rotation", quotas: quotas, backend: "kms", kms: q,
			startWindow: iv, timeout: 30 * time.Second, window: [2]time.Duration{iv, minutes(12.5)}, end: minutes(12.5),
			rotate: iv, rotateKey: "K00"}
	}
	return []scenario{steady, deploy, deployLong, deployHigh, rotation, outage,
		kms("KMS shared gateway", kmsGateway), kms("KMS instance", kmsInstance)}
}
