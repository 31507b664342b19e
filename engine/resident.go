package engine

import (
	"log/slog"
	"os"
	"runtime/debug"
	"time"
)

// supervisingGCPercent is the GC target (GOGC) of a shroud that stays
// resident. Its live heap is about 1.2 MiB, mostly tables the SDKs build at
// package init, and each check of the backends allocates about 2 KiB per
// secret. With the default 100 the heap grows to the runtime's 4 MiB floor
// before the first collection, and the scavenger keeps that much resident;
// with 25 the goal is about 2 MiB, and collecting so small a heap every few
// minutes costs a millisecond or two each time.
const supervisingGCPercent = 25

// settle gives back what start-up left behind, once a shroud that stays
// resident (a supervisor after the child started, a sidecar after its first
// render) has done the work that happens once: it lowers the GC target,
// collects the start-up garbage and returns the free heap to the system,
// and unmaps the pages of its own executable that start-up faulted in.
// Called off the exec fast path only.
func settle() {
	start := time.Now()
	if os.Getenv("GOGC") == "" { // the user's setting stands
		debug.SetGCPercent(supervisingGCPercent)
	}
	debug.FreeOSMemory()
	kib, err := dropExecutablePages()
	if err != nil {
		slog.Debug("keeping start-up pages of the executable resident", "error", err)
	}
	slog.Debug("settled: start-up garbage freed, start-up pages of the executable dropped", "kib", kib, "took", time.Since(start).String())
}
