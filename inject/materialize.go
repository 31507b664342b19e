package inject

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/template"
)

// Materialized is a plan with its values: what the child's environment
// gains and what files hold.
type Materialized struct {
	Env   map[string]string
	Files []Rendered
	// Log configures the child's output pipeline: the driver with its
	// secret options resolved, and every secret value, to mask.
	Log *logdriver.Config

	// plain holds the literals of the config (an ECS container's
	// environment); bound names the variables bound to references.
	plain map[string]string
	bound map[string]bool
}

// Materialize computes env values, file contents and log options from
// resolved values. An environment variable cannot carry a NUL byte and must
// be text; such a value is an error naming the variable, to be bound to a
// file instead.
//
// Every problem is reported at once: each reference that failed to resolve
// (once, however many targets read it) and each target that cannot be
// built, such as a template asking for a missing JSON key.
func (p *Plan) Materialize(vals Values) (*Materialized, error) {
	m := &Materialized{Env: make(map[string]string, len(p.Env)+len(p.Plain)), plain: p.Plain, bound: map[string]bool{}}
	maps.Copy(m.Env, p.Plain)
	for _, e := range p.Env {
		m.bound[e.Name] = true
	}
	c := &checker{vals: vals, failed: map[sources.Ref]bool{}}
	for _, ef := range p.EnvFrom {
		c.resolved(ef.Origin, ef.Ref.Raw, ef.Ref) // reports a failed reference once
	}
	fromEnvFrom := p.expandEnvFrom(vals, m.Env, c)
	for _, e := range p.Env {
		if fromEnvFrom[e.Name] && e.Kind == config.BoundByEnvRefs {
			continue // env_from, from the config, wins over --env-refs
		}
		if !c.resolved(e.Origin, e.Name, e.Ref) {
			continue
		}
		data := vals[e.Ref].Value.Data
		if !envText(data) {
			c.add(fmt.Errorf("%s: the value of %q for %s is binary (NUL bytes or not UTF-8), which an environment variable cannot hold; write it to a file with [[files]] instead", e.Origin, e.Ref.Raw, e.Name))
			continue
		}
		m.Env[e.Name] = string(data)
	}
	fs := newForms(p.Log)
	for i := range p.Files {
		f := &p.Files[i]
		if !c.resolved(f.Origin, f.Path, f.Refs()...) {
			continue
		}
		data, err := render(f, vals, fs)
		if err != nil {
			c.add(err)
			continue
		}
		m.Files = append(m.Files, Rendered{Path: f.Path, Mode: f.Mode, Owner: f.Owner, Root: f.Root, Data: data})
	}
	m.Log = p.materializeLog(c, fs)
	if err := config.ListErrors(c.errs); err != nil {
		return nil, err
	}
	return m, nil
}

// checker collects the problems of one materialization.
type checker struct {
	vals   Values
	failed map[sources.Ref]bool
	errs   *multierror.Error
}

func (c *checker) add(err error) { c.errs = multierror.Append(c.errs, err) }

// resolved reports whether every ref has a value, and reports each failed
// ref once.
func (c *checker) resolved(origin, target string, refs ...sources.Ref) bool {
	ok := true
	for _, ref := range refs {
		res, found := c.vals[ref]
		if found && res.Err == nil {
			continue
		}
		ok = false
		switch {
		case !found:
			c.add(fmt.Errorf("%s: %s has no value for %q", origin, target, ref.Raw))
		case !c.failed[ref]:
			c.failed[ref] = true
			c.add(res.Err)
		}
	}
	return ok
}

// envText reports whether data can be an environment variable's value.
func envText(data []byte) bool {
	return strings.IndexByte(string(data), 0) < 0 && utf8.Valid(data)
}

// render computes a file's content from resolved values, all of which are
// present; fs, unless nil, collects what it made of secret values.
func render(f *config.File, vals Values, fs *forms) ([]byte, error) {
	switch {
	case f.Template != nil:
		in := template.RenderInput{Lookup: func(r template.Ref) ([]byte, error) {
			ref, ok := f.TemplateRefs[r]
			if !ok {
				return nil, fmt.Errorf("%v was not planned", r) // cannot happen: Parse collects every call
			}
			return vals[ref].Value.Data, nil
		}}
		if fs != nil {
			in.Secret = fs.templateSecret(f)
		}
		out, err := f.Template.RenderWith(in)
		if err != nil {
			return nil, fmt.Errorf("%v (rendering %s for %s)", err, f.Path, f.Origin)
		}
		if fs != nil {
			fs.file(out.Text, fs.templateParts(out))
		}
		return out.Text, nil
	case f.Values != nil:
		entries := make([]entry, len(f.Values))
		for i, v := range f.Values {
			entries[i] = entry{key: v.Key, value: vals[v.Ref].Value.Data, ref: v.Ref.Raw}
		}
		out, spans, err := encodeSpans(f.Format, entries)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.Origin, f.Path, err)
		}
		if fs != nil {
			fs.file(out, fs.formatParts(f, entries, spans))
		}
		return out, nil
	}
	return vals[f.Ref].Value.Data, nil
}

// materializeLog resolves the log target's secret options and gathers the
// secret values of the plan and the forms fs collected, for the pipeline
// to mask (see mask.go). A secret option's
// value is trimmed of surrounding whitespace (a file's trailing newline):
// no driver option means anything by it.
func (p *Plan) materializeLog(c *checker, fs *forms) *logdriver.Config {
	mask := maskValues(c.vals)
	t := p.Log
	if t == nil {
		return &logdriver.Config{Driver: logdriver.None, MaskValues: mask}
	}
	cfg := &logdriver.Config{
		Driver: t.Driver, Options: maps.Clone(t.Options), Mask: t.Mask,
		MaskValues: mask, MaskOptions: t.MaskOpt, Tee: t.Tee,
	}
	if fs != nil {
		cfg.MaskForms = fs.list
	}
	if cfg.Options == nil {
		cfg.Options = map[string]string{}
	}
	for _, o := range t.Secrets {
		if !c.resolved(o.Origin, "log option "+o.Name, o.Ref) {
			continue
		}
		v := strings.TrimSpace(string(c.vals[o.Ref].Value.Data))
		if !envText([]byte(v)) {
			c.add(fmt.Errorf("%s: the value of %q for log option %s is binary (NUL bytes or not UTF-8); a driver option must be text", o.Origin, o.Ref.Raw, o.Name))
			continue
		}
		cfg.Options[o.Name] = v
		cfg.SecretOptions = append(cfg.SecretOptions, o.Name)
	}
	return cfg
}

// EnvName turns a key of an env_from object into a variable name: prefix +
// the key upper-cased, every character outside [A-Z0-9_] made '_'.
func EnvName(prefix, key string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range strings.ToUpper(key) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// expandEnvFrom adds the variables of every env_from entry to env. Names
// must not collide with each other, nor with a binding of the config.
func (p *Plan) expandEnvFrom(vals Values, env map[string]string, c *checker) (fromEnvFrom map[string]bool) {
	owner := map[string]string{} // name -> where it came from
	fromEnvFrom = map[string]bool{}
	explicit := map[string]config.EnvVar{}
	for _, e := range p.Env {
		explicit[e.Name] = e
	}
	for _, ef := range p.EnvFrom {
		res, ok := vals[ef.Ref]
		if !ok || res.Err != nil {
			continue // reported as a failed reference
		}
		fields, err := sources.ObjectFields(res.Value.Data)
		if err != nil {
			c.add(fmt.Errorf("%s: the value of %q is not a JSON object; env_from needs an object whose keys become variable names", ef.Origin, ef.Ref.Raw))
			continue
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := EnvName(ef.Prefix, k)
			from := fmt.Sprintf("key %q of %s (%s)", k, ef.Ref.Raw, ef.Origin)
			if err := checkEnvFromName(name, k, ef); err != nil {
				c.add(err)
				continue
			}
			if prev, dup := owner[name]; dup {
				c.add(fmt.Errorf("%s: %s and %s both give the variable %s; rename one or use different prefixes", ef.Origin, prev, from, name))
				continue
			}
			owner[name] = from
			if e, ok := explicit[name]; ok {
				switch e.Kind {
				case config.BoundByFlag:
					continue // the flag wins
				case config.BoundInConfig:
					c.add(fmt.Errorf("%s: %s gives the variable %s, which %s binds too; drop one or set a prefix", ef.Origin, from, name, e.Origin))
					continue
				}
			}
			if loaderVariable(name) {
				c.add(fmt.Errorf("%s: %s gives the variable %s, which decides what programs run or what code they load; env_from never sets it from a listing: if it is meant to be set, bind it by name in [[secrets]] (and keep it out of the listing, or set a prefix)", ef.Origin, from, name))
				continue
			}
			if !envText(fields[k]) {
				c.add(fmt.Errorf("%s: %s is binary (NUL bytes or not UTF-8), which an environment variable cannot hold", ef.Origin, from))
				continue
			}
			env[name] = string(fields[k])
			fromEnvFrom[name] = true
		}
	}
	return fromEnvFrom
}

// checkEnvFromName says why name, which key of ef's object gives, cannot
// be an environment variable: key is empty, or name starts with a digit.
func checkEnvFromName(name, key string, ef config.EnvFrom) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: %s has an empty key, which gives no variable name; remove it, or set a prefix", ef.Origin, ef.Ref.Raw)
	case !sources.ValidEnvName(name):
		return fmt.Errorf("%s: key %q of %s gives the name %s, which starts with a digit; set a prefix", ef.Origin, key, ef.Ref.Raw, name)
	}
	return nil
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

// PlainEnv is the child's environment without the variables bound to
// secrets: what the log options env and env-regex may copy into records. A
// variable is plain when shroud's own environment (base) or a literal of
// the config (an ECS container's environment) gives it and no binding
// (config, --secret, --env-refs, env_from) set it.
func (m *Materialized) PlainEnv(base []string) map[string]string {
	bound := maps.Clone(m.bound)
	for name, v := range m.Env {
		if literal, ok := m.plain[name]; !ok || literal != v {
			bound[name] = true // a secret, or env_from's
		}
	}
	out := make(map[string]string, len(base)+len(m.plain))
	for _, kv := range base {
		if name, v, _ := strings.Cut(kv, "="); !bound[name] {
			out[name] = v
		}
	}
	for name, v := range m.plain {
		if !bound[name] {
			out[name] = v // the config's literal wins over base, as in Environ
		}
	}
	return out
}
