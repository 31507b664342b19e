//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/kmsfake"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/internal/settest"
)

// These tests run shroud with [rotation] over real children (this test
// binary in the rotation mode of child_test.go), rotate secrets in file:
// sources and in the KMS fake, and read what the child received.

// rotCanaries are the rotated secret values; none may appear in any output
// of shroud: logs, metrics, admin answers, notifications.
var rotCanaries = []string{
	"canary-rot-v1-Jd8s", "canary-rot-v2-Pq4m", "canary-rot-v3-Xc7n", "canary-rot-v4-Lb2w", "canary-rot-v5-Rt9e",
	"canary-rot-v6-Hy3u", "canary-rot-v7-Zo5i",
}

func noRotCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	noKMSCanary(t, what, texts...)
	for _, text := range texts {
		for _, c := range rotCanaries {
			if strings.Contains(text, c) {
				t.Errorf("%s leaks a secret value (%s):\n%s", what, c, text)
			}
		}
	}
}

// recLines reads the rotation child's record, one entry a line.
func recLines(path string) []string {
	data, _ := os.ReadFile(path)
	text := strings.TrimSpace(string(data))
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// awaitRec waits until ok holds for the record. The bound is generous for a
// loaded machine; it is only reached when the test fails.
func awaitRec(t *testing.T, path, what string, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lines := recLines(path)
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; the child's record:\n%s", what, strings.Join(lines, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count counts the lines starting with prefix.
func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func has(line string) func([]string) bool {
	return func(lines []string) bool {
		for _, l := range lines {
			if l == line {
				return true
			}
		}
		return false
	}
}

func atLeast(prefix string, n int) func([]string) bool {
	return func(lines []string) bool { return count(lines, prefix) >= n }
}

// replaceFile writes data to path as editors save: a new file renamed over
// the old one.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// kubeVolume lays out dir as the kubelet lays out a secret volume: files
// in a generation directory, reached through the ..data link. Called again,
// it swaps ..data to a new generation, as the kubelet does on an update.
func kubeVolume(t *testing.T, dir, gen string, files map[string]string) {
	t.Helper()
	must.Succeed(t, os.MkdirAll(filepath.Join(dir, gen), 0o755))
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, gen, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		// The link exists after the first time.
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrExist) {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Symlink(gen, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		must.Succeed(t, os.RemoveAll(filepath.Join(dir, old)))
	}
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// get fetches path from the admin listener: status and body.
func get(t *testing.T, method, addr, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// awaitListener waits until the admin listener answers /healthz.
func awaitListener(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get(t, "GET", addr, "/healthz"); code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin listener at %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one sample from a /metrics body: name with its labels as
// Prometheus prints them, e.g. `shroud_refreshes_total{result="failed"}`.
// A missing sample is 0.
func metric(body, sample string) float64 {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// settle stands where a test asserts that something did not happen (a
// second notification). Detection is timed (a burst of file events ends
// 10 to 100 ms after its last event), so a short quiet window is
// inherent. After it, settle makes the watch loop take one more round
// (POST /refresh checks every backend) and waits until /metrics counts
// it: the loop applies what it detects in order, so whatever was detected
// has been applied, and acted on, by then, however slow the machine.
func settle(t *testing.T, addr string) {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	before := refreshes(t, addr)
	if code, body := get(t, "POST", addr, "/refresh"); code != 202 {
		t.Fatalf("POST /refresh: %d %s", code, body)
	}
	for deadline := time.Now().Add(30 * time.Second); refreshes(t, addr) <= before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the refresh was never counted")
		}
	}
}

// refreshes is the number of rounds of the watch loop, whatever their
// result.
func refreshes(t *testing.T, addr string) float64 {
	t.Helper()
	_, body := get(t, "GET", addr, "/metrics")
	var n float64
	for _, result := range []string{"changed", "unchanged", "failed"} {
		n += metric(body, `shroud_refreshes_total{result="`+result+`"}`)
	}
	return n
}

// awaitCalls waits until the fake has answered n more calls of kind than
// it had at from.
func awaitCalls(t *testing.T, fake *kmsfake.Server, kind string, from, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); fake.Calls(kind) < from+n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s calls in 30s, want %d", fake.Calls(kind)-from, kind, n)
		}
	}
}

// TestRotateFileSourcesSignal rotates two file: sources, one laid out as a
// Kubernetes secret volume (its ..data link swapped) and one saved as
// editors save (a new file renamed over it). Each rotation rewrites the
// output file and the child gets exactly one SIGHUP, after which it reads
// the new content.
func TestRotateFileSourcesSignal(t *testing.T) {
	dir := t.TempDir()
	c := rotCanaries
	kubeVolume(t, filepath.Join(dir, "k8s"), "..v1", map[string]string{"db.json": `{"user":"app","password":"` + c[0] + `"}`})
	write(t, dir, "plain/api-key", c[1])
	write(t, dir, "shroud.toml", `
[rotation]
interval = "0"          # no polling: file: sources are watched

[[files]]
path = "out/db.password"
value_from = "file:k8s/db.json#password"
[[files]]
path = "out/api-key"
value_from = "file:plain/api-key"
`)
	rec := filepath.Join(dir, "rec")
	out := filepath.Join(dir, "out")
	addr := freeAddr(t)
	s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(out, "db.password")},
		"run", "--listen", addr, "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
	awaitRec(t, rec, "the child", atLeast("start ", 1))
	awaitListener(t, addr)
	gen1, _ := os.Readlink(filepath.Join(out, "..data"))

	// The kubelet swaps ..data.
	kubeVolume(t, filepath.Join(dir, "k8s"), "..v2", map[string]string{"db.json": `{"user":"app","password":"` + c[2] + `"}`})
	awaitRec(t, rec, "SIGHUP after the ..data swap", atLeast("SIGHUP", 1))
	settle(t, addr)
	lines := recLines(rec)
	if count(lines, "SIGHUP") != 1 || !has("SIGHUP "+c[2])(lines) {
		t.Fatalf("after one rotation the child got (want exactly one SIGHUP, with the new file in place):\n%s", strings.Join(lines, "\n"))
	}
	gen2, _ := os.Readlink(filepath.Join(out, "..data"))
	if gen2 == gen1 || !strings.HasPrefix(gen2, "..") {
		t.Errorf("the set was not switched to a new generation: %q -> %q", gen1, gen2)
	}

	// An editor saves the other source.
	replaceFile(t, filepath.Join(dir, "plain", "api-key"), c[3])
	awaitRec(t, rec, "SIGHUP after the rename-save", atLeast("SIGHUP", 2))
	settle(t, addr)
	lines = recLines(rec)
	if count(lines, "SIGHUP") != 2 || count(lines, "start ") != 1 {
		t.Fatalf("after two rotations (want exactly two SIGHUPs, no restart):\n%s", strings.Join(lines, "\n"))
	}
	for name, want := range map[string]string{"db.password": c[2], "api-key": c[3]} {
		if data, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(data) != want {
			t.Errorf("%s = %q, %v; want the rotated value", name, data, err)
		}
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d (the child exits 0 on SIGTERM)", code)
	}
	noRotCanary(t, "shroud's log", s.stderr.String())
}

// TestRotateKMSSignal polls the KMS fake through the real SDK: versions
// only (ListSecretVersionIds) until a put moves ACSCurrent, then one
// GetSecretValue; the file is rewritten and the child gets exactly one
// SIGHUP. A pinned version is never polled.
func TestRotateKMSSignal(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", `
[rotation]
interval = "200ms"
jitter = 0.2

[[files]]
path = "out/api-key"
value_from = "kms:prod/api-key"
[[files]]
path = "pinned/db-user"
value_from = "kms:prod/db:AccountName::v1"
`)
	rec := filepath.Join(dir, "rec")
	s := startShroud(t, append([]string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(dir, "out", "api-key")}, envAK...),
		"run", "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
	awaitRec(t, rec, "the child", atLeast("start ", 1))
	gets := fake.Calls("GetSecretValue")
	awaitCalls(t, fake, "ListSecretVersionIds", fake.Calls("ListSecretVersionIds"), 3) // polls of an unchanged secret
	if got := fake.Calls("GetSecretValue"); got != gets {
		t.Errorf("polling an unchanged secret read its value: GetSecretValue %d -> %d", gets, got)
	}

	fake.Put("cn-hangzhou", "prod/api-key", []byte(rotCanaries[4]))
	awaitRec(t, rec, "SIGHUP after the put", atLeast("SIGHUP", 1))
	// Three polls after the one that saw the change: a second SIGHUP
	// would come from one of them.
	awaitCalls(t, fake, "ListSecretVersionIds", fake.Calls("ListSecretVersionIds"), 3)
	lines := recLines(rec)
	if count(lines, "SIGHUP") != 1 || !has("SIGHUP "+rotCanaries[4])(lines) {
		t.Fatalf("want exactly one SIGHUP, with the new file in place:\n%s", strings.Join(lines, "\n"))
	}
	if got := fake.Calls("GetSecretValue"); got != gets+1 {
		t.Errorf("GetSecretValue %d -> %d: want one read, of the new version", gets, got)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "pinned", "db-user")); string(data) != "app_a" {
		t.Errorf("the pinned file holds %q", data)
	}
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	noRotCanary(t, "shroud's log", s.stderr.String())
}

// TestRotateEnvRestarts: an env-bound secret cannot reach a running
// process, so with the default policy (signal) the child is restarted:
// the old one gets SIGTERM, the new one starts with the new value, and the
// log says why. With on_change = "restart", three rotations in quick
// succession cause one restart, with the last value.
func TestRotateEnvRestarts(t *testing.T) {
	c := rotCanaries
	t.Run("signal", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "src/password", c[0])
		write(t, dir, "shroud.toml", "[rotation]\n[[secrets]]\nname = \"DB_PASSWORD\"\nvalue_from = \"file:src/password\"\n")
		rec := filepath.Join(dir, "rec")
		s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_VAR=DB_PASSWORD"},
			"run", "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
		awaitRec(t, rec, "the child", atLeast("start ", 1))
		replaceFile(t, filepath.Join(dir, "src", "password"), c[1])
		lines := awaitRec(t, rec, "the restart", atLeast("start ", 2))
		if len(lines) != 3 || !strings.HasSuffix(lines[0], " "+c[0]) || lines[1] != "SIGTERM" || !strings.HasSuffix(lines[2], " "+c[1]) {
			t.Fatalf("want start (old value), SIGTERM, start (new value):\n%s", strings.Join(lines, "\n"))
		}
		s.signal(t, unix.SIGTERM)
		s.wait(t)
		stderr := s.stderr.String()
		if !strings.Contains(stderr, "a running process cannot see a new env value") || !strings.Contains(stderr, "DB_PASSWORD") {
			t.Errorf("the log does not say why the child restarted:\n%s", stderr)
		}
		noRotCanary(t, "shroud's log", stderr)
	})
	t.Run("restart debounced", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "src/password", c[2])
		write(t, dir, "shroud.toml", "[rotation]\non_change = \"restart\"\n[[secrets]]\nname = \"DB_PASSWORD\"\nvalue_from = \"file:src/password\"\n")
		rec := filepath.Join(dir, "rec")
		s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_VAR=DB_PASSWORD"},
			"run", "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
		awaitRec(t, rec, "the child", atLeast("start ", 1))
		changes := func() int { return strings.Count(s.stderr.String(), `msg="secrets changed"`) }
		for i, v := range c[3:6] {
			replaceFile(t, filepath.Join(dir, "src", "password"), v)
			// Each change is seen on its own before the next is made, all
			// within the restart's settle time (1 s): that window is what
			// is tested.
			waitFor(t, fmt.Sprintf("change %d seen", i+1), func() bool { return changes() == i+1 })
		}
		if n := strings.Count(s.stderr.String(), `msg="restarting the child"`); n != 1 {
			t.Errorf("three changes scheduled %d restarts, want 1:\n%s", n, s.stderr)
		}
		awaitRec(t, rec, "the restart", atLeast("start ", 2))
		// A second restart, if one were pending, would come a settle time
		// (1 s) after the change that asked for it, which was before the
		// first: nothing the loop shows marks that it will not come, so
		// this quiet window is inherent. Twice the settle time leaves room
		// for a loaded machine.
		time.Sleep(2 * time.Second)
		lines := recLines(rec)
		if count(lines, "start ") != 2 || count(lines, "SIGTERM") != 1 || !strings.HasSuffix(lines[len(lines)-1], " "+c[5]) {
			t.Fatalf("three rotations: want one restart, with the last value:\n%s", strings.Join(lines, "\n"))
		}
		s.signal(t, unix.SIGTERM)
		s.wait(t)
		noRotCanary(t, "shroud's log", s.stderr.String())
	})
}

// TestRotateExitPolicy: with on_change = "exit", shroud stops the child
// (SIGTERM) and exits 75, so an orchestrator replaces the container.
func TestRotateExitPolicy(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "src/key", rotCanaries[0])
	write(t, dir, "shroud.toml", "[rotation]\non_change = \"exit\"\n[[files]]\npath = \"out/key\"\nvalue_from = \"file:src/key\"\n")
	rec := filepath.Join(dir, "rec")
	s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec},
		"run", "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
	awaitRec(t, rec, "the child", atLeast("start ", 1))
	replaceFile(t, filepath.Join(dir, "src", "key"), rotCanaries[1])
	if code := s.wait(t); code != 75 {
		t.Fatalf("exit %d, want 75; stderr:\n%s", code, s.stderr)
	}
	if lines := recLines(rec); len(lines) != 2 || lines[1] != "SIGTERM" {
		t.Errorf("the child was not stopped gracefully:\n%s", strings.Join(lines, "\n"))
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "out", "key")); string(data) != rotCanaries[1] {
		t.Errorf("the file was not rewritten before the exit: %q", data)
	}
	noRotCanary(t, "shroud's log", s.stderr.String())
}

// kmsProxy stands between shroud and the KMS fake and can take KMS down:
// every request is then answered 503 ServiceUnavailable, as KMS answers
// when it is unavailable.
type kmsProxy struct {
	*httptest.Server
	down atomic.Bool
}

func newKMSProxy(t *testing.T, target string) *kmsProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &kmsProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server.","RequestId":"e2e-down"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// TestRotateBackendDown: KMS fails every call after start. The child keeps
// running, untouched, with its files; the failures show in the metrics and
// the log; a rotation made during the outage is picked up once KMS is back.
func TestRotateBackendDown(t *testing.T) {
	fake := kmsCloud(t)
	proxy := newKMSProxy(t, fake.URL())
	dir := t.TempDir()
	write(t, dir, "shroud.toml", fmt.Sprintf(`
[alibaba]
region = "cn-hangzhou"
endpoint = %q
timeout = "2s"

[rotation]
interval = "200ms"

[[secrets]]
name = "DB_USER"
value_from = "kms:prod/db:AccountName"
[[files]]
path = "out/api-key"
value_from = "kms:prod/api-key"
`, proxy.URL))
	rec := filepath.Join(dir, "rec")
	addr := freeAddr(t)
	s := startShroud(t, append([]string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(dir, "out", "api-key")}, envAK...),
		"run", "--listen", addr, "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
	awaitRec(t, rec, "the child", atLeast("start ", 1))
	awaitListener(t, addr)

	proxy.down.Store(true)
	fake.Put("cn-hangzhou", "prod/api-key", []byte(rotCanaries[6])) // rotated during the outage
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body = get(t, "GET", addr, "/metrics")
		if metric(body, `shroud_refreshes_total{result="failed"}`) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed refreshes in the metrics:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if metric(body, `shroud_backend_calls_total{backend="kms",call="versions",result="error"}`) < 3 {
		t.Errorf("failed version polls are not counted:\n%s", body)
	}
	lines := recLines(rec)
	if len(lines) != 1 {
		t.Fatalf("the child was disturbed while KMS was down:\n%s", strings.Join(lines, "\n"))
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "out", "api-key")); string(data) != kmsCanaries[2] {
		t.Fatalf("the file lost its last good value while KMS was down: %q", data)
	}
	if code, _ := get(t, "GET", addr, "/healthz"); code != 200 {
		t.Errorf("/healthz %d while a backend is down: liveness must not depend on it", code)
	}
	noRotCanary(t, "/metrics while KMS was down", body)

	proxy.down.Store(false)
	lines = awaitRec(t, rec, "SIGHUP after KMS came back", atLeast("SIGHUP", 1))
	if !has("SIGHUP "+rotCanaries[6])(lines) || count(lines, "start ") != 1 {
		t.Fatalf("after recovery:\n%s", strings.Join(lines, "\n"))
	}
	_, body = get(t, "GET", addr, "/metrics")
	for _, sample := range []string{`shroud_refreshes_total{result="changed"}`, `shroud_version_changes_total{backend="kms"}`,
		`shroud_policy_actions_total{policy="signal",result="ok"}`, `shroud_backend_calls_total{backend="kms",call="fetch",result="ok"}`} {
		if metric(body, sample) < 1 {
			t.Errorf("%s missing after recovery", sample)
		}
	}
	if metric(body, "shroud_last_success_timestamp_seconds") < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("shroud_last_success_timestamp_seconds is stale after recovery")
	}
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	stderr := s.stderr.String()
	if !strings.Contains(stderr, "refresh failed: keeping the last good values and files") || !strings.Contains(stderr, "ServiceUnavailable") {
		t.Errorf("the outage is not in the log:\n%s", stderr)
	}
	noRotCanary(t, "shroud's log and metrics", stderr, body)
}

// TestAdminListener: the endpoints, and POST /refresh, which checks the
// backends at once although the interval is long.
func TestAdminListener(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", "[rotation]\ninterval = \"1h\"\n[[files]]\npath = \"out/api-key\"\nvalue_from = \"kms:prod/api-key\"\n")
	rec := filepath.Join(dir, "rec")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	s := startShroud(t, append([]string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(dir, "out", "api-key")}, envAK...),
		"run", "--listen", port, "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
	awaitRec(t, rec, "the child", atLeast("start ", 1))
	awaitListener(t, addr) // a port alone listens on 127.0.0.1
	var bodies []string
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/healthz", 200}, {"GET", "/readyz", 200}, {"GET", "/metrics", 200},
		{"GET", "/refresh", 405}, {"GET", "/nothing", 404},
	} {
		code, body := get(t, c.method, addr, c.path)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.code)
		}
		bodies = append(bodies, body)
	}
	fake.Put("cn-hangzhou", "prod/api-key", []byte(rotCanaries[5]))
	code, body := get(t, "POST", addr, "/refresh")
	if code != 202 {
		t.Fatalf("POST /refresh: %d %s", code, body)
	}
	lines := awaitRec(t, rec, "SIGHUP after POST /refresh", atLeast("SIGHUP", 1))
	if !has("SIGHUP " + rotCanaries[5])(lines) {
		t.Fatalf("after the refresh:\n%s", strings.Join(lines, "\n"))
	}
	_, metrics := get(t, "GET", addr, "/metrics")
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	noRotCanary(t, "admin answers and log", append(bodies, metrics, body, s.stderr.String())...)
}

// notices records the POSTs of --notify-url.
type notices struct {
	mu     sync.Mutex
	bodies []string
}

func (n *notices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n.mu.Lock()
	n.bodies = append(n.bodies, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(body))
	n.mu.Unlock()
}

func (n *notices) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.bodies...)
}

// TestSidecar runs shroud sidecar beside an application process: /readyz
// is 503 until the first render (which waits here for a source that is
// missing at start), then the files are kept fresh and each rotation
// signals the application found by --notify-pidfile and posts to
// --notify-url.
func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shroud.toml", `
[rotation]
interval = "0"
[[secrets]]
name = "IGNORED"
value_from = "file:src/token"
[[files]]
path = "shared/token"
value_from = "file:src/token"
[[files]]
path = "shared/token.json"
[files.values]
token = "file:src/token"
`)
	// The application: signalled by pid, found in a pidfile.
	rec := filepath.Join(dir, "rec")
	app := startProcess(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(dir, "shared", "token")}, os.Args[0])
	awaitRec(t, rec, "the application", atLeast("start ", 1))
	write(t, dir, "app.pid", strconv.Itoa(app.Pid)+"\n")
	var posted notices
	hook := httptest.NewServer(&posted)
	defer hook.Close()

	addr := freeAddr(t)
	s := startShroud(t, nil, "sidecar", "--config", filepath.Join(dir, "shroud.toml"), "--listen", addr,
		"--notify-pidfile", filepath.Join(dir, "app.pid"), "--notify-signal", "SIGUSR1", "--notify-url", hook.URL+"/-/reload?token=hook-secret")
	awaitListener(t, addr)
	code, notReady := get(t, "GET", addr, "/readyz")
	if code != 503 {
		t.Fatalf("/readyz %d before the first render: %s", code, notReady)
	}
	write(t, dir, "src/token", rotCanaries[0])
	deadline := time.Now().Add(30 * time.Second)
	for code != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("never ready; stderr:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
		code, _ = get(t, "GET", addr, "/readyz")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "shared", "token")); string(data) != rotCanaries[0] {
		t.Fatalf("ready, and the file holds %q", data)
	}
	if len(recLines(rec)) != 1 || len(posted.all()) != 0 {
		t.Fatalf("the first render notified the application: %q %q", recLines(rec), posted.all())
	}

	replaceFile(t, filepath.Join(dir, "src", "token"), rotCanaries[1])
	awaitRec(t, rec, "SIGUSR1 to the application", atLeast("SIGUSR1", 1))
	settle(t, addr)
	lines := recLines(rec)
	if count(lines, "SIGUSR1") != 1 || !has("SIGUSR1 "+rotCanaries[1])(lines) {
		t.Fatalf("want exactly one SIGUSR1, with the new file in place:\n%s", strings.Join(lines, "\n"))
	}
	bodies := posted.all()
	if len(bodies) != 1 || !strings.HasPrefix(bodies[0], "POST /-/reload application/json {\"event\":\"secrets_changed\"") {
		t.Fatalf("--notify-url got %q", bodies)
	}
	_, metrics := get(t, "GET", addr, "/metrics")
	for _, sample := range []string{`shroud_notifications_total{method="signal",result="ok"}`, `shroud_notifications_total{method="url",result="ok"}`} {
		if metric(metrics, sample) != 1 {
			t.Errorf("%s = %v, want 1", sample, metric(metrics, sample))
		}
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Errorf("sidecar exit %d after SIGTERM, want 0", code)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "shared", "token")); string(data) != rotCanaries[1] {
		t.Errorf("the files did not stay after the sidecar stopped: %q", data)
	}
	stderr := s.stderr.String()
	if strings.Contains(stderr, "hook-secret") {
		t.Errorf("the notify URL's query was logged:\n%s", stderr)
	}
	noRotCanary(t, "sidecar log, admin answers and notifications", append(bodies, stderr, notReady, metrics)...)
}

// TestSidecarSlowNotifyURL: an application endpoint that takes its time
// holds up no refresh. While the first POST hangs, two more rotations are
// written at once; when it returns, one more POST follows for both.
func TestSidecarSlowNotifyURL(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shroud.toml", `
[rotation]
interval = "0"
[[files]]
path = "shared/token"
value_from = "file:src/token"
`)
	write(t, dir, "src/token", rotCanaries[0])
	release := make(chan struct{})
	var posted notices
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posted.ServeHTTP(w, r)
		if len(posted.all()) == 1 {
			select { // the application is busy with the first notice
			case <-release:
			case <-time.After(20 * time.Second):
			}
		}
	}))
	defer hook.Close()
	defer close(release)

	token := filepath.Join(dir, "shared", "token")
	addr := freeAddr(t)
	s := startShroud(t, nil, "sidecar", "--config", filepath.Join(dir, "shroud.toml"), "--notify-url", hook.URL, "--listen", addr)
	waitFor(t, "the first render", func() bool { data, _ := os.ReadFile(token); return string(data) == rotCanaries[0] })
	replaceFile(t, filepath.Join(dir, "src", "token"), rotCanaries[1])
	waitFor(t, "the first notice", func() bool { return len(posted.all()) == 1 })
	signalled := func() float64 {
		_, body := get(t, "GET", addr, "/metrics")
		return metric(body, `shroud_policy_actions_total{policy="signal",result="ok"}`)
	}
	for i, v := range rotCanaries[2:4] {
		replaceFile(t, filepath.Join(dir, "src", "token"), v)
		start := time.Now()
		waitFor(t, "a rotation while the application is busy", func() bool { data, _ := os.ReadFile(token); return string(data) == v })
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("a rotation took %v to reach the file while a notice was pending", took)
		}
		// The file is written before the loop asks for the notice: wait for
		// that too, or the ask could come after the release below.
		waitFor(t, "the notice asked for", func() bool { return signalled() >= float64(2+i) })
	}
	if n := len(posted.all()); n != 1 {
		t.Fatalf("%d notices while the first was pending, want 1 (notices do not overlap)", n)
	}
	release <- struct{}{}
	waitFor(t, "the notice that follows", func() bool { return len(posted.all()) == 2 })
	settle(t, addr)
	if n := len(posted.all()); n != 2 {
		t.Errorf("%d notices, want 2: the first, then one for the two rotations made meanwhile", n)
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Errorf("sidecar exit %d after SIGTERM, want 0", code)
	}
	noRotCanary(t, "sidecar log and notices", append(posted.all(), s.stderr.String())...)
}

// TestSidecarNotifyProcess: --notify-process finds the application by its
// name in /proc (as in a pod with shareProcessNamespace), and
// --notify-command runs beside it.
func TestSidecarNotifyProcess(t *testing.T) {
	dir := t.TempDir()
	// A name of its own: the kernel keeps 15 bytes of it.
	name := fmt.Sprintf("rotapp%d", os.Getpid()%100000)
	app := filepath.Join(dir, name)
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, data, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "src/token", rotCanaries[3])
	write(t, dir, "shroud.toml", "[rotation]\ninterval = \"0\"\n[[files]]\npath = \"shared/token\"\nvalue_from = \"file:src/token\"\n")
	rec := filepath.Join(dir, "rec")
	startProcess(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(dir, "shared", "token")}, app)
	awaitRec(t, rec, "the application", atLeast("start ", 1))
	ran := filepath.Join(dir, "ran")
	s := startShroud(t, nil, "sidecar", "--config", filepath.Join(dir, "shroud.toml"), "--notify-process", name,
		"--notify-command", `echo "$SHROUD_EVENT" >> `+ran)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "shared", "token")); err == nil {
			break // rendered; a change from now on is seen
		}
		if time.Now().After(deadline) {
			t.Fatal("the sidecar did not render")
		}
	}
	replaceFile(t, filepath.Join(dir, "src", "token"), rotCanaries[4])
	lines := awaitRec(t, rec, "SIGHUP to the application", atLeast("SIGHUP", 1))
	if !has("SIGHUP " + rotCanaries[4])(lines) {
		t.Fatalf("the application got:\n%s", strings.Join(lines, "\n"))
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if data, _ := os.ReadFile(ran); string(data) == "secrets_changed\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("--notify-command did not run")
		}
	}
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	noRotCanary(t, "sidecar log", s.stderr.String())
}

// startProcess starts a process the test ends.
func startProcess(t *testing.T, env []string, argv ...string) *os.Process {
	t.Helper()
	attr := &os.ProcAttr{Env: append([]string{"PATH=" + os.Getenv("PATH")}, env...), Files: []*os.File{nil, nil, os.Stderr}}
	p, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Signal(syscall.SIGKILL); p.Wait() })
	return p
}

// TestListenWithoutRotation: --listen alone supervises the child (no fast
// path: shroud must stay to serve), and POST /refresh says rotation is off.
func TestListenWithoutRotation(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	addr := freeAddr(t)
	s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec}, "run", "--listen", addr, "--", os.Args[0])
	lines := awaitRec(t, rec, "the child", atLeast("start ", 1))
	awaitListener(t, addr)
	if pid, _ := strconv.Atoi(strings.Fields(lines[0])[1]); pid == s.cmd.Process.Pid {
		t.Fatal("the child replaced shroud: nothing serves --listen")
	}
	if code, body := get(t, "POST", addr, "/refresh"); code != 409 || !strings.Contains(body, "rotation is off") {
		t.Errorf("POST /refresh without rotation: %d %q", code, body)
	}
	if code, _ := get(t, "GET", addr, "/readyz"); code != 200 {
		t.Errorf("/readyz %d with the child running", code)
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestRotateSetReader: shroud sidecar keeps a set of three files (one
// directory) from a file: source, which is rotated 1,000 times, each time
// once the previous generation is in place, while another process reads
// the set in a loop. The reader never sees a file torn or empty, nor a set
// read through ..data that mixes generations (internal/settest checks what
// README.md promises).
func TestRotateSetReader(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 rotations")
	}
	const rotations = 1000
	names := []string{"tls.crt", "tls.key", "ca.pem"}
	marker := rotCanaries[2]
	dir := t.TempDir()
	source := filepath.Join(dir, "src", "set.json")
	must.Succeed(t, os.MkdirAll(filepath.Dir(source), 0o700))
	put := func(gen int) {
		set := map[string]string{}
		for _, n := range names {
			set[n] = string(settest.Content(gen, n, marker))
		}
		data, _ := json.Marshal(set)
		replaceFile(t, source, string(data))
	}
	put(0)
	var cfg strings.Builder
	cfg.WriteString("[rotation]\ninterval = \"0\"\n")
	for _, n := range names {
		fmt.Fprintf(&cfg, "[[files]]\npath = \"out/%s\"\nvalue_from = \"file:src/set.json#%s\"\nmode = \"0440\"\n", n, n)
	}
	write(t, dir, "shroud.toml", cfg.String())
	out := filepath.Join(dir, "out")
	// The generation the set shows, read through ..data.
	showing := func() int {
		gen, err := os.Readlink(filepath.Join(out, "..data"))
		if err != nil {
			return -1
		}
		data, _ := os.ReadFile(filepath.Join(out, gen, names[0]))
		g, err := settest.Parse(names[0], marker, data)
		if err != nil {
			return -1
		}
		return g
	}
	await := func(gen int) {
		for deadline := time.Now().Add(20 * time.Second); showing() != gen; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("generation %d never showed (showing %d)", gen, showing())
			}
		}
	}
	s := startShroud(t, nil, "sidecar", "--config", filepath.Join(dir, "shroud.toml"))
	await(0)

	stop := filepath.Join(dir, "stop")
	reader := startReader(t, append(settest.Env(out, names, marker, stop), "SHROUD_E2E_CHILD=setreader"))
	if err := settest.AwaitReader(stop, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for gen := 1; gen <= rotations; gen++ {
		put(gen)
		await(gen)
	}
	took := time.Since(start)
	must.Succeed(t, os.WriteFile(stop, nil, 0o600))
	r := reader.report(t)
	t.Logf("%d rotations through shroud sidecar in %v; reader: %d consistent sets (generations %d..%d), %d restarts after a retired generation; %d single-file reads, %d path-by-path sets mixed",
		rotations, took.Round(time.Millisecond), r.Sets, r.FirstGen, r.LastGen, r.Retired, r.FileReads, r.PathMixed)
	if len(r.Bad) > 0 {
		t.Fatalf("the reader saw %d bad reads, e.g. %q", len(r.Bad), r.Bad[0])
	}
	if r.LastGen != rotations || r.LastGen-r.FirstGen < rotations/2 || r.Sets < rotations {
		t.Fatalf("the reader did not read through the rotations: %+v", r)
	}
	s.signal(t, unix.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Errorf("sidecar exit %d", code)
	}
	noRotCanary(t, "sidecar log", s.stderr.String())
}

type readerProc struct {
	cmd *exec.Cmd
	out *strings.Builder
}

// startReader runs this test binary as a set reader.
func startReader(t *testing.T, env []string) *readerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	r := &readerProc{cmd: cmd, out: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = r.out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return r
}

func (r *readerProc) report(t *testing.T) settest.Report {
	t.Helper()
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("reader: %v", err)
	}
	var rep settest.Report
	if err := json.Unmarshal([]byte(r.out.String()), &rep); err != nil {
		t.Fatalf("reader said %q: %v", r.out.String(), err)
	}
	return rep
}

// TestSidecarFlags: notification flags are checked before anything runs.
func TestSidecarFlags(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shroud.toml", "[[files]]\npath = \"out/x\"\nvalue_from = \"file:x\"\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--notify-pid", "12", "--notify-process", "nginx"}, "give one of --notify-pid, --notify-pidfile and --notify-process"},
		{[]string{"--notify-signal", "HUP"}, "--notify-signal needs a process to signal"},
		{[]string{"--notify-signal", "SIGNOPE", "--notify-pid", "12"}, `invalid signal "SIGNOPE"`},
		{[]string{"--notify-pid", "1"}, "not 1"},
		{[]string{"--notify-url", "ftp://x"}, "want an http:// or https:// URL"},
		{[]string{"--listen", "localhost:http"}, "want HOST:PORT or a port"},
	} {
		r := shroud(t, dir, nil, append([]string{"sidecar", "--config", "shroud.toml"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
