package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// recordingChild is a shell that writes what it gets to $REC: "start
// $SECRET" when it starts, HUP on SIGHUP, TERM on SIGTERM (then exits).
const recordingChild = `trap 'echo HUP >> "$REC"' HUP; trap 'echo TERM >> "$REC"; exit 0' TERM; echo "start $SECRET" >> "$REC"; while :; do sleep 0.05; done`

// world is a config resolved, materialized and written as shroud run does,
// with a real supervised child, ready to be watched.
type world struct {
	dir      string
	plan     *inject.Plan
	resolver *sources.Resolver
	vals     inject.Values
	m        *inject.Materialized
	proc     *child.Supervisor
	events   *recorder
	// onValues is Input.OnValues, when set before watch.
	onValues func(*inject.Materialized)
}

func newWorld(t *testing.T, dir, cfgText string, r *sources.Resolver) *world {
	t.Helper()
	path := filepath.Join(dir, "shroud.toml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{dir: dir, plan: inject.NewPlan(cfg), resolver: r, events: &recorder{}}
	if w.vals, err = w.plan.Resolve(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if w.m, err = w.plan.Materialize(w.vals); err != nil {
		t.Fatal(err)
	}
	if _, err := inject.Write(w.m.Files, inject.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "REC="+w.path("rec"))
	w.proc, err = child.New(child.Input{Argv: []string{"sh", "-c", recordingChild}, Env: w.m.Environ(env),
		StopTimeout: 5 * time.Second})
	if err == nil {
		err = w.proc.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.proc.Stop)
	w.await(t, "the child", func() bool { return strings.HasPrefix(w.read("rec"), "start") })
	return w
}

// watch runs Watch until the test ends; its result arrives on the channel.
func (w *world) watch(t *testing.T) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- Watch(ctx, Input{Plan: w.plan, Resolver: w.resolver, Values: w.vals, Current: w.m,
			Notifier: w.proc, Environ: append(os.Environ(), "REC="+w.path("rec")), Events: w.events, OnValues: w.onValues})
		close(finished)
	}()
	t.Cleanup(func() { cancel(); <-finished })
	return done
}

func (w *world) path(name string) string { return filepath.Join(w.dir, name) }

func (w *world) read(name string) string {
	data, _ := os.ReadFile(w.path(name))
	return string(data)
}

func (w *world) put(t *testing.T, name, value string) {
	t.Helper()
	replace(t, w.path(name), value)
}

// replace gives path a new content as editors and deploy scripts do: a new
// file renamed over it.
func replace(t *testing.T, path, value string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (w *world) await(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; the child recorded %q", what, w.read("rec"))
		}
	}
}

// awsResolver points the real AWS backends at an in-process fake.
func awsResolver(t *testing.T) (*awsfake.Fake, *sources.Resolver) {
	t.Helper()
	fake := awsfake.New()
	t.Cleanup(fake.Close)
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	r := sources.NewResolver()
	awssrc.New(awssrc.Options{Region: "us-east-1", Timeout: 3 * time.Second, CallTimeout: time.Second, MaxAttempts: 2}).Register(r)
	return fake, r
}

// apiCalls counts the fake's calls of api since the call log's index from.
func apiCalls(fake *awsfake.Fake, from int, api string) int {
	n := 0
	for _, c := range fake.Calls()[from:] {
		if c.API == api {
			n++
		}
	}
	return n
}

// TestWatchPollsVersionsThenFetches: the loop polls Secrets Manager with
// DescribeSecret only, until a new version appears; then it reads the value
// once, rewrites the file and signals the child once.
func TestWatchPollsVersionsThenFetches(t *testing.T) {
	fake, r := awsResolver(t)
	fake.PutSecretString("us-east-1", "prod/db", `{"password":"v1-`+canary+`"}`)
	w := newWorld(t, t.TempDir(), `[rotation]
interval = "50ms"
jitter = 0
[[files]]
path = "out/pw"
value_from = "sm:prod/db:password"
`, r)
	start := len(fake.Calls())
	w.watch(t)
	w.await(t, "three version polls", func() bool { return apiCalls(fake, start, "secretsmanager.DescribeSecret") >= 3 })
	if n := apiCalls(fake, start, "secretsmanager.GetSecretValue") + apiCalls(fake, start, "secretsmanager.BatchGetSecretValue"); n != 0 {
		t.Fatalf("%d value reads while nothing changed: polls must ask for versions only", n)
	}

	fake.PutSecretString("us-east-1", "prod/db", `{"password":"v2-`+canary+`"}`)
	w.await(t, "the new value", func() bool { return w.read("out/pw") == "v2-"+canary })
	w.await(t, "one SIGHUP", func() bool { return strings.Count(w.read("rec"), "HUP") == 1 })
	after := len(fake.Calls())
	w.await(t, "three more polls", func() bool { return apiCalls(fake, after, "secretsmanager.DescribeSecret") >= 3 })
	if n := apiCalls(fake, start, "secretsmanager.GetSecretValue") + apiCalls(fake, start, "secretsmanager.BatchGetSecretValue"); n != 1 {
		t.Errorf("%d value reads for one rotation, want 1", n)
	}
	if got := w.read("rec"); strings.Count(got, "HUP") != 1 || strings.Contains(got, "TERM") {
		t.Errorf("the child got %q, want one SIGHUP", got)
	}
}

// TestWatchBackendDownKeepsLastGood: while every call fails, refreshes
// fail and say so, the file keeps its last good value and the child is
// left alone; a rotation made during the outage arrives once the backend
// is back.
func TestWatchBackendDownKeepsLastGood(t *testing.T) {
	fake, r := awsResolver(t)
	fake.PutSecretString("us-east-1", "prod/db", "v1-"+canary)
	w := newWorld(t, t.TempDir(), `[rotation]
interval = "50ms"
[[files]]
path = "out/pw"
value_from = "sm:prod/db"
`, r)
	fake.SetFaults("", awsfake.Faults{ServerErrFraction: 1})
	w.watch(t)
	w.await(t, "failed refreshes", func() bool { return w.events.count("failed") >= 2 })
	fake.PutSecretString("us-east-1", "prod/db", "v2-"+canary)
	w.await(t, "more failed refreshes", func() bool { return w.events.count("failed") >= 4 })
	if got := w.read("out/pw"); got != "v1-"+canary {
		t.Fatalf("during the outage the file holds %q, want the last good value", got)
	}
	if got := w.read("rec"); got != "start \n" {
		t.Fatalf("during the outage the child got %q", got)
	}

	fake.SetFaults("", awsfake.Faults{})
	w.await(t, "the rotation after the outage", func() bool { return w.read("out/pw") == "v2-"+canary })
	w.await(t, "one SIGHUP", func() bool { return strings.Count(w.read("rec"), "HUP") == 1 })
}

// TestWatchEnvChangeRestarts: a new value of an env-bound secret cannot
// reach a running process, so under the default policy (signal) the child
// is restarted with it: SIGTERM, then a new run that sees the new value.
// Changes in quick succession make one restart.
func TestWatchEnvChangeRestarts(t *testing.T) {
	dir := t.TempDir()
	replace(t, filepath.Join(dir, "src/secret"), "v1-"+canary)
	w := newWorld(t, dir, `[rotation]
interval = "0"
[[secrets]]
name = "SECRET"
value_from = "file:src/secret"
`, sources.NewResolver())
	if got := w.read("rec"); got != "start v1-"+canary+"\n" {
		t.Fatalf("first run recorded %q", got)
	}
	w.watch(t)
	w.put(t, "src/secret", "v2-"+canary)
	// The second change comes once the first is applied, while the restart
	// it asked for settles (restartSettle, 1 s): that window is what the
	// test is about.
	w.await(t, "the first change", func() bool { return w.events.count("changed") == 1 })
	w.put(t, "src/secret", "v3-"+canary)
	want := "start v1-" + canary + "\nTERM\nstart v3-" + canary + "\n"
	w.await(t, "one restart with the last value", func() bool { return w.read("rec") == want })
	w.await(t, "the restart counted", func() bool {
		w.events.mu.Lock()
		defer w.events.mu.Unlock()
		return len(w.events.acted) == 1 && w.events.acted[0] == config.PolicyRestart
	})
}

// TestWatchExitPolicy: under on_change = "exit" a change ends Watch with
// ErrExit (the engine then stops the child and exits 75); the child itself
// gets no signal from the loop.
func TestWatchExitPolicy(t *testing.T) {
	dir := t.TempDir()
	replace(t, filepath.Join(dir, "src/key"), "k1-"+canary)
	w := newWorld(t, dir, `[rotation]
interval = "0"
on_change = "exit"
[[files]]
path = "out/key"
value_from = "file:src/key"
`, sources.NewResolver())
	done := w.watch(t)
	w.put(t, "src/key", "k2-"+canary)
	select {
	case err := <-done:
		if !errors.Is(err, ErrExit) {
			t.Fatalf("Watch returned %v, want ErrExit", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Watch did not end on the exit policy")
	}
	if got := w.read("out/key"); got != "k2-"+canary {
		t.Errorf("the file holds %q: it is written before the exit", got)
	}
	if got := w.read("rec"); strings.Contains(got, "HUP") || strings.Contains(got, "TERM") {
		t.Errorf("the child got %q from the loop", got)
	}
}
