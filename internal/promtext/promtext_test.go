package promtext

import (
	"bytes"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// parse reads exposition text with Prometheus's own parser, failing the
// test on anything it rejects.
func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus cannot parse the exposition: %v\n%s", err, text)
	}
	return mfs
}

func write(t *testing.T, r *Registry) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := r.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
	}
	return b.Bytes()
}

// TestSameAsClientLibrary does the same to a Registry and to the
// Prometheus client library's registry and compares what a scraper reads
// from each: families, types, help, labels, values and buckets.
func TestSameAsClientLibrary(t *testing.T) {
	ours := &Registry{}
	theirs := prometheus.NewRegistry()
	buckets := []float64{.001, .01, .1, 1, 10}
	help := "Help with a backslash \\ and a\nnewline."
	weird := "a\"quote\\back\nnewline ünïcode {}=,"

	calls := ours.Counter("test_calls_total", help, "backend", "result")
	tcalls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_calls_total", Help: help}, []string{"backend", "result"})
	plain := ours.Counter("test_plain_total", "A counter without labels.")
	tplain := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_plain_total", Help: "A counter without labels."})
	last := ours.Gauge("test_last_seconds", "A gauge.")
	tlast := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_last_seconds", Help: "A gauge."})
	temp := ours.Gauge("test_temperature", "A gauge with a label.", "where")
	ttemp := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_temperature", Help: "A gauge with a label."}, []string{"where"})
	lat := ours.Histogram("test_duration_seconds", "A histogram.", buckets, "backend")
	tlat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "test_duration_seconds", Help: "A histogram.", Buckets: buckets}, []string{"backend"})
	ours.Histogram("test_idle_seconds", "A histogram nothing was observed in.", buckets)
	tidle := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_idle_seconds", Help: "A histogram nothing was observed in.", Buckets: buckets})
	ours.Counter("test_unused_total", "A labelled counter never incremented.", "x")
	tunused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_unused_total", Help: "A labelled counter never incremented."}, []string{"x"})
	ours.GaugeFunc("test_func", "A gauge read when scraped.", func() float64 { return 42.5 })
	tfunc := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "test_func", Help: "A gauge read when scraped."}, func() float64 { return 42.5 })
	ours.Info("test_info", "An info metric.", "version", "v1.2.3", "arch", weird)
	tinfo := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "test_info", Help: "An info metric.", ConstLabels: prometheus.Labels{"version": "v1.2.3", "arch": weird}}, func() float64 { return 1 })
	// What version.NewCollector("shroud") exports, but for the labels
	// shroud has no use for.
	ours.BuildInfo("shroud", "v0.9.0-3-gabcdef")
	tbuild := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shroud_build_info",
		Help:        "A metric with a constant '1' value labeled by version and goversion from which shroud was built.",
		ConstLabels: prometheus.Labels{"version": "v0.9.0-3-gabcdef", "goversion": runtime.Version()}}, func() float64 { return 1 })
	ours.SummaryFunc("test_pause_seconds", help, func() Summary {
		return Summary{Quantiles: []Quantile{{0, 1e-5}, {0.25, 2e-5}, {0.5, 3.5e-5}, {0.75, 1e-4}, {1, 0.25}}, Sum: 1.5, Count: 9}
	})
	tsum := constCollector{prometheus.MustNewConstSummary(prometheus.NewDesc("test_pause_seconds", help, nil, nil), 9, 1.5,
		map[float64]float64{0: 1e-5, 0.25: 2e-5, 0.5: 3.5e-5, 0.75: 1e-4, 1: 0.25})}
	theirs.MustRegister(tcalls, tplain, tlast, ttemp, tlat, tidle, tunused, tfunc, tinfo, tbuild, tsum)

	for i := 0; i < 3; i++ {
		calls.Inc("kms", "ok")
		tcalls.WithLabelValues("kms", "ok").Inc()
	}
	plain.Inc()
	tplain.Inc()
	calls.Inc(weird, "error")
	tcalls.WithLabelValues(weird, "error").Inc()
	calls.Add(2.5, "ssm", "ok")
	tcalls.WithLabelValues("ssm", "ok").Add(2.5)
	last.Set(1.7e9)
	tlast.Set(1.7e9)
	temp.Set(-3.25, "outside")
	ttemp.WithLabelValues("outside").Set(-3.25)
	temp.Set(math.Inf(1), "sun")
	ttemp.WithLabelValues("sun").Set(math.Inf(1))
	// 0.01 lies on a bound: le is inclusive. 20 is above every bound.
	for _, v := range []float64{0, .0005, .01, .05, .5, 0.01, 20} {
		lat.Observe(v, "kms")
		tlat.WithLabelValues("kms").Observe(v)
	}
	lat.Observe(.002, "ssm")
	tlat.WithLabelValues("ssm").Observe(.002)

	got := parse(t, write(t, ours))
	gathered, err := theirs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(gathered) {
		t.Errorf("%d families, the client library has %d", len(got), len(gathered))
	}
	for _, want := range gathered {
		// What a scraper of the client library reads: its text, parsed.
		var text bytes.Buffer
		if err := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain)).Encode(want); err != nil {
			t.Fatal(err)
		}
		wantParsed := parse(t, text.Bytes())[want.GetName()]
		if !proto.Equal(got[want.GetName()], wantParsed) {
			t.Errorf("%s differs:\nours:   %v\ntheirs: %v", want.GetName(), got[want.GetName()], wantParsed)
		}
	}
	if _, ok := got["test_unused_total"]; ok {
		t.Error("a labelled family with no series was written")
	}
}

// constCollector collects one constant metric.
type constCollector struct{ m prometheus.Metric }

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.Desc() }
func (c constCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.m }

// TestProcessMetricsNamedAsClientLibrary checks every family
// RegisterProcess writes against the client library's default Go and
// process collectors: the same name, type, help and label names, and the
// same go_info.
func TestProcessMetricsNamedAsClientLibrary(t *testing.T) {
	theirs := prometheus.NewRegistry()
	theirs.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gathered, err := theirs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*dto.MetricFamily{}
	for _, mf := range gathered {
		want[mf.GetName()] = mf
	}
	ours := &Registry{}
	ours.RegisterProcess()
	got := parse(t, write(t, ours))
	for name, mf := range got {
		w := want[name]
		if w == nil {
			t.Errorf("%s: the client library has no such metric", name)
			continue
		}
		if mf.GetType() != w.GetType() || mf.GetHelp() != w.GetHelp() {
			t.Errorf("%s: %v %q, the client library's is %v %q", name, mf.GetType(), mf.GetHelp(), w.GetType(), w.GetHelp())
		}
		if labels, wlabels := labelNames(mf), labelNames(w); labels != wlabels {
			t.Errorf("%s: labels %s, the client library's %s", name, labels, wlabels)
		}
	}
	if !proto.Equal(got["go_info"], want["go_info"]) {
		t.Errorf("go_info:\nours:   %v\ntheirs: %v", got["go_info"], want["go_info"])
	}
	if _, ok := got["go_gc_cycles_total"]; ok {
		t.Error("go_gc_cycles_total is not a client library name")
	}
}

// labelNames lists a family's label names, those of its first metric.
func labelNames(mf *dto.MetricFamily) string {
	var names []string
	for _, l := range mf.GetMetric()[0].GetLabel() {
		names = append(names, l.GetName())
	}
	return strings.Join(names, ",")
}

func TestOrderAndFormat(t *testing.T) {
	r := &Registry{}
	b := r.Counter("b_total", "B.", "k")
	r.Gauge("a", "A.")
	b.Inc("y")
	b.Inc("x")
	want := `# HELP a A.
# TYPE a gauge
a 0
# HELP b_total B.
# TYPE b_total counter
b_total{k="x"} 1
b_total{k="y"} 1
`
	if got := string(write(t, r)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestServeHTTP(t *testing.T) {
	r := &Registry{}
	r.Counter("x_total", "X.").Inc()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	if got := parse(t, rec.Body.Bytes())["x_total"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("x_total = %v", got)
	}
}

func TestProcessMetrics(t *testing.T) {
	r := &Registry{}
	r.RegisterProcess()
	// Burn a little CPU so the counter has something to show.
	for start := time.Now(); time.Since(start) < 30*time.Millisecond; {
	}
	runtime.GC()
	var gcs debug.GCStats
	debug.ReadGCStats(&gcs)
	mfs := parse(t, write(t, r))
	value := func(name string) float64 {
		t.Helper()
		mf := mfs[name]
		if mf == nil || len(mf.GetMetric()) != 1 {
			t.Fatalf("%s missing", name)
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	now := float64(time.Now().Unix())
	for name, ok := range map[string]func(float64) bool{
		"process_cpu_seconds_total":     func(v float64) bool { return v > 0 && v < 3600 },
		"process_resident_memory_bytes": func(v float64) bool { return v > 1<<20 && v < 1<<32 },
		"process_virtual_memory_bytes":  func(v float64) bool { return v > 1<<20 },
		// The test binary started less than an hour ago, and not in the future.
		"process_start_time_seconds":   func(v float64) bool { return v <= now+1 && v > now-3600 },
		"process_open_fds":             func(v float64) bool { return v >= 3 },
		"process_max_fds":              func(v float64) bool { return v >= 3 },
		"go_goroutines":                func(v float64) bool { return v >= 1 },
		"go_threads":                   func(v float64) bool { return v >= 1 },
		"go_memstats_heap_alloc_bytes": func(v float64) bool { return v > 0 },
		"go_memstats_heap_inuse_bytes": func(v float64) bool { return v > 0 },
		"go_memstats_sys_bytes":        func(v float64) bool { return v > 0 },
		"go_info":                      func(v float64) bool { return v == 1 },
		// Since the test binary started; runtime.GC ran above.
		"go_memstats_last_gc_time_seconds": func(v float64) bool { return v <= now+1 && v > now-3600 },
	} {
		if v := value(name); !ok(v) {
			t.Errorf("%s = %v, implausible", name, v)
		}
	}
	gc := mfs["go_gc_duration_seconds"].GetMetric()[0].GetSummary()
	if gc.GetSampleCount() < uint64(gcs.NumGC) || len(gc.GetQuantile()) != 5 || gc.GetQuantile()[4].GetValue() < gc.GetQuantile()[0].GetValue() || gc.GetSampleSum() <= 0 {
		t.Errorf("go_gc_duration_seconds %v, after %d collections", gc, gcs.NumGC)
	}
	// The resident size agrees with the kernel's own account.
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			if rss := value("process_resident_memory_bytes"); math.Abs(rss-kb*1024) > 8<<20 {
				t.Errorf("process_resident_memory_bytes %v, VmRSS %v kB", rss, kb)
			}
		}
	}
}

// TestConcurrent updates every kind of metric from many goroutines while
// scraping (run it with -race); the totals come out exact.
func TestConcurrent(t *testing.T) {
	r := &Registry{}
	c := r.Counter("c_total", "C.", "k")
	g := r.Gauge("g", "G.", "k")
	h := r.Histogram("h_seconds", "H.", []float64{1, 2}, "k")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 500 {
				k := string(rune('a' + (i+j)%3))
				c.Inc(k)
				g.Set(float64(j), k)
				h.Observe(1.5, k)
				if j%100 == 0 {
					write(t, r)
				}
			}
		}()
	}
	wg.Wait()
	mfs := parse(t, write(t, r))
	var total, count float64
	for _, m := range mfs["c_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	for _, m := range mfs["h_seconds"].GetMetric() {
		count += float64(m.GetHistogram().GetSampleCount())
		if b := m.GetHistogram().GetBucket(); b[0].GetCumulativeCount() != 0 || b[1].GetCumulativeCount() != m.GetHistogram().GetSampleCount() {
			t.Errorf("buckets %v", b)
		}
	}
	if total != 4000 || count != 4000 {
		t.Errorf("counted %v and observed %v, want 4000 each", total, count)
	}
}

func TestMisuse(t *testing.T) {
	for name, f := range map[string]func(r *Registry){
		"bad name":          func(r *Registry) { r.Counter("9lives", "") },
		"bad label":         func(r *Registry) { r.Counter("ok_total", "", "a-b") },
		"twice":             func(r *Registry) { r.Gauge("x", ""); r.Counter("x", "") },
		"label count":       func(r *Registry) { r.Counter("ok_total", "", "a").Inc() },
		"counter down":      func(r *Registry) { r.Counter("ok_total", "").Add(-1) },
		"le label":          func(r *Registry) { r.Histogram("h", "", []float64{1}, "le") },
		"unsorted buckets":  func(r *Registry) { r.Histogram("h", "", []float64{2, 1}) },
		"repeated buckets":  func(r *Registry) { r.Histogram("h", "", []float64{1, 1}) },
		"no buckets":        func(r *Registry) { r.Histogram("h", "", nil) },
		"explicit infinity": func(r *Registry) { r.Histogram("h", "", []float64{1, math.Inf(1)}) },
		"odd info labels":   func(r *Registry) { r.Info("i", "", "version") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(&Registry{})
		}()
	}
}
