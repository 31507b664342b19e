// Command aws measures a cold resolve of 100 AWS references against the
// in-process AWS fake with injected latency, beside a baseline that reads
// one secret per call, sequentially, through the same SDK clients, and
// prints medians as round trips (RTT) and call counts.
//
// The references: 50 SSM parameters and 50 Secrets Manager secrets, half in
// the default region us-east-1 (by name) and half in eu-west-1 (by ARN).
// One RTT is measured in the same run: one GetParameters call of one name.
// "Cold" means a new session each run: configuration, clients and
// connections are made anew.
//
//	go run ./bench/aws [-n 21] [-latency 20ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

func main() {
	n := flag.Int("n", 21, "runs of each measurement")
	latency := flag.Duration("latency", 20*time.Millisecond, "latency the fake adds to every call")
	flag.Parse()

	f := awsfake.New()
	defer f.Close()
	for _, kv := range f.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	os.Setenv("AWS_REGION", "us-east-1")
	// The fake speaks plain HTTP: a CA bundle from the machine's
	// environment would only add its parsing (milliseconds) to every run.
	os.Unsetenv("AWS_CA_BUNDLE")

	var refs []sources.Ref
	for i := range 25 {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			f.PutParameter(region, fmt.Sprintf("/bench/p%02d", i), awsfake.SecureString, "v")
			arn, _ := f.PutSecretString(region, fmt.Sprintf("bench/s%02d", i), `{"password":"v"}`)
			if region == "us-east-1" {
				refs = append(refs, parse(fmt.Sprintf("/bench/p%02d", i)), parse(fmt.Sprintf("sm:bench/s%02d:password", i)))
			} else {
				refs = append(refs, parse(fmt.Sprintf("arn:aws:ssm:eu-west-1:%s:parameter/bench/p%02d", awsfake.Account, i)), parse(arn+":password::"))
			}
		}
	}
	f.SetFaults("", awsfake.Faults{Latency: *latency})

	type measure struct {
		name  string
		run   func() error
		times []time.Duration
		calls map[string]int
	}
	ms := []*measure{
		{name: "one RTT (one GetParameters call)", run: func() error { return oneCall(f) }},
		{name: "shroud (batched, regions in parallel)", run: func() error { return shroud(refs) }},
		{name: "baseline (one call per secret, in sequence)", run: func() error { return baseline(refs) }},
	}
	throttled := &measure{name: "shroud, every batch throttled (fallback)", run: func() error {
		f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{Latency: *latency, ThrottleFraction: 1})
		defer f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{Latency: *latency})
		return shroud(refs)
	}}
	ms = append(ms, throttled)

	for i := 0; i < *n+2; i++ {
		for _, m := range ms {
			f.Reset()
			start := time.Now()
			if err := m.run(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", m.name, err)
				os.Exit(1)
			}
			d := time.Since(start)
			if i >= 2 { // warm-up: the first runs pay for page faults and JIT-free but cold code paths
				m.times = append(m.times, d)
				m.calls = f.Counts()
			}
		}
	}

	rtt := benchutil.Median(ms[0].times)
	fmt.Printf("cold resolve of %d references (50 SSM + 50 Secrets Manager, 2 regions), %v latency per call, %d runs, medians:\n", len(refs), *latency, *n)
	for _, m := range ms {
		med := benchutil.Median(m.times)
		fmt.Printf("  %-44s %9.1f ms = %6.2f RTT  p90 %7.1f ms  %3d calls  %s\n",
			m.name, benchutil.MS(med), float64(med)/float64(rtt), benchutil.MS(benchutil.Percentile(m.times, 0.9)), total(m.calls), describe(m.calls))
	}
	shroudMed, baseMed := benchutil.Median(ms[1].times), benchutil.Median(ms[2].times)
	fmt.Printf("shroud / baseline: %.3fx wall, %d / %d calls\n", float64(shroudMed)/float64(baseMed), total(ms[1].calls), total(ms[2].calls))
	goal := float64(shroudMed)/float64(rtt) <= 1.5 && total(ms[1].calls) <= 10
	fmt.Printf("goal (<= 1.5 RTT wall, <= 10 calls): %v\n", map[bool]string{true: "met", false: "NOT met"}[goal])
}

func parse(s string) sources.Ref {
	r, err := sources.Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// shroud resolves every reference through a new session, as a starting
// wrapper does.
func shroud(refs []sources.Ref) error {
	r := sources.NewResolver()
	awssrc.New(awssrc.Options{}).Register(r)
	_, err := r.Resolve(context.Background(), refs)
	return err
}

// clients makes new SDK clients for both regions, as shroud's session does.
func clients() (map[string]*ssm.Client, map[string]*secretsmanager.Client, error) {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, nil, err
	}
	ssms, sms := map[string]*ssm.Client{}, map[string]*secretsmanager.Client{}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		ssms[region] = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = region })
		sms[region] = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = region })
	}
	return ssms, sms, nil
}

func oneCall(f *awsfake.Fake) error {
	ssms, _, err := clients()
	if err != nil {
		return err
	}
	_, err = ssms["us-east-1"].GetParameters(context.Background(), &ssm.GetParametersInput{Names: []string{"/bench/p00"}, WithDecryption: awssdk.Bool(true)})
	return err
}

// baseline reads one secret per call, one call after the other.
func baseline(refs []sources.Ref) error {
	ssms, sms, err := clients()
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, ref := range refs {
		region := ref.Region
		if region == "" {
			region = "us-east-1"
		}
		switch ref.Backend {
		case sources.SSM:
			_, err = ssms[region].GetParameters(ctx, &ssm.GetParametersInput{Names: []string{ref.ID}, WithDecryption: awssdk.Bool(true)})
		case sources.SecretsManager:
			_, err = sms[region].GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(ref.ID)})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

func describe(calls map[string]int) string {
	var parts []string
	for api, c := range calls {
		parts = append(parts, fmt.Sprintf("%d %s", c, api[strings.IndexByte(api, '.')+1:]))
	}
	sort.Strings(parts)
	return "(" + strings.Join(parts, ", ") + ")"
}
