// Package watch keeps a plan's materialization current: it detects changed
// values (version polls with jitter, fsnotify on file: sources) through the
// sources' Resolver, writes the files again, and runs the change policy on
// what it notifies: the supervised child of shroud run, or the application
// a sidecar serves.
package watch

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/backoff"
	"github.com/shroud-dev/shroud/internal/timer"
	"github.com/shroud-dev/shroud/sources"
)

// restartSettle is how long a restart (or an exit) waits, from the change
// that asked for it, for further changes to merge into it: a rotation often
// moves several secrets one after another, and the child should restart
// once, with all of them.
const restartSettle = time.Second

// MinRefreshSpacing is the least time between two checks that Input.Refresh
// asks for (POST /refresh): requests meanwhile merge into one check at the
// end of it, so no flood of requests reaches the backends' quotas.
const MinRefreshSpacing = time.Second

// ErrExit is returned by Watch when the exit policy ran: the caller stops
// the child and exits with child.ExitRotated.
var ErrExit = errors.New("a secret rotated and on_change is \"exit\"")

// Notifier is what the watch loop acts on: the supervised child of shroud
// run (*child.Supervisor), or the application shroud sidecar notifies
// (*AppNotifier).
type Notifier interface {
	// Signal delivers the rotation signal.
	Signal(sig syscall.Signal) error
	// Restart starts the child again with env, once the one running has
	// stopped; restarts asked for while one is pending merge into it.
	Restart(env []string) error
}

// Events receives what the watch loop does, for metrics. Its methods are
// called from several goroutines and must not block. They are never given a
// value.
type Events interface {
	// BackendCall reports one batched call: "versions" (a cheap version
	// poll) or "fetch" (reading values).
	BackendCall(b sources.Backend, call string, took time.Duration, err error)
	// VersionChanged reports an object of the backend with a new version.
	VersionChanged(b sources.Backend)
	// Refreshed reports the outcome of one check: "changed", "unchanged"
	// or "failed".
	Refreshed(result string)
	// Acted reports a policy carried out: signal, restart or exit.
	Acted(p config.Policy, err error)
	// Notified reports one notification of an application by a sidecar, by
	// method: signal, url or command.
	Notified(method string, err error)
}

// NoEvents discards events.
type NoEvents struct{}

func (NoEvents) BackendCall(sources.Backend, string, time.Duration, error) {}
func (NoEvents) VersionChanged(sources.Backend)                            {}
func (NoEvents) Refreshed(string)                                          {}
func (NoEvents) Acted(config.Policy, error)                                {}
func (NoEvents) Notified(string, error)                                    {}

// Input configures Watch.
type Input struct {
	// Plan is what is kept current, as its Rotation says.
	Plan *inject.Plan
	// Resolver fetches values; version polls go to its sources directly.
	Resolver *sources.Resolver
	// Values and Current are what the first render resolved and wrote.
	Values  inject.Values
	Current *inject.Materialized
	// Notifier is told about changes; Environ is the base environment of a
	// restarted child (bound values are added to it).
	Notifier Notifier
	Environ  []string
	// Refresh triggers a check of every backend now (POST /refresh), or
	// MinRefreshSpacing after the last one it triggered; requests while one
	// waits merge into it.
	Refresh <-chan struct{}
	// OnValues, when set, is given the materialization of every
	// reference's value when Watch starts and after each refresh that
	// changed some, so that a masker of the child's output learns the new
	// values and what the files made of them (Materialized.Log's
	// MaskValues and MaskForms). A masker only ever gets more: old values
	// stay masked.
	OnValues func(*inject.Materialized)
	Events   Events
	Log      *slog.Logger
}

// Watch keeps the materialization current until ctx ends: the watcher
// detects changed values; Watch renders again, writes the files whose
// bytes changed, and runs the policy once per change: signal, restart
// (always when an env value changed, since a running process cannot see
// it), exit or none. Failures keep the last good values and files.
//
// It returns ErrExit when the exit policy ran, else ctx's error.
func Watch(ctx context.Context, in Input) error {
	if in.Events == nil {
		in.Events = NoEvents{}
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	rot := in.Plan.Rotation
	w, err := newWatcher(in.Plan.Refs(), in.Values, in.Resolver, rot, in.Events, in.Log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	l := &loop{in: in, rot: rot, vals: maps.Clone(in.Values), cur: in.Current, policies: map[string]config.Policy{}}
	for _, f := range in.Plan.Files {
		l.policies[f.Path] = cmp.Or(f.OnChange, rot.OnChange)
	}
	if in.OnValues != nil {
		in.OnValues(l.cur)
	}
	defer timer.Stop(&l.retire)
	l.scheduleRetire(inject.Retire(l.cur.Files)) // what the first render replaced
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-w.updates:
			l.apply(u)
		case <-in.Refresh:
			l.requestRefresh(w)
		case <-timer.C(l.refreshWait):
			l.refreshWait = nil
			l.refreshNow(w)
		case <-timer.C(l.rewrite):
			l.rewrite = nil
			changed, ok := l.write(l.cur, "retry")
			in.Events.Refreshed(outcome(changed, !ok))
		case <-timer.C(l.restart):
			l.restart = nil
			l.restartChild()
		case <-timer.C(l.retire):
			l.retire = nil
			l.scheduleRetire(inject.Retire(l.cur.Files))
		case <-timer.C(l.exit):
			in.Log.Warn("a secret rotated and on_change is \"exit\": stopping", "exit_status", child.ExitRotated)
			in.Events.Acted(config.PolicyExit, nil)
			return ErrExit
		}
	}
}

// loop is the state of Watch, owned by its goroutine.
type loop struct {
	in       Input
	rot      config.Rotation
	vals     inject.Values
	cur      *inject.Materialized
	policies map[string]config.Policy // file path -> its policy

	rewrite  *time.Timer // writing files failed: try again
	failures int
	restart  *time.Timer // a restart waits for restartSettle and splay
	exit     *time.Timer

	lastRefresh time.Time   // when Input.Refresh last triggered a check
	refreshWait *time.Timer // a requested check waits for MinRefreshSpacing
	retire      *time.Timer // a replaced generation of a set has had its grace
	retireAt    time.Time
}

// requestRefresh checks every backend now, or once MinRefreshSpacing has
// passed since the last requested check; a request while one waits merges
// into it.
func (l *loop) requestRefresh(w *watcher) {
	if l.refreshWait != nil {
		return
	}
	if wait := MinRefreshSpacing - time.Since(l.lastRefresh); wait > 0 {
		l.in.Log.Debug("refresh requested: merged into the next check", "in", wait.Round(time.Millisecond).String())
		l.refreshWait = time.NewTimer(wait)
		return
	}
	l.refreshNow(w)
}

func (l *loop) refreshNow(w *watcher) {
	l.lastRefresh = time.Now()
	l.in.Log.Info("refresh requested: checking every backend now")
	w.refresh()
}

// apply takes one Update: new values are rendered, written and acted on;
// failures are logged and keep what is there. Each Update counts once in
// Events.Refreshed: failed if anything failed, else changed or unchanged.
func (l *loop) apply(u Update) {
	log := l.in.Log
	failed := u.Err != nil
	switch {
	case failed && len(u.Values) == 0:
		log.Warn("refresh failed: keeping the last good values and files; retrying with backoff", "backend", u.Backend.String(), "error", u.Err)
	case failed:
		log.Warn("refresh failed in part: the references that failed keep their last good values; the others changed, and their files are written; retrying with backoff",
			"backend", u.Backend.String(), "kept", failedRefs(u.Err), "changed", changedRefs(u.Values), "error", u.Err)
	}
	changed := false
	if len(u.Values) > 0 {
		vals := maps.Clone(l.vals)
		maps.Copy(vals, u.Values)
		if m, err := l.in.Plan.Materialize(vals); err != nil {
			failed = true
			log.Error("the new values cannot be rendered: keeping the last good values and files", "error", err)
		} else {
			l.vals = vals
			if l.in.OnValues != nil {
				l.in.OnValues(m)
			}
			log.Debug("new values", "backend", u.Backend.String(), "references", len(u.Values))
			wrote, ok := l.write(m, "rotation")
			changed, failed = wrote, failed || !ok
		}
	}
	l.in.Events.Refreshed(outcome(changed, failed))
}

// failedRefs names the references an Update's error lists.
func failedRefs(err error) []string {
	var names []string
	var merr *multierror.Error
	if !errors.As(err, &merr) {
		return nil
	}
	for _, e := range merr.Errors {
		var se *sources.Error
		if errors.As(e, &se) && !slices.Contains(names, se.Ref.Raw) {
			names = append(names, se.Ref.Raw)
		}
	}
	slices.Sort(names)
	return names
}

// changedRefs names the references with new values.
func changedRefs(vals inject.Values) []string {
	var names []string
	for ref := range vals {
		if !slices.Contains(names, ref.Raw) {
			names = append(names, ref.Raw)
		}
	}
	slices.Sort(names)
	return names
}

func outcome(changed, failed bool) string {
	switch {
	case failed:
		return "failed"
	case changed:
		return "changed"
	}
	return "unchanged"
}

// write writes m's files, and acts on what changed since l.cur. It reports
// whether anything changed, and whether every file was written; if not,
// it tries again after a backoff.
func (l *loop) write(m *inject.Materialized, why string) (changed, ok bool) {
	log := l.in.Log
	res, err := inject.Write(m.Files, inject.WriteOptions{})
	l.scheduleRetire(res.RetireAt)
	files := res.Paths()
	env := changedEnv(l.cur.Env, m.Env)
	l.cur = m
	timer.Stop(&l.rewrite)
	if err != nil {
		l.failures++
		wait := retryWait(l.failures, backoff.Scale(retryMax))
		log.Error("writing files failed: the others are written; trying again", "error", err, "retry_in", wait.Round(time.Millisecond).String())
		l.rewrite = time.NewTimer(wait)
	} else {
		l.failures = 0
	}
	if len(files) == 0 && len(env) == 0 {
		return false, err == nil
	}
	log.Info("secrets changed", changes(files, env, why)...)
	l.act(files, env)
	return true, err == nil
}

// changes are the attributes of a "secrets changed" line: what is empty is
// left out, not written as null.
func changes(files, env []string, why string) []any {
	var attrs []any
	if len(files) > 0 {
		attrs = append(attrs, "files", files)
	}
	if len(env) > 0 {
		attrs = append(attrs, "env", env)
	}
	return append(attrs, "cause", why)
}

// scheduleRetire arms the retire timer for at, unless it is zero or the
// timer fires sooner: each Retire says when the next one is due.
func (l *loop) scheduleRetire(at time.Time) {
	if at.IsZero() || l.retire != nil && !at.Before(l.retireAt) {
		return
	}
	timer.Stop(&l.retire)
	l.retire, l.retireAt = time.NewTimer(time.Until(at)), at
}

// changedEnv names the variables whose values differ.
func changedEnv(old, new map[string]string) []string {
	var names []string
	for k, v := range new {
		if ov, ok := old[k]; !ok || ov != v {
			names = append(names, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// policyRank orders policies: the strongest asked for by any change runs.
var policyRank = map[config.Policy]int{config.PolicyNone: 0, config.PolicySignal: 1, config.PolicyRestart: 2, config.PolicyExit: 3}

// act runs the strongest policy that the changed files and env vars ask
// for, once.
func (l *loop) act(files, env []string) {
	log := l.in.Log
	policy := config.PolicyNone
	for _, f := range files {
		if p := l.policies[f]; policyRank[p] > policyRank[policy] {
			policy = p
		}
	}
	if len(env) > 0 {
		switch p := l.rot.OnChange; p {
		case config.PolicyNone:
			log.Warn("environment variables changed, and on_change is \"none\": the child keeps the old values until it restarts", "env", env)
		case config.PolicySignal:
			log.Info("environment variables changed: a running process cannot see a new env value, so the child is restarted", "env", env)
			policy = maxPolicy(policy, config.PolicyRestart)
		default:
			policy = maxPolicy(policy, p)
		}
	}
	switch policy {
	case config.PolicySignal:
		if l.restart != nil {
			log.Debug("signal skipped: a restart is pending and brings the new files")
			return
		}
		err := l.in.Notifier.Signal(l.rot.Signal)
		switch {
		case errors.Is(err, child.ErrNoChild):
			log.Info("no child to signal: the next run reads the new files when it starts")
		case err != nil:
			log.Warn("cannot signal the change", "error", err)
		}
		l.in.Events.Acted(config.PolicySignal, err)
	case config.PolicyRestart:
		if l.restart == nil {
			wait := restartSettle + splay(l.rot.Splay)
			log.Info("restarting the child", "in", wait.Round(time.Millisecond).String())
			l.restart = time.NewTimer(wait)
		}
	case config.PolicyExit:
		if l.exit == nil {
			l.exit = time.NewTimer(splay(l.rot.Splay))
		}
	}
}

func maxPolicy(a, b config.Policy) config.Policy {
	if policyRank[b] > policyRank[a] {
		return b
	}
	return a
}

// restartChild restarts with the current environment. Restart returns
// once the new child runs, which the supervisor's backoff may delay, so it
// runs apart; a restart asked for meanwhile merges into it.
func (l *loop) restartChild() {
	env := l.cur.Environ(l.in.Environ)
	notifier, events, log := l.in.Notifier, l.in.Events, l.in.Log
	go func() {
		err := notifier.Restart(env)
		events.Acted(config.PolicyRestart, err)
		if err != nil && !errors.Is(err, child.ErrStopped) {
			log.Warn("restart failed", "error", err)
		}
	}()
}

// splay is a random delay up to max.
func splay(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(max) + 1))
}

// retryWait is the wait before retry number failures: exponential with
// full jitter, at most ceiling, and never less than a tenth of retryBase.
// Ceiling is a duration as configured (or retryMax through backoff.Scale).
func retryWait(failures int, ceiling time.Duration) time.Duration {
	return backoff.Scale(retryBase/10) + backoff.FullJitter(failures+1, backoff.Scale(retryBase), ceiling)
}
