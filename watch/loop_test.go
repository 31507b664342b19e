package watch

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

const canary = "canary-W4tch-5kR"

// recorder keeps the events of a watch loop.
type recorder struct {
	mu       sync.Mutex
	results  []string
	acted    []config.Policy
	notified []string
	calls    []string
}

func (r *recorder) BackendCall(b sources.Backend, call string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, string(b)+" "+call+" "+map[bool]string{true: "ok", false: "error"}[err == nil])
}
func (r *recorder) VersionChanged(sources.Backend) {}
func (r *recorder) Refreshed(res string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}
func (r *recorder) Acted(p config.Policy, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acted = append(r.acted, p)
}

func (r *recorder) Notified(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notified = append(r.notified, method)
}

func (r *recorder) count(res string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.results {
		if x == res {
			n++
		}
	}
	return n
}

// TestWatchFilePolicies runs the watch loop over file: sources with a real
// supervised child: a file whose on_change is "none" is rewritten without
// a signal; another is rewritten and signalled once; a source that
// disappears keeps the last good file and is counted as a failure; a
// source directory swapped for another is watched again.
func TestWatchFilePolicies(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.MkdirAll(filepath.Join(dir, "src"), 0o700))
	put := func(name, value string) {
		tmp := filepath.Join(dir, "."+name)
		must.Succeed(t, os.WriteFile(tmp, []byte(value), 0o600))
		if err := os.Rename(tmp, filepath.Join(dir, "src", name)); err != nil {
			t.Fatal(err)
		}
	}
	put("quiet", "q1")
	put("loud", "l1-"+canary)
	cfgPath := filepath.Join(dir, "shroud.toml")
	must.Succeed(t, os.WriteFile(cfgPath, []byte(`[rotation]
interval = "0"
[[files]]
path = "quiet/out"
value_from = "file:src/quiet"
on_change = "none"
[[files]]
path = "loud/out"
value_from = "file:src/loud"
`), 0o600))
	cfg, err := config.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	spec := inject.NewPlan(cfg)
	r := sources.NewResolver()
	vals, err := spec.Resolve(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := spec.Materialize(vals)
	if _, err := inject.Write(m.Files, inject.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	rec := filepath.Join(dir, "rec")
	proc, err := child.New(child.Input{Argv: []string{"sh", "-c", `trap 'echo HUP >> "$REC"' HUP; trap 'exit 0' TERM; echo start >> "$REC"; while :; do sleep 0.05; done`},
		Env: append(os.Environ(), "REC="+rec)})
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	events := &recorder{}
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watched := make(chan error, 1)
	go func() {
		watched <- Watch(ctx, Input{Plan: spec, Resolver: r, Values: vals, Current: m, Notifier: proc, Events: events,
			Log: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	await := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	lines := func() string { data, _ := os.ReadFile(rec); return string(data) }
	content := func(p string) string { data, _ := os.ReadFile(filepath.Join(dir, p)); return string(data) }
	await("the child", func() bool { return lines() == "start\n" })

	put("quiet", "q2")
	await("quiet/out rewritten", func() bool { return content("quiet/out") == "q2" })
	put("loud", "l2-"+canary)
	await("a SIGHUP", func() bool { return strings.Count(lines(), "HUP") == 1 })
	if content("loud/out") != "l2-"+canary {
		t.Errorf("loud/out = %q", content("loud/out"))
	}

	// The source disappears: the file keeps its last good value, through
	// the failed refresh and its retry (each is counted once the loop has
	// applied it).
	must.Succeed(t, os.Remove(filepath.Join(dir, "src", "loud")))
	await("a failed refresh and its retry", func() bool { return events.count("failed") >= 2 })
	if content("loud/out") != "l2-"+canary || lines() != "start\nHUP\n" {
		t.Fatalf("after the source vanished: file %q, child %q", content("loud/out"), lines())
	}
	// It comes back: picked up, and signalled once more.
	put("loud", "l3-"+canary)
	await("the recovery", func() bool { return strings.Count(lines(), "HUP") == 2 })
	if content("loud/out") != "l3-"+canary {
		t.Errorf("loud/out = %q", content("loud/out"))
	}
	// The directory is swapped for a new one by two renames, as a deploy
	// script may do: the change is seen, and the new directory is watched
	// from then on (the old watch went with the old directory).
	src := filepath.Join(dir, "src")
	next := filepath.Join(dir, "src.next")
	must.Succeed(t, os.MkdirAll(next, 0o700))
	must.Succeed(t, os.WriteFile(filepath.Join(next, "quiet"), []byte("q2"), 0o600))
	must.Succeed(t, os.WriteFile(filepath.Join(next, "loud"), []byte("l4-"+canary), 0o600))
	if err := os.Rename(src, src+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, src); err != nil {
		t.Fatal(err)
	}
	await("the swapped directory's value", func() bool { return strings.Count(lines(), "HUP") == 3 })
	await("the new directory watched", func() bool {
		return strings.Contains(logs.String(), `msg="watching the directory of a file: source again" dir=`+src)
	})
	put("loud", "l5-"+canary)
	await("a change inside the new directory", func() bool { return strings.Count(lines(), "HUP") == 4 })
	if content("loud/out") != "l5-"+canary {
		t.Errorf("loud/out = %q", content("loud/out"))
	}
	cancel()
	if err := <-watched; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v", err)
	}
	events.mu.Lock()
	defer events.mu.Unlock()
	if len(events.acted) != 4 || events.acted[0] != config.PolicySignal {
		t.Errorf("acted %v, want four signals", events.acted)
	}
}
