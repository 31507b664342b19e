package inject

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/signal"
	"github.com/shroud-dev/shroud/sources"
)

// restartSettle is how long a restart (or an exit) waits, from the change
// that asked for it, for further changes to merge into it: a rotation often
// moves several secrets one after another, and the child should restart
// once, with all of them.
const restartSettle = time.Second

// ErrExit is returned by Watch when the exit policy ran: the caller stops
// the child and exits with ExitRotated.
var ErrExit = errors.New("a secret rotated and on_change is \"exit\"")

// Target is what the watch loop acts on: the supervised child in shroud run
// (*signal.Supervisor), the application notified by shroud sidecar.
type Target interface {
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
	Acted(p Policy, err error)
}

// NoEvents discards events.
type NoEvents struct{}

func (NoEvents) BackendCall(sources.Backend, string, time.Duration, error) {}
func (NoEvents) VersionChanged(sources.Backend)                            {}
func (NoEvents) Refreshed(string)                                          {}
func (NoEvents) Acted(Policy, error)                                       {}

// WatchInput configures Watch.
type WatchInput struct {
	Spec *Spec
	// Resolver fetches values; version polls go to its sources directly.
	Resolver *sources.Resolver
	Rotation Rotation
	// Values and Current are what the first render resolved and wrote.
	Values  Values
	Current *Materialized
	// Target is told about changes; Environ is the base environment of a
	// restarted child (bound values are added to it).
	Target  Target
	Environ []string
	// Refresh triggers a check of every backend now (POST /refresh).
	Refresh <-chan struct{}
	// OnValues, when set, is given every reference's value after each
	// refresh that changed some, so that a masker of the child's output
	// learns new values. It only ever gets more: old values stay masked.
	OnValues func(Values)
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
func Watch(ctx context.Context, in WatchInput) error {
	if in.Events == nil {
		in.Events = NoEvents{}
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	w, err := newWatcher(in.Spec.Refs(), in.Values, in.Resolver, in.Rotation, in.Events, in.Log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	l := &watchLoop{in: in, vals: maps.Clone(in.Values), cur: in.Current, policies: map[string]Policy{}}
	for _, f := range in.Spec.Files {
		l.policies[f.Path] = orDefault(f.OnChange, in.Rotation.OnChange)
	}
	if in.OnValues != nil {
		in.OnValues(l.vals)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-w.updates:
			l.apply(u)
		case <-in.Refresh:
			in.Log.Info("refresh requested: checking every backend now")
			w.refresh()
		case <-timerC(l.rewrite):
			l.rewrite = nil
			changed, ok := l.write(l.cur, "retry")
			in.Events.Refreshed(outcome(changed, !ok))
		case <-timerC(l.restart):
			l.restart = nil
			l.restartChild()
		case <-timerC(l.exit):
			in.Log.Warn("a secret rotated and on_change is \"exit\": stopping", "exit_status", ExitRotated)
			in.Events.Acted(PolicyExit, nil)
			return ErrExit
		}
	}
}

func orDefault(p, def Policy) Policy {
	if p == "" {
		return def
	}
	return p
}

// watchLoop is the state of Watch, owned by its goroutine.
type watchLoop struct {
	in       WatchInput
	vals     Values
	cur      *Materialized
	policies map[string]Policy // file path -> its policy

	rewrite  *time.Timer // writing files failed: try again
	failures int
	restart  *time.Timer // a restart waits for restartSettle and splay
	exit     *time.Timer
}

// apply takes one Update: new values are rendered, written and acted on;
// failures are logged and keep what is there. Each Update counts once in
// Events.Refreshed: failed if anything failed, else changed or unchanged.
func (l *watchLoop) apply(u Update) {
	log := l.in.Log
	failed := u.Err != nil
	if failed {
		log.Warn("refresh failed: keeping the last good values and files; retrying with backoff", "backend", u.Backend.String(), "error", u.Err)
	}
	changed := false
	if len(u.Values) > 0 {
		vals := maps.Clone(l.vals)
		maps.Copy(vals, u.Values)
		if m, err := l.in.Spec.Materialize(vals); err != nil {
			failed = true
			log.Error("the new values cannot be rendered: keeping the last good values and files", "error", err)
		} else {
			l.vals = vals
			if l.in.OnValues != nil {
				l.in.OnValues(vals)
			}
			log.Debug("new values", "backend", u.Backend.String(), "references", len(u.Values))
			wrote, ok := l.write(m, "rotation")
			changed, failed = wrote, failed || !ok
		}
	}
	l.in.Events.Refreshed(outcome(changed, failed))
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
func (l *watchLoop) write(m *Materialized, why string) (changed, ok bool) {
	log := l.in.Log
	files, err := m.WriteFiles()
	env := changedEnv(l.cur.Env, m.Env)
	l.cur = m
	stopTimer(&l.rewrite)
	if err != nil {
		l.failures++
		wait := backoff(l.failures, retryMax)
		log.Error("writing files failed: the others are written; trying again", "error", err, "retry_in", wait.Round(time.Millisecond).String())
		l.rewrite = time.NewTimer(wait)
	} else {
		l.failures = 0
	}
	if len(files) == 0 && len(env) == 0 {
		return false, err == nil
	}
	log.Info("secrets changed", "files", files, "env", env, "cause", why)
	l.act(files, env)
	return true, err == nil
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
var policyRank = map[Policy]int{PolicyNone: 0, PolicySignal: 1, PolicyRestart: 2, PolicyExit: 3}

// act runs the strongest policy that the changed files and env vars ask
// for, once.
func (l *watchLoop) act(files, env []string) {
	log := l.in.Log
	policy := PolicyNone
	for _, f := range files {
		if p := l.policies[f]; policyRank[p] > policyRank[policy] {
			policy = p
		}
	}
	if len(env) > 0 {
		switch p := l.in.Rotation.OnChange; p {
		case PolicyNone:
			log.Warn("environment variables changed, and on_change is \"none\": the child keeps the old values until it restarts", "env", env)
		case PolicySignal:
			log.Info("environment variables changed: a running process cannot see a new env value, so the child is restarted", "env", env)
			policy = maxPolicy(policy, PolicyRestart)
		default:
			policy = maxPolicy(policy, p)
		}
	}
	switch policy {
	case PolicySignal:
		if l.restart != nil {
			log.Debug("signal skipped: a restart is pending and brings the new files")
			return
		}
		err := l.in.Target.Signal(l.in.Rotation.Signal)
		switch {
		case errors.Is(err, signal.ErrNoChild):
			log.Info("no child to signal: the next run reads the new files when it starts")
		case err != nil:
			log.Warn("cannot signal the change", "error", err)
		default:
			log.Info("signalled the change", "signal", signalName(l.in.Rotation.Signal))
		}
		l.in.Events.Acted(PolicySignal, err)
	case PolicyRestart:
		if l.restart == nil {
			wait := restartSettle + splay(l.in.Rotation.Splay)
			log.Info("restarting the child", "in", wait.Round(time.Millisecond).String())
			l.restart = time.NewTimer(wait)
		}
	case PolicyExit:
		if l.exit == nil {
			l.exit = time.NewTimer(splay(l.in.Rotation.Splay))
		}
	}
}

func maxPolicy(a, b Policy) Policy {
	if policyRank[b] > policyRank[a] {
		return b
	}
	return a
}

// restartChild restarts with the current environment. Restart returns
// once the new child runs, which the supervisor's backoff may delay, so it
// runs apart; a restart asked for meanwhile merges into it.
func (l *watchLoop) restartChild() {
	env := l.cur.Environ(l.in.Environ)
	target, events, log := l.in.Target, l.in.Events, l.in.Log
	go func() {
		err := target.Restart(env)
		events.Acted(PolicyRestart, err)
		if err != nil && !errors.Is(err, signal.ErrStopped) {
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

// backoff is the wait before retry number failures: exponential with full
// jitter (a random time up to retryBase·2^failures, at most ceiling), so a
// fleet that failed together does not retry together.
func backoff(failures int, ceiling time.Duration) time.Duration {
	ceiling = min(ceiling, retryBase<<min(failures, 16))
	return retryBase/10 + time.Duration(rand.Int64N(int64(ceiling)+1))
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// signalName names a signal for logs: "SIGHUP", or "signal 40".
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return sig.String()
}
