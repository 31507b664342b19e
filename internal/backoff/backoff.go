// Package backoff is shroud's one retry schedule: exponential backoff with
// full jitter, as AWS's guidance describes it ("Exponential Backoff And
// Jitter"), so a fleet of wrappers that failed together does not retry
// together.
package backoff

import (
	"math/rand/v2"
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
