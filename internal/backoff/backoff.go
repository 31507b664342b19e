// Package backoff is shroud's one retry schedule: exponential backoff with
// full jitter, as AWS's guidance describes it ("Exponential Backoff And
// Jitter"), so a fleet of wrappers that failed together does not retry
// together.
package backoff

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// FullJitter is the wait before retry number attempt (1 for the first): a
// random time from 0 up to min(ceiling, base·2^(attempt-1)).
func FullJitter(attempt int, base, ceiling time.Duration) time.Duration {
	return time.Duration(rand.Int64N(int64(Ceiling(attempt, base, ceiling)) + 1))
}

// Ceiling is the longest wait FullJitter may choose for attempt.
func Ceiling(attempt int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// compression divides every wait; its bits hold a float64, 0 meaning 1.
var compression atomic.Uint64

// Compress makes the constant times of retry schedules (bases and
// ceilings written in code, which callers pass through Scale) factor times
// shorter. shroud never calls it: a simulation that compresses time
// (bench/fleet configures intervals and deadlines factor times shorter,
// and quotas factor times higher) does, so that retries keep their place
// among them. Configured durations are never scaled again.
func Compress(factor float64) {
	if factor <= 0 || factor == 1 {
		compression.Store(0)
		return
	}
	compression.Store(math.Float64bits(factor))
}

// Scale is the constant d as retry schedules wait it: d itself, unless
// Compress said otherwise.
func Scale(d time.Duration) time.Duration {
	bits := compression.Load()
	if bits == 0 {
		return d
	}
	return time.Duration(float64(d) / math.Float64frombits(bits))
}
