package promtext

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// RegisterProcess adds the standard process and Go runtime metrics, a
// subset of the Prometheus client library's default ones under the same
// names, types, help and labels, so dashboards built for other Go programs
// read shroud's too. Each is read when written out.
func (r *Registry) RegisterProcess() {
	r.CounterFunc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", func() float64 {
		return (stat(13) + stat(14)) / userHZ // utime, stime
	})
	r.GaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", func() float64 {
		return stat(23) * float64(os.Getpagesize()) // rss, in pages
	})
	r.GaugeFunc("process_virtual_memory_bytes", "Virtual memory size in bytes.", func() float64 {
		return stat(22) // vsize
	})
	r.GaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", func() float64 {
		return bootTime() + stat(21)/userHZ // starttime, in ticks after boot
	})
	r.GaugeFunc("process_open_fds", "Number of open file descriptors.", func() float64 {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return math.NaN()
		}
		return float64(len(fds))
	})
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
	r.GaugeFunc("go_threads", "Number of OS threads created.", func() float64 {
		return stat(19) // num_threads
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

// stat returns field i (0-based, counting the pid as 0) of /proc/self/stat,
// or NaN when it cannot be read.
func stat(i int) float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return math.NaN()
	}
	// The command name (field 1) is in parentheses and may hold spaces:
	// count fields after its closing parenthesis, which is field 1's end.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 || i < 2 {
		return math.NaN()
	}
	f := bytes.Fields(b[end+1:])
	if i-2 >= len(f) {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(string(f[i-2]), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// bootTime is the btime line of /proc/stat: when the system booted, in
// seconds since the epoch.
func bootTime() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return math.NaN()
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			n, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			if err == nil {
				return n
			}
		}
	}
	return math.NaN()
}
