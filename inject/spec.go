package inject

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/template"
)

// EnvVar binds one environment variable of the child to a reference.
type EnvVar struct {
	Name string
	Ref  sources.Ref
	// Origin says where the binding was declared, for errors and tables.
	Origin string
}

// File is one file to write: a raw value (Ref), values collected in a
// Format, or a Template's output.
type File struct {
	// Path is absolute.
	Path string
	Mode fs.FileMode
	// Owner is nil to leave the file to the user shroud runs as.
	Owner *Owner
	// Root is files_root: when set, Path lies inside it (see Rendered.Write).
	Root string
	// Ref is the reference whose raw value is the file (value_from).
	Ref sources.Ref
	// Values are the KEY = REF pairs written in Format.
	Values []FileValue
	Format Format
	// Template renders the file; templateRefs maps its references to what
	// is fetched for them.
	Template     *template.Template
	templateRefs map[template.Ref]sources.Ref
	Origin       string
	// OnChange is the file's own policy on change; empty follows
	// [rotation] on_change.
	OnChange Policy
}

// Spec is everything to materialize: the targets and the references they
// read. It is built once from a config and flags and does not change.
type Spec struct {
	Env   []EnvVar
	Files []File
	// Plain holds literal variables, such as an ECS container's
	// environment; bound secrets win over them.
	Plain map[string]string
	// Log is where the child's output goes; nil means driver none.
	Log *LogTarget
	// EnvFrom binds many variables at once ([[env_from]]); their names are
	// known once the values are.
	EnvFrom []EnvFrom

	// kinds says where each Env binding came from (see bindingKind).
	kinds map[string]bindingKind
	// envRefs are the references read from variables by --env-refs, with
	// their variable: the errors of resolving them quote no value.
	envRefs map[sources.Ref]string
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
	logEnvAccessKeys(in.Environ) // accesskeys.go
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
		// Any variable that starts like a reference is taken for one, so
		// its value may be any data: what is said about it names the
		// variable and at most its scheme, never the rest.
		for _, kv := range in.Environ {
			name, value, _ := strings.Cut(kv, "=")
			if !sources.IsReference(value) {
				continue
			}
			origin := "environment variable " + name
			ref, err := sources.Parse(value)
			if err != nil {
				errs = multierror.Append(errs, fmt.Errorf("%s (--env-refs): the value starts with %q but is not a valid reference; "+
					"it is not shown, as it may be any data: see why with shroud check --secret %s=\"$%s\"", origin, refScheme(value), name, name))
				continue
			}
			ref = anchor(ref, "")
			ref.Raw = "$" + name // what errors and check's table quote
			if spec.envRefs == nil {
				spec.envRefs = map[sources.Ref]string{}
			}
			spec.envRefs[ref] = name
			bind(EnvVar{Name: name, Ref: ref, Origin: origin}, boundByEnvRefs)
		}
	}

	if c := in.Config; c != nil {
		for i, s := range c.Secrets {
			ref, _ := sources.Parse(s.ValueFrom) // validated when loaded
			bind(EnvVar{Name: s.Name, Ref: anchor(ref, c.Dir()), Origin: c.entry("secrets", i)}, boundInConfig)
		}
		for i := range c.Files {
			spec.Files = append(spec.Files, c.newFile(i)) // validated when loaded
		}
		spec.Log = c.logTarget()
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
		if spec.Log == nil && c.Log != nil { // the config's [log] wins
			spec.Log = c.Log.target(c.path)
		}
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

// Refs returns every reference of the spec once, in declaration order,
// those of templates and [files.values] included: the batched plan.
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
		for _, r := range f.Refs() {
			add(r)
		}
	}
	if s.Log != nil {
		for _, o := range s.Log.Secrets {
			add(o.Ref)
		}
	}
	for _, e := range s.EnvFrom {
		add(e.Ref)
	}
	return refs
}

// FilesOnly returns the part of the spec that writes files: what render
// resolves and writes, so it needs no access to secrets it does not write.
func (s *Spec) FilesOnly() *Spec {
	return &Spec{Files: s.Files, envRefs: s.envRefs}
}

// Values maps each reference to what resolving it gave.
type Values map[sources.Ref]sources.Result

// Data returns every value that resolved: what the log pipeline masks.
func (v Values) Data() [][]byte {
	data := make([][]byte, 0, len(v))
	for _, res := range v {
		if res.Err == nil {
			data = append(data, res.Value.Data)
		}
	}
	return data
}

// Resolve fetches every reference of the spec in one batched plan.
func (s *Spec) Resolve(ctx context.Context, r *sources.Resolver) (Values, error) {
	refs := s.Refs()
	results, err := r.Resolve(ctx, refs)
	if len(s.envRefs) > 0 && err != nil {
		var errs *multierror.Error
		for i, ref := range refs {
			if name, ok := s.envRefs[ref]; ok && results[i].Err != nil {
				results[i].Err = envRefError(name, ref, results[i].Err)
			}
			if results[i].Err != nil {
				errs = multierror.Append(errs, results[i].Err)
			}
		}
		err = errs
	}
	vals := make(Values, len(refs))
	for i, ref := range refs {
		vals[ref] = results[i]
	}
	if merr, ok := err.(*multierror.Error); ok {
		return vals, listErrors(merr)
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

// refScheme is what IsReference recognized value by: its scheme, or "arn:"
// for an ARN.
func refScheme(value string) string {
	for _, p := range []string{"acs:kms:", "sm:", "kms:", "file:"} {
		if strings.HasPrefix(value, p) {
			return p
		}
	}
	return "arn:"
}

// Materialized is a spec with its values: what the child's environment gains
// and what files hold.
type Materialized struct {
	Env   map[string]string
	Files []Rendered
	// Log configures the child's output pipeline: the driver with its
	// secret options resolved, and every secret value, to mask.
	Log *logdriver.Config
}

// Rendered is the content of one file, and where and how to write it.
type Rendered struct {
	Path  string
	Mode  fs.FileMode
	Owner *Owner
	Root  string
	Data  []byte
}

// Materialize computes env values and file contents from resolved values.
// An environment variable cannot carry a NUL byte and must be text; such a
// value is an error naming the variable, to be bound to a file instead.
//
// Every problem is reported at once: each reference that failed to resolve
// (once, however many targets read it) and each target that cannot be
// built, such as a template asking for a missing JSON key.
func (s *Spec) Materialize(vals Values) (*Materialized, error) {
	m := &Materialized{Env: make(map[string]string, len(s.Env)+len(s.Plain))}
	maps.Copy(m.Env, s.Plain)
	var errs *multierror.Error
	failed := map[sources.Ref]bool{}
	// resolved reports whether every ref has a value, and reports each
	// failed ref once.
	resolved := func(origin, target string, refs ...sources.Ref) bool {
		ok := true
		for _, ref := range refs {
			res, found := vals[ref]
			if found && res.Err == nil {
				continue
			}
			ok = false
			switch {
			case !found:
				errs = multierror.Append(errs, fmt.Errorf("%s: %s has no value for %q", origin, target, ref.Raw))
			case !failed[ref]:
				failed[ref] = true
				errs = multierror.Append(errs, res.Err)
			}
		}
		return ok
	}
	for _, ef := range s.EnvFrom {
		resolved(ef.Origin, ef.Ref.Raw, ef.Ref) // reports a failed reference once
	}
	fromEnvFrom, err := s.expandEnvFrom(vals, m.Env)
	errs = multierror.Append(errs, err)
	for _, e := range s.Env {
		if fromEnvFrom[e.Name] && s.kinds[e.Name] == boundByEnvRefs {
			continue // env_from, from the config, wins over --env-refs
		}
		if !resolved(e.Origin, e.Name, e.Ref) {
			continue
		}
		res := vals[e.Ref]
		data := res.Value.Data
		if strings.IndexByte(string(data), 0) >= 0 || !utf8.Valid(data) {
			errs = multierror.Append(errs, fmt.Errorf("%s: the value of %q for %s is binary (NUL bytes or not UTF-8), which an environment variable cannot hold; write it to a file with [[files]] instead", e.Origin, e.Ref.Raw, e.Name))
			continue
		}
		m.Env[e.Name] = string(data)
	}
	for _, f := range s.Files {
		if !resolved(f.Origin, f.Path, f.Refs()...) {
			continue
		}
		data, err := f.render(vals)
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		m.Files = append(m.Files, Rendered{Path: f.Path, Mode: f.Mode, Owner: f.Owner, Root: f.Root, Data: data})
	}
	if s.Log != nil {
		for _, o := range s.Log.Secrets {
			resolved(o.Origin, "log option "+o.Name, o.Ref)
		}
	}
	m.Log, err = s.materializeLog(vals)
	errs = multierror.Append(errs, err)
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

// WriteFiles writes every file atomically and reports which changed. Every
// file is checked first (files_root, symbolic links, owner), so one bad
// file stops them all before anything is written. A file alone in its
// directory is replaced by a rename; the files of a directory that holds
// several are a set, switched all at once (see writeSet).
func (m *Materialized) WriteFiles() (changed []string, err error) {
	if _, err := m.Changes(); err != nil {
		return nil, err
	}
	var errs *multierror.Error
	for _, set := range setsOf(m.Files) {
		if len(set) > 1 {
			did, err := writeSet(set)
			changed = append(changed, did...)
			errs = multierror.Append(errs, err)
			continue
		}
		did, err := set[0].Write()
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		if did {
			changed = append(changed, set[0].Path)
		}
	}
	return changed, listErrors(errs)
}

// Changes returns the files that writing would change, having checked every
// file as WriteFiles does; it writes nothing (render --dry-run).
func (m *Materialized) Changes() ([]Rendered, error) {
	var (
		errs    *multierror.Error
		changes []Rendered
	)
	for _, f := range m.Files {
		would, err := f.WouldChange()
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		if would {
			changes = append(changes, f)
		}
	}
	return changes, listErrors(errs)
}
