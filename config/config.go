// Package config decodes what shroud is told — the TOML config file, an
// Amazon ECS task definition, flags and the environment — once, into typed
// and checked values: references parsed, paths absolute, modes, durations,
// signals and policies read. Every problem is reported at once, each with
// its file and line. Nothing downstream parses config text again.
package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// Input is what one command was given. Every field may be empty.
type Input struct {
	// Path is the config file (--config).
	Path string
	// Region is --region: the default AWS region, over the config's.
	Region string
	// Secrets are --secret NAME=REF flags; they override the config.
	Secrets []string
	// EnvRefs replaces wrapper environment variables whose values are
	// references (DESIGN §6); explicit bindings win over them.
	EnvRefs bool
	// Environ is the wrapper's environment, as os.Environ returns it.
	Environ []string
	// TaskDefinition is an ECS task definition JSON file, and Container
	// the name of its container to read (optional with one container).
	TaskDefinition, Container string
}

// Config is everything shroud was told, checked: the targets (env vars,
// files, log options) with their references, and how backends are reached
// and watched.
type Config struct {
	// Path is the config file, or "" when there is none.
	Path string
	// Region is the default AWS region: --region, else the config's
	// region; empty leaves it to the AWS SDK.
	Region string
	// Env binds environment variables, each once, by precedence.
	Env []EnvVar
	// Plain holds literal variables, such as an ECS container's
	// environment; bound secrets win over them.
	Plain map[string]string
	// EnvFrom binds many variables at once ([[env_from]]); their names are
	// known once the values are.
	EnvFrom []EnvFrom
	Files   []File
	// Log is where the child's output goes; nil means driver none.
	Log      *Log
	Rotation Rotation
	// AWS and Alibaba configure the cloud backends.
	AWS     awssrc.Options
	Alibaba alibaba.Options
}

// EnvVar binds one environment variable of the child to a reference.
type EnvVar struct {
	Name string
	Ref  sources.Ref
	// Origin says where the binding was declared, for errors and tables.
	Origin string
	Kind   Kind
}

// Kind says where an env binding came from, which decides what happens
// when an [[env_from]] name is the same.
type Kind int

const (
	// BoundInConfig: [[secrets]], an ECS container's secrets; a collision
	// with env_from is an error.
	BoundInConfig Kind = iota
	// BoundByFlag: --secret overrides env_from, as it overrides the config.
	BoundByFlag
	// BoundByEnvRefs: --env-refs; env_from overrides it, as explicit
	// bindings do. Its reference's Raw is "$NAME": the value is never
	// quoted.
	BoundByEnvRefs
)

// Load reads the config file, the task definition and the flags of in
// into one Config.
func Load(in Input) (*Config, error) {
	cfg := &Config{Rotation: DefaultRotation()}
	if in.Path != "" {
		var err error
		if cfg, err = LoadFile(in.Path); err != nil {
			return nil, err
		}
	}
	return cfg.With(in)
}

// With returns c with the bindings of in's task definition, flags and
// environment added (in.Path is not read). An env var bound twice takes the
// binding with the highest precedence: --secret > the task definition's
// secrets > the config's [[secrets]] > --env-refs.
func (c *Config) With(in Input) (*Config, error) {
	cfg := *c
	logEnvAccessKeys(in.Environ)
	var errs *multierror.Error
	b := newBindings()
	if in.EnvRefs {
		errs = multierror.Append(errs, b.envRefs(in.Environ))
	}
	for _, e := range c.Env {
		b.bind(e)
	}
	if in.TaskDefinition != "" {
		ecs, err := loadECS(in.TaskDefinition, in.Container)
		if err != nil {
			return nil, err
		}
		for _, e := range ecs.secrets {
			b.bind(e)
		}
		cfg.Plain = ecs.environment
		if ecs.log != nil {
			cfg.Log = mergeLog(cfg.Log, ecs.log)
		}
	} else if in.Container != "" {
		return nil, Usagef("--container needs --ecs-task-definition")
	}
	errs = multierror.Append(errs, b.flags(in.Secrets))
	if err := ListErrors(errs); err != nil {
		return nil, err
	}
	cfg.Env = b.env
	if in.Region != "" {
		cfg.Region = in.Region
	}
	cfg.AWS.Region = cfg.Region
	return &cfg, nil
}

// FilesOnly returns the part of the config that writes files: what render
// and sidecar resolve and write, so they need no access to secrets they do
// not write.
func (c *Config) FilesOnly() *Config {
	out := *c
	out.Env, out.Plain, out.EnvFrom, out.Log = nil, nil, nil, nil
	return &out
}

// bindings collects env bindings by precedence: a later bind of a name
// replaces the earlier one in place.
type bindings struct {
	env   []EnvVar
	index map[string]int
}

func newBindings() *bindings { return &bindings{index: map[string]int{}} }

func (b *bindings) bind(v EnvVar) {
	if i, ok := b.index[v.Name]; ok {
		b.env[i] = v
		return
	}
	b.index[v.Name] = len(b.env)
	b.env = append(b.env, v)
}

// envRefs binds every variable of environ whose value starts like a
// reference. Its value may be any data, so what is said about it names the
// variable and at most its scheme, never the rest.
func (b *bindings) envRefs(environ []string) error {
	var errs *multierror.Error
	for _, kv := range environ {
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
		b.bind(EnvVar{Name: name, Ref: ref, Origin: origin, Kind: BoundByEnvRefs})
	}
	return errs.ErrorOrNil()
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

// flags binds the --secret NAME=REF flags; file: paths in them are relative
// to the working directory.
func (b *bindings) flags(secrets []string) error {
	var errs *multierror.Error
	flagged := map[string]bool{}
	for _, s := range secrets {
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
		b.bind(EnvVar{Name: name, Ref: anchor(ref, ""), Origin: "--secret " + name, Kind: BoundByFlag})
	}
	return errs.ErrorOrNil()
}
