package inject

import (
	"os"
	"testing"

	"github.com/shroud-dev/shroud/internal/settest"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the reader process of the set tests.
	if os.Getenv("SHROUD_SET_READER") == "1" {
		os.Exit(settest.Main(os.Stdout))
	}
	os.Exit(m.Run())
}
