package promtext

import (
	"bytes"
	"math"
	"os"
	"strconv"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// registerKernel adds the metrics read from /proc.
func (r *Registry) registerKernel() {
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
	r.GaugeFunc("go_threads", "Number of OS threads created.", func() float64 {
		return stat(19) // num_threads
	})
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
