//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// adminSidecar starts shroud sidecar against an AWS fake with one SSM
// parameter written to a file, rotation polling hourly, and the admin
// listener on listen (port 0: any free port). It returns the address the
// listener's one start-up line says it bound.
func adminSidecar(t *testing.T, listen string, flags ...string) (*started, *awsfake.Fake, string) {
	t.Helper()
	fake := awsfake.New()
	t.Cleanup(fake.Close)
	fake.PutParameter("us-east-1", "/prod/token", awsfake.SecureString, adminCanary)
	dir := t.TempDir()
	write(t, dir, "shroud.toml", "region = \"us-east-1\"\n[rotation]\ninterval = \"1h\"\n[[files]]\npath = \"out/token\"\nvalue_from = \"/prod/token\"\n")
	args := append([]string{"sidecar", "--config", filepath.Join(dir, "shroud.toml"), "--listen", listen}, flags...)
	s := startShroud(t, append(fake.Env(), "AWS_REGION=us-east-1"), args...)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if m := listenLine.FindStringSubmatch(s.stderr.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start-up line with the address bound:\n%s", s.stderr)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get(t, "GET", addr, "/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", s.stderr)
		}
	}
	return s, fake, addr
}

const adminCanary = "canary-admin-tok-Qm7"

func init() { canaries = append(canaries, adminCanary) }

var listenLine = regexp.MustCompile(`msg="admin listener[^"]*" address=(\S+)`)

// TestListenAddressLogged: --listen with a port alone binds loopback, and
// one start-up line gives the address actually bound (port 0 becomes the
// port the kernel chose) and says who can reach it.
func TestListenAddressLogged(t *testing.T) {
	s, _, addr := adminSidecar(t, "0")
	host, port, _ := net.SplitHostPort(addr)
	if host != "127.0.0.1" || port == "0" {
		t.Errorf("bound %s, want 127.0.0.1 and the port chosen", addr)
	}
	if code, _ := get(t, "GET", addr, "/healthz"); code != 200 {
		t.Errorf("nothing answers at the logged address %s", addr)
	}
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	log := s.stderr.String()
	if n := strings.Count(log, "admin listener"); n != 1 || !strings.Contains(log, "this host only") {
		t.Errorf("%d admin listener lines, want one saying it serves this host only:\n%s", n, log)
	}
	for _, cmd := range []string{"run", "sidecar"} {
		if help := shroud(t, t.TempDir(), nil, cmd, "--help").stdout; !strings.Contains(help, "a port alone (9090) binds 127.0.0.1 only") {
			t.Errorf("%s --help does not say where a port alone binds:\n%s", cmd, help)
		}
	}
}

// TestRefreshFlood: 500 POST /refresh in a burst cost the backend a few
// calls, not one each (issue: 500 POSTs in 10 s made 574): requests merge,
// at most one check waits, and checks they cause are a second apart.
func TestRefreshFlood(t *testing.T) {
	s, fake, addr := adminSidecar(t, "0")
	const api = "AmazonSSM.GetParameters"
	before := fake.Count(api, "")
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for w := 0; w < 10; w++ {
		wg.Go(func() {
			for i := 0; i < 50; i++ {
				code, _ := get(t, "POST", addr, "/refresh")
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	burst := time.Since(start)
	time.Sleep(1500 * time.Millisecond) // the merged check that waited
	calls := fake.Count(api, "") - before
	limit := int((burst+1500*time.Millisecond)/time.Second) + 2
	if codes[http.StatusAccepted] != 500 || calls < 1 || calls > limit {
		t.Errorf("500 POSTs in %s: answers %v, %d %s calls; want 500×202 and 1 to %d calls", burst.Round(time.Millisecond), codes, calls, api, limit)
	}
	t.Logf("500 POSTs in %s: %d calls", burst.Round(time.Millisecond), calls)
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	noCanary(t, "sidecar log", s.stderr.String())
}

// TestRefreshRemote: bound to an address other than loopback, the GET
// endpoints serve every client, and POST /refresh only with
// --remote-refresh.
func TestRefreshRemote(t *testing.T) {
	ip := nonLoopbackIP(t)
	for _, remote := range []bool{false, true} {
		var flags []string
		if remote {
			flags = []string{"--remote-refresh"}
		}
		s, _, addr := adminSidecar(t, net.JoinHostPort(ip, "0"), flags...)
		if code, _ := get(t, "GET", addr, "/metrics"); code != 200 {
			t.Errorf("GET /metrics from %s: %d", ip, code)
		}
		want := map[bool]int{false: 403, true: 202}[remote]
		if code, body := get(t, "POST", addr, "/refresh"); code != want {
			t.Errorf("--remote-refresh %v: POST /refresh from %s: %d %s, want %d", remote, ip, code, body, want)
		}
		s.signal(t, unix.SIGTERM)
		s.wait(t)
		if log := s.stderr.String(); !strings.Contains(log, "reachable_from=\"the network") {
			t.Errorf("the start-up line does not say the network reaches it:\n%s", log)
		}
	}
}

// nonLoopbackIP is an address of this machine's other than loopback: a
// client connecting to it from here comes from it.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("SKIPPED: this machine has no IPv4 address other than loopback")
	return ""
}

// TestBuildInfoMetric: /metrics has shroud_build_info with the version
// and the Go version that built the binary.
func TestBuildInfoMetric(t *testing.T) {
	s, _, addr := adminSidecar(t, "0")
	_, body := get(t, "GET", addr, "/metrics")
	want := fmt.Sprintf(`shroud_build_info{goversion=%q,version=%q} 1`, runtime.Version(), strings.TrimSpace(shroud(t, t.TempDir(), nil, "version").stdout))
	if !strings.Contains(body, want+"\n") {
		t.Errorf("no %s in /metrics:\n%s", want, body)
	}
	s.signal(t, unix.SIGTERM)
	s.wait(t)
}

// TestJSONLogHasNoNull: every JSON log line of a rotation is an object
// whose attributes hold values: nothing is written as null (the "secrets
// changed" line wrote "env":null when only files changed).
func TestJSONLogHasNoNull(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "src/token", "canary-e2e-Vb5nR8")
	write(t, dir, "shroud.toml", "[rotation]\ninterval = \"0\"\n[[files]]\npath = \"out/token\"\nvalue_from = \"file:src/token\"\n")
	s := startShroud(t, nil, "sidecar", "--log-format", "json", "--config", filepath.Join(dir, "shroud.toml"))
	awaitLog := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.stderr.String(), what); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %q:\n%s", what, s.stderr)
			}
		}
	}
	awaitLog("files rendered: ready")
	replaceFile(t, filepath.Join(dir, "src", "token"), "canary-e2e-Vb5nR8-2")
	awaitLog("secrets changed")
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON line: %q", line)
			continue
		}
		for k, v := range rec {
			if v == nil {
				t.Errorf("%q is null in %s", k, line)
			}
		}
	}
	noCanary(t, "sidecar log", s.stderr.String())
}
