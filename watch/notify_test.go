package watch

import (
	"testing"
)

func TestParsePid(t *testing.T) {
	for in, want := range map[string]int{"42\n": 42, " 4194304 ": 4194304, "77": 77} {
		if got, err := parsePid("app.pid", []byte(in)); err != nil || got != want {
			t.Errorf("parsePid(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1", "0", "-5", "4194305", "12 13", "0x10", "pid"} {
		if _, err := parsePid("app.pid", []byte(in)); err == nil {
			t.Errorf("parsePid(%q) accepted", in)
		}
	}
}

// FuzzParsePid: a pidfile is another program's output; whatever it holds,
// shroud signals only a plausible pid above 1.
func FuzzParsePid(f *testing.F) {
	for _, s := range []string{"42\n", "1", "", "-1", "999999999999", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pid, err := parsePid("app.pid", data)
		if err != nil {
			if pid != 0 {
				t.Fatal("a pid with an error")
			}
			return
		}
		if pid <= 1 || pid > 1<<22 {
			t.Fatalf("accepted pid %d from %q", pid, data)
		}
	})
}
