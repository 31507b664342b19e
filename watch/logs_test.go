package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
)

// logBuffer is a JSON log the watch loop writes from its goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// records are the log's records, each as a map.
func (b *logBuffer) records() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// watchFiles writes cfgText's files from file: sources in dir and watches
// them with notifier n until the test ends, logging to log.
func watchFiles(t *testing.T, dir, cfgText string, n Notifier, log *logBuffer) {
	t.Helper()
	path := filepath.Join(dir, "shroud.toml")
	os.WriteFile(path, []byte(cfgText), 0o600)
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plan := inject.NewPlan(cfg)
	r := sources.NewResolver()
	vals, err := plan.Resolve(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plan.Materialize(vals)
	if err == nil {
		_, err = inject.Write(m.Files, inject.WriteOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Watch(ctx, Input{Plan: plan, Resolver: r, Values: vals, Current: m, Notifier: n, Log: log.logger()})
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func awaitTrue(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
	}
}

// TestRefreshLogSaysWhatWasKept: a refresh in which one reference fails
// and another changes says which kept its last good value and which
// changed; before, it said the last good values and files were kept while
// it wrote another file.
func TestRefreshLogSaysWhatWasKept(t *testing.T) {
	dir := t.TempDir()
	replace(t, filepath.Join(dir, "src/a"), "a1-"+canary)
	replace(t, filepath.Join(dir, "src/b"), "b1-"+canary)
	var log logBuffer
	quiet, err := NewAppNotifier(AppOptions{}) // on_change "none" never calls it
	if err != nil {
		t.Fatal(err)
	}
	watchFiles(t, dir, `[rotation]
interval = "0"
on_change = "none"
[[files]]
path = "out/a"
value_from = "file:src/a"
[[files]]
path = "other/b"
value_from = "file:src/b"
`, quiet, &log)
	os.Remove(filepath.Join(dir, "src/a"))
	awaitTrue(t, "the failed refresh", func() bool { return strings.Contains(log.String(), "refresh failed") })
	replace(t, filepath.Join(dir, "src/b"), "b2-"+canary)
	content := func(p string) string { data, _ := os.ReadFile(filepath.Join(dir, p)); return string(data) }
	awaitTrue(t, "other/b rewritten", func() bool { return content("other/b") == "b2-"+canary })

	var partial map[string]any
	for _, r := range log.records() {
		msg, _ := r["msg"].(string)
		if strings.HasPrefix(msg, "refresh failed in part") {
			partial = r
		}
		if strings.Contains(msg, "keeping the last good values and files") && r["changed"] != nil {
			t.Errorf("a refresh that changed a file says it kept them all: %v", r)
		}
	}
	if partial == nil {
		t.Fatalf("no record says what was kept and what changed:\n%s", log.String())
	}
	if kept, _ := json.Marshal(partial["kept"]); string(kept) != `["file:src/a"]` {
		t.Errorf("kept %s, want the failed reference", kept)
	}
	if changed, _ := json.Marshal(partial["changed"]); string(changed) != `["file:src/b"]` {
		t.Errorf("changed %s, want the changed reference", changed)
	}
	if content("out/a") != "a1-"+canary {
		t.Errorf("out/a = %q, want its last good value", content("out/a"))
	}
	if strings.Contains(log.String(), canary) {
		t.Errorf("the log shows a value:\n%s", log.String())
	}
}

// TestSidecarWithoutTargetSaysNotTold: a sidecar with no --notify-* flag
// rewrites the files and says the application is not told; nothing claims
// a signal or a notification.
func TestSidecarWithoutTargetSaysNotTold(t *testing.T) {
	dir := t.TempDir()
	replace(t, filepath.Join(dir, "src/key"), "k1-"+canary)
	var log logBuffer
	n, err := NewAppNotifier(AppOptions{Log: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	watchFiles(t, dir, `[[files]]
path = "out/key"
value_from = "file:src/key"
`, n, &log)
	replace(t, filepath.Join(dir, "src/key"), "k2-"+canary)
	awaitTrue(t, "the application not told", func() bool {
		return strings.Contains(log.String(), "files changed; the application is not told: no --notify-* flag")
	})
	for _, r := range log.records() {
		if msg, _ := r["msg"].(string); strings.Contains(msg, "signalled") || strings.Contains(msg, "notified") {
			t.Errorf("with nothing to notify, the log says %q", msg)
		}
	}
}
