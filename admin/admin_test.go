package admin

import (
	"net"
	"strconv"
	"testing"
)

func TestListenAddress(t *testing.T) {
	for in, want := range map[string]string{
		"9090":           "127.0.0.1:9090",
		":9090":          "127.0.0.1:9090",
		"0.0.0.0:9090":   "0.0.0.0:9090",
		"localhost:0":    "localhost:0",
		"[::1]:9090":     "[::1]:9090",
		"10.0.0.5:09090": "10.0.0.5:9090",
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http", "localhost:http", "70000", "-1", "a b:1", "host:", " 9090"} {
		if got, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzListenAddress: --listen never panics, and what it accepts is a
// host:port that listens where it says, stable when read again.
func FuzzListenAddress(f *testing.F) {
	for _, s := range []string{"9090", ":9090", "0.0.0.0:9090", "[::1]:0", "localhost:http", "", "::1", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseAddress(s)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			t.Fatalf("%q -> %q: %v", s, addr, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			t.Fatalf("%q -> port %q", s, port)
		}
		if again, err := ParseAddress(addr); err != nil || again != addr {
			t.Fatalf("%q -> %q -> %q, %v", s, addr, again, err)
		}
	})
}
