// Package inject resolves a config's references and materializes their
// values: the child's environment, the files (written atomically, by the
// one writer of this package) and the log driver's options.
//
// Data flows one way: a config.Config becomes a Plan (every reference once,
// in declaration order), a Plan resolves to Values through the sources, and
// Values materialize into a Materialized, whose files Write writes.
package inject

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/sources"
)

// Plan is a config with the references it reads, computed once.
type Plan struct {
	*config.Config
	// refs is every reference once, in declaration order, those of
	// templates and [files.values] included: the batched plan.
	refs []sources.Ref
	// envRefs are the references read from variables by --env-refs, with
	// their variable: the errors of resolving them quote no value.
	envRefs map[sources.Ref]string
}

// NewPlan plans cfg.
func NewPlan(cfg *config.Config) *Plan {
	p := &Plan{Config: cfg}
	seen := map[sources.Ref]bool{}
	add := func(r sources.Ref) {
		if !seen[r] {
			seen[r] = true
			p.refs = append(p.refs, r)
		}
	}
	for _, e := range cfg.Env {
		add(e.Ref)
		if e.Kind == config.BoundByEnvRefs {
			if p.envRefs == nil {
				p.envRefs = map[sources.Ref]string{}
			}
			p.envRefs[e.Ref] = e.Name
		}
	}
	for _, f := range cfg.Files {
		for _, r := range f.Refs() {
			add(r)
		}
	}
	if cfg.Log != nil {
		for _, o := range cfg.Log.Secrets {
			add(o.Ref)
		}
	}
	for _, e := range cfg.EnvFrom {
		add(e.Ref)
	}
	return p
}

// Refs returns every reference of the plan once, in declaration order.
func (p *Plan) Refs() []sources.Ref { return p.refs }

// Watched reports whether rotation has anything to watch: backends to poll
// (interval > 0) or file: sources, watched in any case.
func (p *Plan) Watched() bool {
	for _, ref := range p.refs {
		switch {
		case ref.Pinned() || ref.Backend == sources.Env:
		case ref.Backend == sources.File || p.Rotation.Interval > 0:
			return true
		}
	}
	return false
}

// Values maps each reference to what resolving it gave.
type Values map[sources.Ref]sources.Result

// Resolve fetches every reference of the plan in one batched plan.
func (p *Plan) Resolve(ctx context.Context, r *sources.Resolver) (Values, error) {
	results, err := r.Resolve(ctx, p.refs)
	if len(p.envRefs) > 0 && err != nil {
		var errs *multierror.Error
		for i, ref := range p.refs {
			if name, ok := p.envRefs[ref]; ok && results[i].Err != nil {
				results[i].Err = envRefError(name, ref, results[i].Err)
			}
			if results[i].Err != nil {
				errs = multierror.Append(errs, results[i].Err)
			}
		}
		err = errs
	}
	vals := make(Values, len(p.refs))
	for i, ref := range p.refs {
		vals[ref] = results[i]
	}
	if merr, ok := err.(*multierror.Error); ok {
		return vals, config.ListErrors(merr)
	}
	return vals, err
}

// envRefError replaces the failure to resolve a reference read from
// variable name by --env-refs. The cause is dropped: a backend's message
// quotes the name, path or key it was asked for, which is part of the
// variable's value.
func envRefError(name string, ref sources.Ref, err error) error {
	region := ""
	var se *sources.Error
	if errors.As(err, &se) && ref.Region == "" {
		region = se.Region // the backend's default region, not the value's
	}
	return &sources.Error{Ref: ref, Region: region, Err: fmt.Errorf("environment variable %s (--env-refs) could not be resolved; "+
		"the cause is not shown, as it may quote the variable's value: see it with shroud check --secret %s=\"$%s\"", name, name, name)}
}
