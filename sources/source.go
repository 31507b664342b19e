package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/go-multierror"
)

// Value is a secret value and the version it was read at.
type Value struct {
	Data []byte
	// Version identifies what was read: a Secrets Manager or KMS version id,
	// an SSM version number, a file's modification time. Empty when the
	// backend has none.
	Version string
	// Region is where the value was read; empty for local sources.
	Region string
}

// Result is the outcome of fetching one reference.
type Result struct {
	Value Value
	Err   error
}

// A Source fetches values from one backend.
//
// Fetch receives every reference of one resolve at once, so a backend can
// batch and parallelize its calls; the references carry no JSON key (see
// Ref.Object) and are unique. It returns one Result per reference, in order.
// A backend that cannot tell where a value is, such as a name in its default
// region, sets Value.Region on error results too, so the error can say which
// region was asked.
type Source interface {
	Fetch(ctx context.Context, refs []Ref) []Result
}

// A Versioner reports the current version of each reference without reading
// its value where the backend allows it (SSM GetParameters metadata, Secrets
// Manager DescribeSecret, KMS version ids), so the watch loop can poll
// cheaply and fetch values only on change. It has Fetch's contract, but the
// results carry Value.Version (and Value.Region) and may leave Value.Data
// empty. Sources that do not implement it are polled with Fetch.
type Versioner interface {
	Versions(ctx context.Context, refs []Ref) []Result
}

// ErrUnavailable is returned for references whose backend is not registered.
var ErrUnavailable = errors.New("backend not available in this build of shroud")

// Error is the failure to resolve one reference. Its message names the
// reference, the backend and the region, never a value.
type Error struct {
	Ref    Ref
	Region string
	Err    error
}

func (e *Error) Error() string {
	where := e.Ref.Backend.String()
	if e.Region != "" {
		where += ", " + e.Region
	}
	// One problem is one line, in lists and in JSON logs alike, whatever
	// a backend's SDK put in its message (some dump fields line by line).
	msg := strings.Join(strings.Fields(e.Err.Error()), " ")
	return fmt.Sprintf("reference %q (%s): %s", e.Ref.Raw, where, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Resolver routes references to the sources of their backends.
// The zero value has no sources; NewResolver registers the local ones.
type Resolver struct {
	sources map[Backend]Source
}

// NewResolver returns a Resolver with the file: and env: sources registered.
func NewResolver() *Resolver {
	r := &Resolver{}
	r.Register(File, FileSource{})
	r.Register(Env, EnvSource{})
	return r
}

// Register makes s the source of backend b.
func (r *Resolver) Register(b Backend, s Source) {
	if r.sources == nil {
		r.sources = map[Backend]Source{}
	}
	r.sources[b] = s
}

// Source returns the source registered for backend b, so a caller such as
// the watch loop can poll its versions directly.
func (r *Resolver) Source(b Backend) (Source, bool) {
	s, ok := r.sources[b]
	return s, ok
}

// Resolve fetches every reference: each distinct object once, each backend's
// references in one Fetch, backends in parallel. It returns one Result per
// reference, in order, and all failures together as a *multierror.Error
// whose entries are *Error.
func (r *Resolver) Resolve(ctx context.Context, refs []Ref) ([]Result, error) {
	// One fetch per object, however many references (keys) select from it.
	objects := map[Ref]int{}
	byBackend := map[Backend][]Ref{}
	for _, ref := range refs {
		obj := ref.Object()
		if _, ok := objects[obj]; !ok {
			objects[obj] = len(byBackend[ref.Backend])
			byBackend[ref.Backend] = append(byBackend[ref.Backend], obj)
		}
	}

	fetched := map[Backend][]Result{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for b, objs := range byBackend {
		src, ok := r.sources[b]
		if !ok {
			results := make([]Result, len(objs))
			for i := range results {
				results[i].Err = ErrUnavailable
			}
			mu.Lock() // fetches of other backends may be running
			fetched[b] = results
			mu.Unlock()
			continue
		}
		fetch := func() {
			results := src.Fetch(ctx, objs)
			if len(results) != len(objs) {
				panic(fmt.Sprintf("sources: %s source returned %d results for %d references", b, len(results), len(objs)))
			}
			mu.Lock()
			fetched[b] = results
			mu.Unlock()
		}
		if len(byBackend) == 1 {
			fetch() // nothing to overlap with
		} else {
			wg.Go(fetch)
		}
	}
	wg.Wait()

	out := make([]Result, len(refs))
	split := map[Ref]objectKeys{}
	var errs *multierror.Error
	for i, ref := range refs {
		obj := ref.Object()
		res := fetched[ref.Backend][objects[obj]]
		if res.Err == nil && ref.JSONKey != "" {
			keys, ok := split[obj]
			if !ok {
				keys = splitKeys(obj, res.Value.Data)
				split[obj] = keys
			}
			res.Value.Data, res.Err = keys.key(ref.JSONKey)
		}
		if res.Err != nil {
			region := res.Value.Region
			if region == "" {
				region = ref.Region
			}
			res = Result{Err: &Error{Ref: ref, Region: region, Err: res.Err}}
			errs = multierror.Append(errs, res.Err)
		}
		out[i] = res
	}
	return out, errs.ErrorOrNil()
}
