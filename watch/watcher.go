package watch

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/backoff"
	"github.com/shroud-dev/shroud/internal/timer"
	"github.com/shroud-dev/shroud/sources"
)

// Timing of detection.
const (
	// fileDebounce is how long the file: watcher waits for a burst of
	// events in a directory to end (an editor's save, a Kubernetes
	// ..data swap) before it reads the files again.
	fileDebounce = 10 * time.Millisecond
	// fileDebounceMax bounds that wait under a steady stream of events.
	fileDebounceMax = 100 * time.Millisecond
	// rewatchEvery is how often the file: watcher tries again to watch a
	// directory that was removed (or was missing), until it is back.
	rewatchEvery = time.Second
	// retryBase and retryMax bound the backoff after a failed check.
	retryBase = time.Second
	retryMax  = 2 * time.Minute
)

// Update is what one check of a backend found: the new results of every
// reference that reads an object whose version or bytes changed, and what
// failed. A check that found nothing new has neither; it still says the
// backend answered.
type Update struct {
	Backend sources.Backend
	// Values holds the references whose value changed, with their new
	// results.
	Values inject.Values
	// Err lists what could not be checked or fetched (*sources.Error);
	// those references keep their last good values.
	Err error
}

// watcher detects changes: it polls each backend on its own schedule, and
// watches the directories of file: references, and hands out Updates. It
// knows nothing of files, env vars or the child: the watch loop decides.
type watcher struct {
	updates chan Update
	pollers []*poller
	files   *fsnotify.Watcher
	dirs    []string // the directories files watches, or tries to
	log     *slog.Logger
}

// poller checks the objects of one backend.
type poller struct {
	backend  sources.Backend
	source   sources.Source
	resolver *sources.Resolver
	objects  []sources.Ref                 // unpinned objects of the backend
	readers  map[sources.Ref][]sources.Ref // object -> the spec's references reading it
	interval time.Duration                 // 0: only on a kick
	jitter   float64
	events   Events
	out      chan<- Update
	kick     chan struct{} // a refresh, or a file event
	dirty    map[string]bool

	versions map[sources.Ref]string // object -> last version seen
	last     inject.Values          // reference -> last good result
	failures int
}

// newWatcher plans the checks of refs, whose current results are vals.
// Pinned references and env: are never checked; file: references are also
// watched in their directories.
func newWatcher(refs []sources.Ref, vals inject.Values, r *sources.Resolver,
	rot config.Rotation, events Events, log *slog.Logger) (*watcher, error) {
	w := &watcher{updates: make(chan Update, 16), log: log}
	byBackend := map[sources.Backend]*poller{}
	for _, ref := range refs {
		if ref.Pinned() || ref.Backend == sources.Env {
			continue
		}
		p := byBackend[ref.Backend]
		if p == nil {
			src, ok := r.Source(ref.Backend)
			if !ok {
				continue // not registered: it never resolved either
			}
			p = &poller{backend: ref.Backend, source: src, resolver: r, readers: map[sources.Ref][]sources.Ref{},
				interval: rot.Interval, jitter: rot.Jitter, events: events, out: w.updates,
				kick: make(chan struct{}, 1), versions: map[sources.Ref]string{}, last: inject.Values{}}
			byBackend[ref.Backend] = p
			w.pollers = append(w.pollers, p)
		}
		obj := ref.Object()
		if _, seen := p.readers[obj]; !seen {
			p.objects = append(p.objects, obj)
		}
		p.readers[obj] = append(p.readers[obj], ref)
		if res, ok := vals[ref]; ok && res.Err == nil {
			p.last[ref] = res
			p.versions[obj] = res.Value.Version
		}
	}
	if p := byBackend[sources.File]; p != nil {
		if err := w.watchFiles(p); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// watchFiles watches the directory of every file: reference, not the file:
// Kubernetes swaps a ..data link and editors rename a new file over the
// old, and both replace the file a watch on it would follow.
func (w *watcher) watchFiles(p *poller) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	w.files = fw
	p.dirty = map[string]bool{}
	var dirs []string
	for _, obj := range p.objects {
		if dir := filepath.Dir(obj.ID); !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	w.dirs = dirs
	for _, dir := range dirs {
		if err := fw.Add(dir); err != nil {
			w.log.Warn("cannot watch the directory of a file: source yet; trying again every second", "dir", dir, "error", err)
		}
	}
	// A change between the first render and these watches made no event:
	// one check now sees it.
	p.poke()
	return nil
}

// run checks until ctx ends.
func (w *watcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range w.pollers {
		wg.Go(func() { p.run(ctx) })
	}
	if w.files != nil {
		wg.Go(func() { w.forwardFileEvents(ctx) })
	}
	wg.Wait()
	if w.files != nil {
		w.files.Close()
	}
}

// refresh asks every backend to be checked now.
func (w *watcher) refresh() {
	for _, p := range w.pollers {
		p.poke()
	}
}

func (p *poller) poke() {
	select {
	case p.kick <- struct{}{}:
	default: // one is pending already
	}
}

// forwardFileEvents turns bursts of events into one check of the file:
// backend, once the burst is quiet for fileDebounce.
func (w *watcher) forwardFileEvents(ctx context.Context) {
	var p *poller
	for _, q := range w.pollers {
		if q.backend == sources.File {
			p = q
		}
	}
	var (
		quiet *time.Timer
		first time.Time
	)
	// A directory that is removed loses its watch. While any directory is
	// unwatched (removed, or missing from the start), a timer tries again;
	// otherwise nothing wakes this loop but events.
	var rewatch <-chan time.Time
	if len(w.files.WatchList()) < len(w.dirs) {
		rewatch = time.After(rewatchEvery)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-rewatch:
			rewatch = nil
			if w.rewatch() {
				p.poke() // what changed while unwatched
			}
			if len(w.files.WatchList()) < len(w.dirs) {
				rewatch = time.After(rewatchEvery)
			}
		case ev, ok := <-w.files.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && slices.Contains(w.dirs, ev.Name) {
				w.files.Remove(ev.Name) // a moved directory's watch would follow it
				if rewatch == nil {
					rewatch = time.After(rewatchEvery)
				}
			}
			now := time.Now()
			if quiet == nil {
				first = now
				quiet = time.NewTimer(fileDebounce)
			} else if now.Sub(first) < fileDebounceMax {
				quiet.Reset(fileDebounce)
			}
		case err, ok := <-w.files.Errors:
			if !ok {
				return
			}
			w.log.Warn("watching file: sources", "error", err) // e.g. the kernel's event queue overflowed
			p.poke()
		case <-timer.C(quiet):
			quiet = nil
			p.poke()
		}
	}
}

// rewatch watches again every directory that has no watch, and reports
// whether it added one.
func (w *watcher) rewatch() (added bool) {
	watched := w.files.WatchList()
	for _, dir := range w.dirs {
		if slices.Contains(watched, dir) {
			continue
		}
		if err := w.files.Add(dir); err == nil {
			w.log.Info("watching the directory of a file: source again", "dir", dir)
			added = true
		}
	}
	return added
}

// run checks the backend every interval (with jitter), or sooner after a
// failure (backoff with full jitter), and whenever it is kicked. The first
// check comes after a random half to one and a half intervals (splay): a
// fleet started together, as a deploy starts it, then polls spread over a
// whole interval at once, where jitter alone widens the wave by only
// jitter·√n intervals after n of them, and takes hours; and no poll adds
// to the deploy's own calls in its first half interval.
func (p *poller) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	arm := func(failed bool) {
		timer.Stop()
		if failed || p.interval > 0 {
			timer.Reset(p.wait(failed))
		}
	}
	timer.Stop()
	if p.interval > 0 {
		timer.Reset(p.interval/2 + time.Duration(rand.Int64N(int64(p.interval)+1)))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.kick:
		}
		failed := p.check(ctx)
		if ctx.Err() != nil {
			return
		}
		arm(failed)
	}
}

// wait is the time to the next check: the interval spread by jitter, or
// after a failure a backoff with full jitter, shorter than the interval.
func (p *poller) wait(failed bool) time.Duration {
	if failed {
		ceiling := backoff.Scale(retryMax)
		if p.interval > 0 {
			ceiling = min(ceiling, p.interval)
		}
		return retryWait(p.failures, ceiling)
	}
	spread := p.jitter * (2*rand.Float64() - 1)
	return time.Duration(float64(p.interval) * (1 + spread))
}

// check asks the backend for what changed and sends one Update. It returns
// whether anything failed.
func (p *poller) check(ctx context.Context) bool {
	objects := p.objects
	var errs *multierror.Error
	if v, ok := p.source.(sources.Versioner); ok {
		objects, errs = p.pollVersions(ctx, v)
	}
	u := Update{Backend: p.backend, Values: inject.Values{}}
	if len(objects) > 0 {
		var refs []sources.Ref
		for _, obj := range objects {
			refs = append(refs, p.readers[obj]...)
		}
		start := time.Now()
		results, err := p.resolver.Resolve(ctx, refs)
		p.events.BackendCall(p.backend, "fetch", time.Since(start), err)
		for i, ref := range refs {
			res := results[i]
			if res.Err != nil {
				continue // reported in err
			}
			old, had := p.last[ref]
			if !had || !bytes.Equal(old.Value.Data, res.Value.Data) || old.Value.Version != res.Value.Version {
				u.Values[ref] = res
				p.last[ref] = res
			}
			obj := ref.Object()
			if p.versions[obj] != res.Value.Version {
				p.versions[obj] = res.Value.Version
				p.events.VersionChanged(p.backend)
			}
		}
		errs = multierror.Append(errs, err)
	}
	u.Err = config.ListErrors(errs)
	if u.Err != nil {
		p.failures++
	} else {
		p.failures = 0
	}
	select {
	case p.out <- u:
	case <-ctx.Done():
	}
	return u.Err != nil
}

// pollVersions asks a Versioner for the version of every object and
// returns those that moved (or that the backend gives no version for).
func (p *poller) pollVersions(ctx context.Context, v sources.Versioner) ([]sources.Ref, *multierror.Error) {
	start := time.Now()
	results := v.Versions(ctx, p.objects)
	var (
		errs    *multierror.Error
		changed []sources.Ref
		failed  error
	)
	for i, obj := range p.objects {
		res := results[i]
		if res.Err != nil {
			// Named by a reference the user wrote, as the resolver does.
			ref := p.readers[obj][0]
			region := res.Value.Region
			if region == "" {
				region = ref.Region
			}
			err := &sources.Error{Ref: ref, Region: region, Err: res.Err}
			errs = multierror.Append(errs, err)
			failed = err
			continue
		}
		if res.Value.Version == "" || res.Value.Version != p.versions[obj] {
			changed = append(changed, obj)
		}
	}
	p.events.BackendCall(p.backend, "versions", time.Since(start), failed)
	return changed, errs
}
