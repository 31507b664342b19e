package logdriver

import "testing"

// TestDefaultMaxBufferSizeAsDocker checks the non-blocking buffer when
// max-buffer-size is not set: Docker's ring holds 10^6 bytes
// (defaultRingMaxSize = 1e6), not the 2^20 of "1m".
func TestDefaultMaxBufferSizeAsDocker(t *testing.T) {
	for _, opts := range []map[string]string{{"mode": NonBlocking}, {"mode": NonBlocking, "max-buffer-size": "1m"}} {
		r := &optReader{driver: JSONFile, opts: opts}
		want := int64(1_000_000)
		if opts["max-buffer-size"] != "" {
			want = 1 << 20
		}
		if got := parseCommon(r).maxBufferSize; got != want || len(r.errs) > 0 {
			t.Errorf("%v: a buffer of %d bytes (%v), want %d", opts, got, r.errs, want)
		}
	}
}
