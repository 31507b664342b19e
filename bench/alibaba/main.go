// Command alibaba measures what reading Alibaba Cloud KMS secrets adds to
// shroud's start-up, against an in-process KMS fake that answers after a
// fixed latency (a stand-in for the network round trip to KMS).
//
// It builds shroud as a release would and runs, interleaved so that machine
// noise hits all alike:
//
//	shroud run --config local.toml -- true     # file: secrets only: the baseline
//	shroud run --config kms1.toml  -- true     # 1 KMS secret
//	shroud run --config kms10.toml -- true     # 10 KMS secrets, 10 GetSecretValue calls
//
// and prints each median with ratios. KMS has no batch read, so shroud
// overlaps the calls: 10 secrets should cost far less than 10 round trips.
//
//	go run ./bench/alibaba [-n 40] [-latency 20ms]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/shroud-dev/shroud/internal/kmsfake"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

func main() {
	n := flag.Int("n", 40, "runs of each command")
	latency := flag.Duration("latency", 20*time.Millisecond, "the fake's answer latency")
	flag.Parse()

	tmp, shroud, _ := benchutil.Setup("kms", "")
	defer os.RemoveAll(tmp)

	fake, err := kmsfake.New("cn-hangzhou")
	benchutil.Check(err)
	defer fake.Close()
	fake.AddAccessKey("LTAIbench", "bench-secret")
	fake.SetLatency(*latency)

	benchutil.Check(os.WriteFile(filepath.Join(tmp, "value"), []byte("local-value"), 0o600))
	write := func(name string, secrets int) {
		var b strings.Builder
		fmt.Fprintf(&b, "[alibaba]\nregion = \"cn-hangzhou\"\nendpoint = %q\ncredentials = \"env\"\n", fake.URL())
		for i := range secrets {
			fake.Put("cn-hangzhou", fmt.Sprintf("bench/s%d", i), []byte("value"))
			fmt.Fprintf(&b, "[[secrets]]\nname = \"S%d\"\nvalue_from = \"kms:bench/s%d\"\n", i, i)
		}
		if secrets == 0 {
			b.WriteString("[[secrets]]\nname = \"S\"\nvalue_from = \"file:value\"\n")
		}
		benchutil.Check(os.WriteFile(filepath.Join(tmp, name), []byte(b.String()), 0o600))
	}
	write("local.toml", 0)
	write("kms1.toml", 1)
	write("kms10.toml", 10)

	env := append(os.Environ(), "ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIbench", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret")
	names := []string{"local.toml", "kms1.toml", "kms10.toml"}
	labels := []string{"file: only (baseline)", "1 KMS secret", "10 KMS secrets"}
	times := make([][]time.Duration, len(names))
	for i := 0; i < *n+3; i++ {
		for j, name := range names {
			c := exec.Command(shroud, "run", "--config", name, "--", "true")
			c.Dir, c.Env = tmp, env
			start := time.Now()
			if out, err := c.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n%s", name, err, out)
				os.Exit(1)
			}
			if i >= 3 { // warm-up
				times[j] = append(times[j], time.Since(start))
			}
		}
	}
	med := make([]time.Duration, len(names))
	fmt.Printf("shroud run, %d runs each, interleaved, KMS latency %v (medians):\n", *n, *latency)
	for j := range names {
		med[j] = benchutil.Percentile(times[j], 0.5)
		fmt.Printf("  %-22s %8.3f ms   p90 %8.3f ms\n", labels[j], benchutil.MS(med[j]), benchutil.MS(benchutil.Percentile(times[j], 0.9)))
	}
	fmt.Printf("1 KMS secret over the baseline:   %+.3f ms (%.2fx the baseline; one round trip is %v)\n",
		benchutil.MS(med[1]-med[0]), float64(med[1])/float64(med[0]), *latency)
	fmt.Printf("10 KMS secrets over the baseline: %+.3f ms (%.2fx the cost of 1; %.1f round trips' worth)\n",
		benchutil.MS(med[2]-med[0]), float64(med[2]-med[0])/float64(med[1]-med[0]), float64(med[2]-med[0])/float64(*latency))
	fmt.Printf("GetSecretValue calls: %d\n", fake.Calls("GetSecretValue"))
}
