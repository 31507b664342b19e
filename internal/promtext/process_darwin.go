package promtext

import (
	"math"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// registerKernel adds the metrics darwin gives without cgo: CPU time
// (getrusage), the start time (sysctl kern.proc.pid), the open
// descriptors (/dev/fd) and the threads the runtime made, counted as the
// client library counts them. The resident and virtual memory sizes are
// left out: darwin keeps them in Mach's task_info, out of reach without
// cgo (the release is built with CGO_ENABLED=0).
func (r *Registry) registerKernel() {
	r.CounterFunc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", func() float64 {
		var ru unix.Rusage
		if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
			return math.NaN()
		}
		return seconds(ru.Utime) + seconds(ru.Stime)
	})
	r.GaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", func() float64 {
		p, err := unix.SysctlKinfoProc("kern.proc.pid", os.Getpid())
		if err != nil {
			return math.NaN()
		}
		return seconds(p.Proc.P_starttime)
	})
	r.GaugeFunc("process_open_fds", "Number of open file descriptors.", func() float64 {
		fds, err := os.ReadDir("/dev/fd")
		if err != nil {
			return math.NaN()
		}
		return float64(len(fds))
	})
	r.GaugeFunc("go_threads", "Number of OS threads created.", func() float64 {
		n, _ := runtime.ThreadCreateProfile(nil)
		return float64(n)
	})
}

func seconds(tv unix.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
