package inject

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
)

// EnvVar binds one environment variable of the child to a reference.
type EnvVar struct {
	Name string
	Ref  sources.Ref
	// Origin says where the binding was declared, for errors and tables.
	Origin string
}

// File is one file to write from a reference.
type File struct {
	// Path is absolute.
	Path   string
	Mode   fs.FileMode
	Ref    sources.Ref
	Origin string
}

// Spec is everything to materialize: the targets and the references they
// read. It is built once from a config and flags and does not change.
type Spec struct {
	Env   []EnvVar
	Files []File
	// Plain holds literal variables, such as an ECS container's
	// environment; bound secrets win over them.
	Plain map[string]string
	// EnvFrom binds many variables at once ([[env_from]]); their names are
	// known once the values are.
	EnvFrom []EnvFrom

	// kinds says where each Env binding came from (see bindingKind).
	kinds map[string]bindingKind
}

// SpecInput holds what a Spec is built from. Config may be nil.
type SpecInput struct {
	Config *Config
	// ECS is a task definition's container; its secrets are bound after
	// the config's, its environment becomes Plain.
	ECS *ECSContainer
	// Secrets are --secret NAME=REF flags; they override the config.
	Secrets []string
	// EnvRefs replaces wrapper environment variables whose values are
	// references (DESIGN §6); explicit bindings win over them.
	EnvRefs bool
	// Environ is the wrapper's environment, as os.Environ returns it.
	Environ []string
}

// NewSpec builds a Spec and reports every invalid binding at once. file:
// references in the config are relative to the config file; on the command
// line and in the environment, to the working directory.
func NewSpec(in SpecInput) (*Spec, error) {
	var (
		spec  = Spec{kinds: map[string]bindingKind{}}
		errs  *multierror.Error
		bound = map[string]int{} // env name -> index in spec.Env
	)
	bind := func(v EnvVar, kind bindingKind) {
		spec.kinds[v.Name] = kind
		if i, ok := bound[v.Name]; ok {
			spec.Env[i] = v
			return
		}
		bound[v.Name] = len(spec.Env)
		spec.Env = append(spec.Env, v)
	}

	if in.EnvRefs {
		for _, kv := range in.Environ {
			name, value, _ := strings.Cut(kv, "=")
			if !sources.IsReference(value) {
				continue
			}
			origin := "environment variable " + name
			ref, err := sources.Parse(value)
			if err != nil {
				errs = multierror.Append(errs, fmt.Errorf("%s (--env-refs): %w", origin, err))
				continue
			}
			bind(EnvVar{Name: name, Ref: anchor(ref, ""), Origin: origin}, boundByEnvRefs)
		}
	}

	if c := in.Config; c != nil {
		for i, s := range c.Secrets {
			ref, _ := sources.Parse(s.ValueFrom) // validated when loaded
			bind(EnvVar{Name: s.Name, Ref: anchor(ref, c.Dir()), Origin: c.entry("secrets", i)}, boundInConfig)
		}
		for i, f := range c.Files {
			ref, _ := sources.Parse(f.ValueFrom)
			mode, _ := parseMode(f.Mode)
			spec.Files = append(spec.Files, File{Path: c.resolvePath(f.Path), Mode: mode, Ref: anchor(ref, c.Dir()), Origin: c.entry("files", i)})
		}
		for i, e := range c.EnvFrom {
			ref := sources.PathRef(e.Path)
			if e.Path == "" {
				ref, _ = sources.Parse(e.ValueFrom)
				ref = anchor(ref, c.Dir())
			}
			spec.EnvFrom = append(spec.EnvFrom, EnvFrom{Ref: ref, Prefix: e.Prefix, Origin: c.entry("env_from", i)})
		}
	}

	if c := in.ECS; c != nil {
		for i, s := range c.Secrets {
			ref, _ := sources.Parse(s.ValueFrom) // validated when loaded
			bind(EnvVar{Name: s.Name, Ref: anchor(ref, ""), Origin: fmt.Sprintf("%s secrets[%d]", c.path, i)}, boundInConfig)
		}
		spec.Plain = c.Environment
	}

	flagged := map[string]bool{}
	for _, s := range in.Secrets {
		name, value, ok := strings.Cut(s, "=")
		switch {
		case !ok:
			errs = multierror.Append(errs, fmt.Errorf("--secret %q: want NAME=REFERENCE", s))
			continue
		case !sources.ValidEnvName(name):
			errs = multierror.Append(errs, fmt.Errorf("--secret %s=...: %q is not a valid environment variable name", name, name))
			continue
		case flagged[name]:
			errs = multierror.Append(errs, fmt.Errorf("--secret %s=... is given twice; bind each variable once", name))
			continue
		}
		flagged[name] = true
		ref, err := sources.Parse(value)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("--secret %s: %w", name, err))
			continue
		}
		bind(EnvVar{Name: name, Ref: anchor(ref, ""), Origin: "--secret " + name}, boundByFlag)
	}
	if err := listErrors(errs); err != nil {
		return nil, err
	}
	return &spec, nil
}

// anchor makes a file: reference's path absolute against dir (the working
// directory when dir is empty), so it means the same thing wherever it is
// read from and can be watched.
func anchor(ref sources.Ref, dir string) sources.Ref {
	if ref.Backend != sources.File || filepath.IsAbs(ref.ID) {
		return ref
	}
	if abs, err := filepath.Abs(filepath.Join(dir, ref.ID)); err == nil {
		ref.ID = abs
	}
	return ref
}

// Refs returns every reference of the spec once, in declaration order.
func (s *Spec) Refs() []sources.Ref {
	seen := map[sources.Ref]bool{}
	var refs []sources.Ref
	add := func(r sources.Ref) {
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	for _, e := range s.Env {
		add(e.Ref)
	}
	for _, f := range s.Files {
		add(f.Ref)
	}
	for _, e := range s.EnvFrom {
		add(e.Ref)
	}
	return refs
}

// Values maps each reference to what resolving it gave.
type Values map[sources.Ref]sources.Result

// Resolve fetches every reference of the spec in one batched plan.
func (s *Spec) Resolve(ctx context.Context, r *sources.Resolver) (Values, error) {
	refs := s.Refs()
	results, err := r.Resolve(ctx, refs)
	vals := make(Values, len(refs))
	for i, ref := range refs {
		vals[ref] = results[i]
	}
	if merr, ok := err.(*multierror.Error); ok {
		return vals, listErrors(merr)
	}
	return vals, err
}

// Materialized is a spec with its values: what the child's environment gains
// and what files hold.
type Materialized struct {
	Env   map[string]string
	Files []Rendered
}

// Rendered is the content of one file.
type Rendered struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// Materialize computes env values and file contents from resolved values.
// An environment variable cannot carry a NUL byte and must be text; such a
// value is an error naming the variable, to be bound to a file instead.
func (s *Spec) Materialize(vals Values) (*Materialized, error) {
	m := &Materialized{Env: make(map[string]string, len(s.Env)+len(s.Plain))}
	maps.Copy(m.Env, s.Plain)
	var errs *multierror.Error
	fromEnvFrom, err := s.expandEnvFrom(vals, m.Env)
	errs = multierror.Append(errs, err)
	for _, e := range s.Env {
		if fromEnvFrom[e.Name] && s.kinds[e.Name] == boundByEnvRefs {
			continue // env_from, from the config, wins over --env-refs
		}
		res, ok := vals[e.Ref]
		if !ok || res.Err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %s has no value", e.Origin, e.Name))
			continue
		}
		data := res.Value.Data
		if strings.IndexByte(string(data), 0) >= 0 || !utf8.Valid(data) {
			errs = multierror.Append(errs, fmt.Errorf("%s: the value of %q for %s is binary (NUL bytes or not UTF-8), which an environment variable cannot hold; write it to a file with [[files]] instead", e.Origin, e.Ref.Raw, e.Name))
			continue
		}
		m.Env[e.Name] = string(data)
	}
	for _, f := range s.Files {
		res, ok := vals[f.Ref]
		if !ok || res.Err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %s has no value", f.Origin, f.Path))
			continue
		}
		m.Files = append(m.Files, Rendered{Path: f.Path, Mode: f.Mode, Data: res.Value.Data})
	}
	if err := listErrors(errs); err != nil {
		return nil, err
	}
	return m, nil
}

// Environ returns base with the bound variables set; bound values win.
func (m *Materialized) Environ(base []string) []string {
	out := make([]string, 0, len(base)+len(m.Env))
	set := make(map[string]bool, len(m.Env))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if v, ok := m.Env[name]; ok {
			if set[name] {
				continue // a duplicate in base: keep one
			}
			set[name] = true
			out = append(out, name+"="+v)
			continue
		}
		out = append(out, kv)
	}
	for _, e := range slices.Sorted(maps.Keys(m.Env)) {
		if !set[e] {
			out = append(out, e+"="+m.Env[e])
		}
	}
	return out
}

// WriteFiles writes every file atomically and reports which changed.
func (m *Materialized) WriteFiles() (changed []string, err error) {
	var errs *multierror.Error
	for _, f := range m.Files {
		did, err := WriteFile(f.Path, f.Data, f.Mode)
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		if did {
			changed = append(changed, f.Path)
		}
	}
	return changed, listErrors(errs)
}
