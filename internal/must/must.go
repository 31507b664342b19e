// Package must stops a test at a setup step that failed: a file not
// written, a directory not made, a mode not set. A test that goes on
// without its setup tests something else, and may pass for it.
package must

import "testing"

// Succeed stops the test with err, the error of a setup step, if any.
func Succeed(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
