// Command logs measures the throughput of the child-output pipeline.
//
// It writes a file of generated log lines and runs, interleaved so machine
// noise hits all alike, a child that cats the file:
//
//	cat > /dev/null             the baseline: no pipe at all
//	cat | cat > /dev/null       the cost of one pipe, which a pipeline has
//	driver none                 the child inherits stdout: no pipe, no copy
//	json-file                   framing and JSON to /dev/null, masking off
//	json-file + mask            the same, masking 100 secrets (with their
//	                            encoded forms: -encodings, default all)
//	json-file + mask + forms    the same, and 3 forms of each secret that
//	                            files would make of it (a template's
//	                            squote and urlEncode in a DSN, a dotenv
//	                            file's quoted value): 300 more patterns
//
// The pipeline cases run the child under child.Supervise with the
// pipeline's writers as its stdout and stderr, as shroud run does, so the
// child's pipe and the reads from it are the ones that ship. It prints each
// median as MB/s and as a ratio to cat, against the goals (json-file
// without masking at least 1 GB/s, with masking at least 500 MB/s). It then
// feeds the same bytes to the pipeline's writer in-process, without a
// child, to show the pipeline's own cost.
//
//	go run ./bench/logs [-mb 256] [-n 7] [-encodings base64,json,url]
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/logdriver"
)

func main() {
	mb := flag.Int("mb", 256, "size of the input, MiB")
	n := flag.Int("n", 7, "runs of each case")
	secretCount := flag.Int("secrets", 100, "secrets to mask")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the in-process runs to `file`")
	encodings := flag.String("encodings", strings.Join(logdriver.MaskEncodings, ","), "encoded forms to mask, as mask_encodings names them")
	flag.Parse()
	maskOpts, err := logdriver.MaskOptions{}.WithEncodings(strings.Split(*encodings, ","))
	benchutil.Check(err)

	tmp, err := os.MkdirTemp("", "shroud-bench-logs-")
	benchutil.Check(err)
	defer os.RemoveAll(tmp)
	r := rand.New(rand.NewPCG(7, 11))
	secrets := makeSecrets(r, *secretCount)
	input := filepath.Join(tmp, "input.log")
	size, planted := writeInput(r, input, int64(*mb)<<20, secrets)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	benchutil.Check(err)
	catPath, err := exec.LookPath("cat")
	benchutil.Check(err)
	warm(input)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	forms := makeForms(secrets)
	pipeline := func(driver string, mask, withForms bool) func() sample {
		return func() sample {
			cfg := logdriver.Config{Driver: driver}
			if driver == logdriver.JSONFile {
				cfg.Options = map[string]string{"path": os.DevNull}
			}
			if mask {
				cfg.Mask, cfg.MaskValues, cfg.MaskOptions = true, secrets, maskOpts
			}
			if withForms {
				cfg.MaskForms = forms
			}
			start, cpu, children := time.Now(), selfCPU(), childrenCPU()
			p, err := logdriver.New(logdriver.Input{Config: cfg, Stdout: devNull, Stderr: devNull, Logger: quiet})
			benchutil.Check(err)
			code, err := child.Supervise(child.Input{
				Argv: []string{catPath, input}, Env: []string{},
				Stdout: p.Stdout(), Stderr: p.Stderr(), Log: quiet,
			})
			benchutil.Check(err)
			if code != 0 {
				benchutil.Check(fmt.Errorf("cat exited %d", code))
			}
			benchutil.Check(p.Close())
			s := sample{wall: time.Since(start), cpu: selfCPU() - cpu + childrenCPU() - children}
			if mask && p.Stats().Masked < uint64(planted) {
				panic(fmt.Sprintf("masked %d values, planted %d", p.Stats().Masked, planted))
			}
			return s
		}
	}
	cases := []struct {
		name string
		run  func() sample
		goal float64 // MB/s of wall time; 0: none
	}{
		{"cat > /dev/null", func() sample { return timeCmd(devNull, catPath, input) }, 0},
		{"cat | cat > /dev/null", func() sample { return timeCmd(devNull, "sh", "-c", "cat \"$0\" | cat", input) }, 0},
		{"driver none", pipeline(logdriver.None, false, false), 0},
		{"json-file, mask off", pipeline(logdriver.JSONFile, false, false), 1000},
		{"json-file, mask on", pipeline(logdriver.JSONFile, true, false), 500},
		{"json-file, mask + forms", pipeline(logdriver.JSONFile, true, true), 500},
	}
	walls := make([][]time.Duration, len(cases))
	cpus := make([][]time.Duration, len(cases))
	for range *n {
		for i, c := range cases {
			s := c.run()
			walls[i] = append(walls[i], s.wall)
			cpus[i] = append(cpus[i], s.cpu)
		}
	}
	fmt.Printf("pipeline throughput: %d MiB of log lines (%d secrets masked with their %s forms, %d planted in the input; + forms: %d more), %d runs each, interleaved (medians)\n",
		size>>20, len(secrets), *encodings, planted, len(forms), *n)
	fmt.Printf("MB/s is bytes over wall time; MB/cpu-s is bytes over the CPU time of every process involved (shroud and the child),\n")
	fmt.Printf("which a machine shared with other work disturbs less.\n")
	fmt.Printf("  %-24s %9s %8s %11s %8s\n", "case", "MB/s", "vs cat", "MB/cpu-s", "vs cat")
	baseWall, baseCPU := median(walls[0]), median(cpus[0])
	for i, c := range cases {
		w, cpu := median(walls[i]), median(cpus[i])
		fmt.Printf("  %-24s %9.0f %7.2fx %11.0f %7.2fx", c.name, mbps(size, w), float64(baseWall)/float64(w), mbps(size, cpu), float64(baseCPU)/float64(cpu))
		if c.goal > 0 {
			verdict := "met"
			if mbps(size, w) < c.goal {
				verdict = "NOT met"
			}
			fmt.Printf("   goal >= %.0f MB/s: %s", c.goal, verdict)
		}
		fmt.Println()
	}

	// In-process: the same bytes written to the pipeline's stdout writer in
	// 64 KiB chunks, without a child or a pipe.
	data, err := os.ReadFile(input)
	benchutil.Check(err)
	inProcess := func(mask bool) sample {
		cfg := logdriver.Config{Driver: logdriver.JSONFile, Options: map[string]string{"path": os.DevNull}}
		if mask {
			cfg.Mask, cfg.MaskValues, cfg.MaskOptions = true, secrets, maskOpts
		}
		p, err := logdriver.New(logdriver.Input{Config: cfg, Stdout: devNull, Stderr: devNull, Logger: quiet})
		benchutil.Check(err)
		w := p.Stdout()
		start, cpu := time.Now(), selfCPU()
		for b := data; len(b) > 0; {
			k := min(len(b), 64<<10)
			_, err := w.Write(b[:k])
			benchutil.Check(err)
			b = b[k:]
		}
		benchutil.Check(p.Close())
		return sample{wall: time.Since(start), cpu: selfCPU() - cpu}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		benchutil.Check(err)
		benchutil.Check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	var offWall, offCPU, onWall, onCPU []time.Duration
	for range *n {
		s := inProcess(false)
		offWall, offCPU = append(offWall, s.wall), append(offCPU, s.cpu)
		s = inProcess(true)
		onWall, onCPU = append(onWall, s.wall), append(onCPU, s.cpu)
	}
	fmt.Printf("in-process (no child, no pipe), json-file to /dev/null:\n")
	fmt.Printf("  %-24s %9.0f MB/s %9.0f MB/cpu-s\n", "mask off", mbps(size, median(offWall)), mbps(size, median(offCPU)))
	fmt.Printf("  %-24s %9.0f MB/s %9.0f MB/cpu-s\n", "mask on", mbps(size, median(onWall)), mbps(size, median(onCPU)))
}

// sample is one run: its wall time and the CPU time it used.
type sample struct{ wall, cpu time.Duration }

// selfCPU is the user and system time this process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	benchutil.Check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenCPU is the user and system time of the children this process
// waited for so far (the supervisor reaps them), and of their own children.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	benchutil.Check(syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childCPU is the user and system time of a finished child and its own
// children.
func childCPU(cmd *exec.Cmd) time.Duration {
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// makeSecrets returns n random secrets of 16 to 40 bytes, as tokens and
// passwords look.
func makeSecrets(r *rand.Rand, n int) [][]byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=!@#%"
	out := make([][]byte, n)
	for i := range out {
		s := make([]byte, 16+r.IntN(25))
		for j := range s {
			s[j] = alphabet[r.IntN(len(alphabet))]
		}
		out[i] = s
	}
	return out
}

// makeForms returns what files would make of each secret: its squote
// form, a DSN line with it URL-encoded, and its dotenv double-quoted form.
func makeForms(secrets [][]byte) [][]byte {
	var out [][]byte
	for _, s := range secrets {
		enc := strings.ReplaceAll(url.QueryEscape(string(s)), "+", "%20")
		out = append(out, []byte("'"+string(s)+"'"), []byte("postgres://app:"+enc+"@db.internal:5432/app"), []byte(`"`+string(s)+`"`))
	}
	return out
}

// writeInput writes size bytes of log lines (plain text, key=value and
// JSON, 40 to 400 bytes), with a secret in one line of 10000; it returns
// the size and how many secrets it planted.
func writeInput(r *rand.Rand, path string, size int64, secrets [][]byte) (int64, int) {
	f, err := os.Create(path)
	benchutil.Check(err)
	defer f.Close()
	paths := []string{"/api/v1/items", "/api/v1/users/42", "/healthz", "/static/app.js", "/login"}
	var buf []byte
	var written int64
	planted := 0
	for written < size {
		buf = buf[:0]
		for len(buf) < 1<<20 {
			ts := time.Date(2024, 5, 1, 12, r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC).Format(time.RFC3339Nano)
			switch r.IntN(3) {
			case 0:
				buf = fmt.Appendf(buf, "%s INFO request id=%016x method=GET path=%s status=%d dur=%dms bytes=%d\n",
					ts, r.Uint64(), paths[r.IntN(len(paths))], []int{200, 200, 200, 404, 500}[r.IntN(5)], r.IntN(900), r.IntN(1<<20))
			case 1:
				buf = fmt.Appendf(buf, `{"ts":%q,"level":"info","msg":"user action","user_id":%d,"action":"update","fields":{"k":"v%d","note":"lorem ipsum dolor sit amet, consectetur adipiscing elit"}}`+"\n",
					ts, r.IntN(1e6), r.IntN(100))
			default:
				buf = fmt.Appendf(buf, "%s WARN worker %d: retrying job %d after error: connection reset by peer (attempt %d of 5)\n",
					ts, r.IntN(16), r.IntN(1e7), 1+r.IntN(5))
			}
			if r.IntN(10000) == 0 {
				buf = fmt.Appendf(buf, "%s DEBUG config loaded token=%s\n", ts, secrets[r.IntN(len(secrets))])
				planted++
			}
		}
		k, err := f.Write(buf)
		benchutil.Check(err)
		written += int64(k)
	}
	return written, planted
}

// warm reads the input once so every case reads it from the page cache.
func warm(path string) {
	f, err := os.Open(path)
	benchutil.Check(err)
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	benchutil.Check(err)
}

func timeCmd(stdout *os.File, argv ...string) sample {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = stdout
	start := time.Now()
	benchutil.Check(cmd.Run())
	return sample{wall: time.Since(start), cpu: childCPU(cmd)}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mbps(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
