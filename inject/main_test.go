package inject

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the reader process of the set tests.
	if dir := os.Getenv("SHROUD_SET_READER"); dir != "" {
		os.Exit(setReader(dir))
	}
	os.Exit(m.Run())
}
