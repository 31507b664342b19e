package promtext

import (
	"math"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

// RegisterProcess adds the standard process and Go runtime metrics, a
// subset of the Prometheus client library's default ones under the same
// names, types, help and labels, so dashboards built for other Go programs
// read shroud's too. Each is read when written out. Those the kernel keeps
// come from registerKernel (process_linux.go, process_darwin.go).
func (r *Registry) RegisterProcess() {
	r.registerKernel()
	r.GaugeFunc("process_max_fds", "Maximum number of open file descriptors.", func() float64 {
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
			return math.NaN()
		}
		return float64(lim.Cur)
	})
	r.GaugeFunc("go_goroutines", "Number of goroutines that currently exist.", func() float64 {
		return float64(runtime.NumGoroutine())
	})
	r.Info("go_info", "Information about the Go environment.", "version", runtime.Version())
	r.SummaryFunc("go_gc_duration_seconds", "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", gcPauses)
	r.GaugeFunc("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", func() float64 {
		var s debug.GCStats
		debug.ReadGCStats(&s)
		return float64(s.LastGC.UnixNano()) / 1e9
	})
	memstat := func(field func(*runtime.MemStats) uint64) func() float64 {
		return func() float64 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return float64(field(&m))
		}
	}
	r.GaugeFunc("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.",
		memstat(func(m *runtime.MemStats) uint64 { return m.HeapAlloc }))
	r.GaugeFunc("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes",
		memstat(func(m *runtime.MemStats) uint64 { return m.HeapInuse }))
	r.GaugeFunc("go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.",
		memstat(func(m *runtime.MemStats) uint64 { return m.Sys }))
}

// gcPauses summarizes the garbage collector's pauses as the client
// library does: the minimum, quartiles and maximum of the recent pauses,
// their total and the number of collections.
func gcPauses() Summary {
	var s debug.GCStats
	s.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&s)
	sum := Summary{Sum: s.PauseTotal.Seconds(), Count: uint64(s.NumGC)}
	for i, q := range s.PauseQuantiles {
		sum.Quantiles = append(sum.Quantiles, Quantile{Rank: float64(i) / 4, Value: q.Seconds()})
	}
	return sum
}
