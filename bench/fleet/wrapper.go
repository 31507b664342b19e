package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
	"github.com/shroud-dev/shroud/watch"
)

// wrapper is one shroud as a pod runs it: its own config, sources and
// credentials, the real first resolve and the real watch loop. It is also
// the loop's Notifier and Events: it records what the child would see.
type wrapper struct {
	w      *world
	i      int
	region string
	file   string // the file the child reads

	mu          sync.Mutex
	startedAt   time.Time
	startErr    error
	signals     int
	restarts    int
	bad         []string  // what the child saw that it must never see
	sawRotation time.Time // when the child first read the rotated value
	rotKey      string
	rotValue    string
	failedSince time.Time       // a refresh failed and none succeeded since
	unconfirmed []time.Duration // spans of failed refreshes, ended
}

func newWrapper(w *world, i int) *wrapper {
	return &wrapper{w: w, i: i, region: w.regions[i%len(w.regions)],
		file: filepath.Join(w.dir, wrapperName(i), "secrets.json")}
}

// config is the wrapper's shroud.toml: one JSON file of every reference,
// rotation as configured (time compressed), deadlines compressed.
func (x *wrapper) config(timeout time.Duration) string {
	p := x.w.p
	var b strings.Builder
	name := wrapperName(x.i)
	// Call timeouts bound hung calls, which no scenario has; a floor of a
	// second keeps a loaded machine from timing out answered ones.
	call := func(real time.Duration) time.Duration { return max(p.Sim(real), time.Second) }
	switch x.w.backend {
	case "aws":
		fmt.Fprintf(&b, "region = %q\n\n[aws]\nprofile = %q\ntimeout = %q\ncall_timeout = %q\n\n",
			x.region, name, p.Sim(timeout).String(), call(5*time.Second).String())
	case "kms":
		// Each wrapper's call timeout differs by a few milliseconds: the
		// SDK shares one HTTP client per timeout and endpoint in a
		// process, and pods share none.
		fmt.Fprintf(&b, "[alibaba]\nregion = %q\nendpoint = %q\ncredentials = \"profile\"\nprofile = %q\ntimeout = %q\ncall_timeout = %q\n\n",
			x.region, x.w.kms.RegionURL(x.region), name, p.Sim(timeout).String(), (call(10*time.Second) + time.Duration(x.i*8)*time.Millisecond).String())
	}
	fmt.Fprintf(&b, "[rotation]\ninterval = %q\njitter = %g\non_change = \"signal\"\n\n", p.Sim(p.Interval).String(), p.Jitter)
	fmt.Fprintf(&b, "[[files]]\npath = %q\nformat = \"json\"\n[files.values]\n", x.file)
	for _, k := range x.w.keys {
		fmt.Fprintf(&b, "%s = %q\n", k, x.w.refs[k])
	}
	return b.String()
}

// run starts the wrapper as shroud run does (a failed first resolve is a
// failed start), then watches until ctx ends.
func (x *wrapper) run(ctx context.Context, timeout time.Duration) {
	path := filepath.Join(x.w.dir, wrapperName(x.i), "shroud.toml")
	cfg, err := config.ParseFile(path, []byte(x.config(timeout)))
	if err != nil {
		x.fail(err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		x.fail(err)
		return
	}
	plan := inject.NewPlan(cfg)
	r := sources.NewResolver()
	awssrc.New(cfg.AWS).Register(r)
	r.Register(sources.KMS, alibaba.New(cfg.Alibaba))
	vals, err := plan.Resolve(ctx, r)
	if err != nil {
		x.fail(err)
		return
	}
	m, err := plan.Materialize(vals)
	if err == nil {
		_, err = inject.Write(m.Files, inject.WriteOptions{})
	}
	if err != nil {
		x.fail(err)
		return
	}
	x.mu.Lock()
	x.startedAt = time.Now()
	x.mu.Unlock()
	x.read() // the child starts and reads its file
	watch.Watch(ctx, watch.Input{Plan: plan, Resolver: r, Values: vals, Current: m, Notifier: x, Events: x})
}

func (x *wrapper) fail(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.startErr == nil && x.startedAt.IsZero() {
		x.startErr = err
	}
}

// read is the child reading its file: every key must hold a value the
// secret really had. It returns the values.
func (x *wrapper) read() map[string]string {
	data, err := os.ReadFile(x.file)
	var vals map[string]string
	if err == nil {
		err = json.Unmarshal(data, &vals)
	}
	var bad string
	if err != nil {
		bad = "unreadable: " + err.Error()
	}
	for _, k := range x.w.keys {
		if bad == "" && !x.w.known(k, vals[k]) {
			bad = fmt.Sprintf("%s holds a value it never had", k)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if bad != "" {
		x.bad = append(x.bad, bad)
	}
	if x.rotKey != "" && vals[x.rotKey] == x.rotValue && x.sawRotation.IsZero() {
		x.sawRotation = time.Now()
	}
	return vals
}

// expect tells the wrapper which value a rotation gave key.
func (x *wrapper) expect(key, value string) {
	x.mu.Lock()
	x.rotKey, x.rotValue, x.sawRotation = key, value, time.Time{}
	x.mu.Unlock()
}

// Signal implements watch.Notifier: the child reads its file again.
func (x *wrapper) Signal(syscall.Signal) error {
	x.mu.Lock()
	x.signals++
	x.mu.Unlock()
	x.read()
	return nil
}

// Restart implements watch.Notifier. Files only, on_change signal: a
// restart is not expected, and counted.
func (x *wrapper) Restart([]string) error {
	x.mu.Lock()
	x.restarts++
	x.mu.Unlock()
	return nil
}

// Refreshed implements watch.Events: it keeps the spans during which the
// wrapper could not confirm its values (they stay the last good ones).
func (x *wrapper) Refreshed(result string) {
	now := time.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case result == "failed" && x.failedSince.IsZero():
		x.failedSince = now
	case result != "failed" && !x.failedSince.IsZero():
		x.unconfirmed = append(x.unconfirmed, now.Sub(x.failedSince))
		x.failedSince = time.Time{}
	}
}

func (x *wrapper) BackendCall(sources.Backend, string, time.Duration, error) {}
func (x *wrapper) VersionChanged(sources.Backend)                            {}
func (x *wrapper) Acted(config.Policy, error)                                {}
func (x *wrapper) Notified(string, error)                                    {}
