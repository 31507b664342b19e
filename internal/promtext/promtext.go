// Package promtext keeps counters, gauges, histograms and summaries and
// serves them in the Prometheus text exposition format (version 0.0.4).
//
// shroud has a dozen metrics and one scraper. The Prometheus client library
// would serve them too, but linking it costs every shroud start, even one
// that never listens: its package init registers the default Go and process
// collectors and a protobuf schema, about 6 ms of the start-up of a
// process that may only exec its child. The text format is small and
// stable; the tests check what this package writes with Prometheus's own
// parser.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families and writes them, sorted by name.
type Registry struct {
	mu       sync.Mutex
	families []*family
}

type kind string

const (
	counter   kind = "counter"
	gauge     kind = "gauge"
	histogram kind = "histogram"
	summary   kind = "summary"
)

// family is one metric name: its help, type, label names and one series
// per combination of label values seen.
type family struct {
	name, help string
	kind       kind
	labels     []string
	buckets    []float64      // upper bounds, histograms only
	read       func() float64 // a value read when written out, else nil
	readSum    func() Summary // a summary read when written out
	mu         sync.Mutex
	series     map[string]*series // by joined label values
}

type series struct {
	values []string // label values, in the order of family.labels
	value  float64  // counter or gauge; a histogram's sum
	counts []uint64 // histogram: observations per bucket, not cumulative
	count  uint64   // histogram: all observations
}

func (r *Registry) add(f *family) *family {
	validName(f.name)
	for _, l := range f.labels {
		validName(l)
		if l == "le" && f.kind == histogram {
			panic("promtext: " + f.name + ": a histogram's label cannot be le")
		}
	}
	f.series = map[string]*series{}
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearchFunc(r.families, f.name, func(g *family, name string) int { return strings.Compare(g.name, name) })
	if found {
		panic("promtext: " + f.name + " registered twice")
	}
	r.families = slices.Insert(r.families, i, f)
	return f
}

// validName panics on a metric or label name Prometheus would not read: a
// programming error, caught by the first test that registers it.
func validName(s string) {
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		panic(fmt.Sprintf("promtext: %q is not a metric or label name", s))
	}
	if s == "" {
		panic("promtext: empty metric or label name")
	}
}

// Counter is a family of counters, one per combination of label values.
type Counter struct{ f *family }

// Counter registers a counter named name with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) Counter {
	return Counter{r.add(&family{name: name, help: help, kind: counter, labels: labels})}
}

// Inc adds one to the counter with these label values.
func (c Counter) Inc(labelValues ...string) { c.Add(1, labelValues...) }

// Add adds v, which must not be negative, to the counter with these label
// values.
func (c Counter) Add(v float64, labelValues ...string) {
	if v < 0 {
		panic("promtext: " + c.f.name + ": a counter cannot go down")
	}
	c.f.update(labelValues, func(s *series) { s.value += v })
}

// Gauge is a family of gauges, one per combination of label values.
type Gauge struct{ f *family }

// Gauge registers a gauge named name with the given label names.
func (r *Registry) Gauge(name, help string, labels ...string) Gauge {
	return Gauge{r.add(&family{name: name, help: help, kind: gauge, labels: labels})}
}

// Set sets the gauge with these label values to v.
func (g Gauge) Set(v float64, labelValues ...string) {
	g.f.update(labelValues, func(s *series) { s.value = v })
}

// GaugeFunc registers a gauge without labels whose value read returns when
// the registry is written out.
func (r *Registry) GaugeFunc(name, help string, read func() float64) {
	r.add(&family{name: name, help: help, kind: gauge, read: read})
}

// CounterFunc registers a counter without labels whose value read returns
// when the registry is written out.
func (r *Registry) CounterFunc(name, help string, read func() float64) {
	r.add(&family{name: name, help: help, kind: counter, read: read})
}

// Info registers a gauge of value 1 whose labels carry the information,
// as Prometheus's info metrics (go_info, build_info) do: labels are name
// and value pairs, written sorted by name.
func (r *Registry) Info(name, help string, labels ...string) {
	if len(labels)%2 != 0 {
		panic("promtext: " + name + ": labels come in name and value pairs")
	}
	pairs := make([][2]string, 0, len(labels)/2)
	for i := 0; i < len(labels); i += 2 {
		pairs = append(pairs, [2]string{labels[i], labels[i+1]})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	names, values := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		names[i], values[i] = p[0], p[1]
	}
	r.Gauge(name, help, names...).Set(1, values...)
}

// BuildInfo registers PROGRAM_build_info{goversion, version} 1, the
// metric Prometheus's own programs export (with more labels) to tell
// which build runs.
func (r *Registry) BuildInfo(program, version string) {
	r.Info(program+"_build_info",
		"A metric with a constant '1' value labeled by version and goversion from which "+program+" was built.",
		"version", version, "goversion", runtime.Version())
}

// Summary is the state of a summary when it is written out.
type Summary struct {
	// Quantiles are the values at ranks from 0 to 1, in increasing rank.
	Quantiles []Quantile
	Sum       float64
	Count     uint64
}

// Quantile is the value at a rank (0.5 for the median) of the observations.
type Quantile struct{ Rank, Value float64 }

// SummaryFunc registers a summary without labels whose state read returns
// when the registry is written out.
func (r *Registry) SummaryFunc(name, help string, read func() Summary) {
	r.add(&family{name: name, help: help, kind: summary, readSum: read})
}

// Histogram is a family of histograms, one per combination of label values.
type Histogram struct{ f *family }

// Histogram registers a histogram named name with the given bucket upper
// bounds (increasing; +Inf is implied) and label names.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) Histogram {
	for i, b := range buckets {
		if math.IsNaN(b) || math.IsInf(b, 1) || i > 0 && b <= buckets[i-1] {
			panic("promtext: " + name + ": buckets must increase strictly and leave out +Inf")
		}
	}
	if len(buckets) == 0 {
		panic("promtext: " + name + ": a histogram needs buckets")
	}
	return Histogram{r.add(&family{name: name, help: help, kind: histogram, labels: labels, buckets: slices.Clone(buckets)})}
}

// Observe records v in the histogram with these label values.
func (h Histogram) Observe(v float64, labelValues ...string) {
	h.f.update(labelValues, func(s *series) {
		if s.counts == nil {
			s.counts = make([]uint64, len(h.f.buckets))
		}
		if i, _ := slices.BinarySearch(h.f.buckets, v); i < len(s.counts) {
			s.counts[i]++ // le is inclusive: v == bound counts in that bucket
		}
		s.count++
		s.value += v
	})
}

func (f *family) update(values []string, change func(*series)) {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("promtext: %s has labels %v, got %d values", f.name, f.labels, len(values)))
	}
	key := strings.Join(values, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.series[key]
	if s == nil {
		s = &series{values: slices.Clone(values)}
		f.series[key] = s
	}
	change(s)
}

// ContentType is the media type of what WriteTo writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteTo writes every family in the text exposition format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	r.mu.Lock()
	families := slices.Clone(r.families)
	r.mu.Unlock()
	for _, f := range families {
		f.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

// ServeHTTP serves the registry, for GET /metrics.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	r.WriteTo(w)
}

func (f *family) write(w *bufio.Writer) {
	if f.readSum != nil {
		f.writeSummary(w, f.readSum())
		return
	}
	var list []*series
	if f.read != nil {
		list = []*series{{value: f.read()}}
	} else {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.series {
			list = append(list, s)
		}
		if len(list) == 0 && len(f.labels) > 0 {
			return // nothing observed yet: no series to show
		}
		if len(list) == 0 {
			list = []*series{{}} // a metric without labels starts at zero
		}
		slices.SortFunc(list, func(a, b *series) int { return slices.Compare(a.values, b.values) })
	}
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
	for _, s := range list {
		if f.kind != histogram {
			f.sample(w, "", s.values, "", "", s.value)
			continue
		}
		var cum uint64
		for i, bound := range f.buckets {
			if s.counts != nil {
				cum += s.counts[i]
			}
			f.sample(w, "_bucket", s.values, "le", formatFloat(bound), float64(cum))
		}
		f.sample(w, "_bucket", s.values, "le", "+Inf", float64(s.count))
		f.sample(w, "_sum", s.values, "", "", s.value)
		f.sample(w, "_count", s.values, "", "", float64(s.count))
	}
}

func (f *family) writeSummary(w *bufio.Writer, s Summary) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
	for _, q := range s.Quantiles {
		f.sample(w, "", nil, "quantile", formatFloat(q.Rank), q.Value)
	}
	f.sample(w, "_sum", nil, "", "", s.Sum)
	f.sample(w, "_count", nil, "", "", float64(s.Count))
}

// sample writes one line: name{labels} value. extra, when set, is the
// last label, with its value: a histogram bucket's le, a summary's
// quantile.
func (f *family) sample(w *bufio.Writer, suffix string, values []string, extra, extraValue string, v float64) {
	w.WriteString(f.name)
	w.WriteString(suffix)
	if len(values) > 0 || extra != "" {
		w.WriteByte('{')
		for i, name := range f.labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(name)
			w.WriteString(`="`)
			w.WriteString(escapeLabel(values[i]))
			w.WriteByte('"')
		}
		if extra != "" {
			if len(values) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(extra)
			w.WriteString(`="`)
			w.WriteString(extraValue)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
