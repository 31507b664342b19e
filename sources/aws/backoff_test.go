package aws

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// TestBackoffDelay: after throttling, waits grow from 1 s up to 20 s, so a
// wrapper waiting in a saturated quota asks less often; after other
// errors, from 50 ms up to 5 s.
func TestBackoffDelay(t *testing.T) {
	j := fullJitter{throttles: retry.IsErrorThrottles(retry.DefaultThrottles)}
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	failed := &smithy.GenericAPIError{Code: "InternalServiceError"}
	for _, tc := range []struct {
		err        error
		attempt    int
		most, over time.Duration // every wait is at most most; some exceed over
	}{
		{throttled, 1, time.Second, 100 * time.Millisecond},
		{throttled, 8, 20 * time.Second, 5 * time.Second},
		{failed, 1, 50 * time.Millisecond, 0},
		{failed, 8, DefaultMaxBackoff, time.Second},
	} {
		var longest time.Duration
		for range 200 {
			d, err := j.BackoffDelay(tc.attempt, tc.err)
			if err != nil || d < 0 || d > tc.most {
				t.Fatalf("%v, attempt %d: %v %v, want within [0, %v]", tc.err, tc.attempt, d, err, tc.most)
			}
			longest = max(longest, d)
		}
		if longest <= tc.over {
			t.Errorf("%v, attempt %d: the longest of 200 waits is %v, want some over %v", tc.err, tc.attempt, longest, tc.over)
		}
	}
}
