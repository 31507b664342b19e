// Command render measures what templates and [files.values] formats cost,
// against the same 30 secrets written as 30 raw files, measured in the same
// run so that machine noise hits all alike.
//
// It builds shroud as a release would, writes four configs that read one
// JSON file of 30 keys:
//
//	raw        30 [[files]] with value_from (the baseline)
//	values     1 dotenv file with 30 [files.values]
//	template   1 template with 30 secret calls
//	templates  30 [[files]], each a template with one secret call
//
// then runs "shroud render --config X" for each, interleaved, and prints
// the medians of the whole process (files unchanged after the first run, as
// in a steady state) and of Spec.Materialize in process, each with its
// ratio to raw. In process it also materializes the template config with a
// log driver, whose masking follows the secrets through the template
// (what shroud run does; render writes files only).
//
//	go run ./bench/render [-n 200]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

const secrets = 30

func main() {
	n := flag.Int("n", 200, "runs of each command")
	flag.Parse()

	dir, shroud, _ := benchutil.Setup("render", "")
	defer os.RemoveAll(dir)
	configs := writeConfigs(dir)

	names := []string{"raw", "values", "template", "templates"}
	times := map[string][]time.Duration{}
	for i := 0; i < *n+5; i++ {
		for _, name := range names {
			start := time.Now()
			cmd := exec.Command(shroud, "--log-level", "warn", "render", "--config", configs[name])
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n%s", name, err, out)
				os.Exit(1)
			}
			if i >= 5 { // warm-up, and the first run writes the files
				times[name] = append(times[name], time.Since(start))
			}
		}
	}

	fmt.Printf("shroud render, whole process, median of %d runs (files unchanged):\n", *n)
	base := benchutil.Median(times["raw"])
	for _, name := range names {
		m := benchutil.Median(times[name])
		fmt.Printf("  %-10s %8.2f ms  %5.2fx raw\n", name, benchutil.MS(m), float64(m)/float64(base))
	}

	fmt.Printf("\nSpec.Materialize in process (values resolved once), ns/op:\n")
	var inBase float64
	for _, name := range append(names, "template, masked") {
		ns := materializeCost(configs[name])
		if name == "raw" {
			inBase = ns
		}
		fmt.Printf("  %-16s %10.0f ns  %5.2fx raw\n", name, ns, ns/inBase)
	}
}

// writeConfigs writes the secret file and the four configs.
func writeConfigs(dir string) map[string]string {
	var obj, raw, values, tmpl, tmpls strings.Builder
	obj.WriteString("{")
	values.WriteString("[[files]]\npath = \"out/values/app.env\"\nformat = \"dotenv\"\n[files.values]\n")
	tmpl.WriteString("[[files]]\npath = \"out/template/app.conf\"\ntemplate = '''\n")
	for i := range secrets {
		if i > 0 {
			obj.WriteString(",")
		}
		fmt.Fprintf(&obj, `"k%d":"value-%d-with some text to copy"`, i, i)
		ref := fmt.Sprintf("file:secrets.json#k%d", i)
		fmt.Fprintf(&raw, "[[files]]\npath = \"out/raw/k%d\"\nvalue_from = %q\n", i, ref)
		fmt.Fprintf(&values, "K%d = %q\n", i, ref)
		fmt.Fprintf(&tmpl, "k%d = {{ secret %q | quote }}\n", i, ref)
		fmt.Fprintf(&tmpls, "[[files]]\npath = \"out/templates/k%d.conf\"\ntemplate = '''k%d = {{ secret %q | quote }}'''\n", i, i, ref)
	}
	obj.WriteString("}")
	tmpl.WriteString("'''\n")
	masked := tmpl.String() + "[log]\ndriver = \"json-file\"\noptions = { path = \"/dev/null\" }\n"
	benchutil.Check(os.WriteFile(filepath.Join(dir, "secrets.json"), []byte(obj.String()), 0o600))
	configs := map[string]string{}
	for name, text := range map[string]string{"raw": raw.String(), "values": values.String(), "template": tmpl.String(), "templates": tmpls.String(), "template, masked": masked} {
		configs[name] = filepath.Join(dir, strings.ReplaceAll(name, ", ", "-")+".toml")
		benchutil.Check(os.WriteFile(configs[name], []byte(text), 0o600))
	}
	return configs
}

// materializeCost is the median ns/op of Plan.Materialize over values
// resolved once: rendering alone, no file system.
func materializeCost(path string) float64 {
	cfg, err := config.LoadFile(path)
	benchutil.Check(err)
	spec := inject.NewPlan(cfg)
	vals, err := spec.Resolve(context.Background(), sources.NewResolver())
	benchutil.Check(err)
	var runs []float64
	for range 5 {
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				if _, err := spec.Materialize(vals); err != nil {
					b.Fatal(err)
				}
			}
		})
		runs = append(runs, float64(r.NsPerOp()))
	}
	slices.Sort(runs)
	return runs[len(runs)/2]
}
