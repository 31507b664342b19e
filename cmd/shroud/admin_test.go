package main

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
		if got, err := listenAddress(in); err != nil || got != want {
			t.Errorf("listenAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http", "localhost:http", "70000", "-1", "a b:1", "host:", " 9090"} {
		if got, err := listenAddress(in); err == nil {
			t.Errorf("listenAddress(%q) = %q, want an error", in, got)
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
		addr, err := listenAddress(s)
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
		if again, err := listenAddress(addr); err != nil || again != addr {
			t.Fatalf("%q -> %q -> %q, %v", s, addr, again, err)
		}
	})
}

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
