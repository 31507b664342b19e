package backoff

import (
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	for _, tc := range []struct {
		attempt   int
		base, max time.Duration
		want      time.Duration
	}{
		{0, time.Second, time.Minute, time.Second},
		{1, time.Second, time.Minute, time.Second},
		{2, time.Second, time.Minute, 2 * time.Second},
		{6, time.Second, time.Minute, 32 * time.Second},
		{7, time.Second, time.Minute, time.Minute},
		{1000, 5 * time.Second, time.Hour, time.Hour}, // no overflow
		{3, 50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
	} {
		if got := Ceiling(tc.attempt, tc.base, tc.max); got != tc.want {
			t.Errorf("Ceiling(%d, %v, %v) = %v, want %v", tc.attempt, tc.base, tc.max, got, tc.want)
		}
	}
}

// TestFullJitterSpread checks that the waits are spread over the whole
// range, as full jitter promises: a fleet that failed together must not
// retry together, so a constant (0, or the ceiling) is a bug.
func TestFullJitterSpread(t *testing.T) {
	const n = 4000
	ceiling := Ceiling(4, 100*time.Millisecond, time.Minute) // 800ms
	var sum time.Duration
	lo, hi := ceiling, time.Duration(0)
	seen := map[time.Duration]bool{}
	for range n {
		d := FullJitter(4, 100*time.Millisecond, time.Minute)
		if d < 0 || d > ceiling {
			t.Fatalf("wait %v outside [0, %v]", d, ceiling)
		}
		sum += d
		lo, hi = min(lo, d), max(hi, d)
		seen[d] = true
	}
	mean := sum / n
	// Uniform on [0, 800ms]: mean 400ms, sd of the mean ~3.7ms.
	if mean < 370*time.Millisecond || mean > 430*time.Millisecond {
		t.Errorf("mean wait %v, want about %v", mean, ceiling/2)
	}
	if lo > ceiling/20 || hi < ceiling*19/20 || len(seen) < n/2 {
		t.Errorf("waits span [%v, %v] with %d distinct values: not spread over [0, %v]", lo, hi, len(seen), ceiling)
	}
}

// TestCompress: a compressed schedule waits factor times shorter, and
// Compress(1) restores it.
func TestCompress(t *testing.T) {
	Compress(10)
	defer Compress(1)
	for range 100 {
		if d := FullJitter(3, Scale(time.Second), Scale(time.Minute)); d > 400*time.Millisecond {
			t.Fatalf("compressed wait %v, want at most 4s/10", d)
		}
	}
	if d := Scale(time.Second); d != 100*time.Millisecond {
		t.Errorf("Scale(1s) = %v under Compress(10)", d)
	}
	Compress(1)
	if d := Scale(time.Second); d != time.Second {
		t.Errorf("Scale(1s) = %v after Compress(1)", d)
	}
}
