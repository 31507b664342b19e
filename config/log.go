package config

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
)

// rawLog is the [log] section (ECS logConfiguration): where the child's
// stdout and stderr go, and whether secret values are masked in them.
type rawLog struct {
	// Driver is none (the default), json-file, syslog, fluentd, splunk or
	// gelf.
	Driver string `toml:"driver"`
	// Options are the driver's options, with Docker's names. Values are
	// strings; numbers and booleans are taken as their text.
	Options map[string]any `toml:"options"`
	// SecretOptions are options whose values come from references.
	SecretOptions []rawSecret `toml:"secret_options"`
	// Mask replaces secret values in the child's output with *****: on by
	// default whenever the output goes to a driver other than none.
	Mask *bool `toml:"mask"`
	// MaskMinLength: shorter values are not masked (default 6).
	MaskMinLength int `toml:"mask_min_length"`
	// MaskEncodings also masks encoded forms of each value: "base64",
	// "json", "url" (logdriver.MaskEncodings). Default all.
	MaskEncodings *[]string `toml:"mask_encodings"`
	// Tee also copies the output to shroud's own stdout and stderr
	// (default true for drivers other than none).
	Tee *bool `toml:"tee"`
}

// logPathOptions name files; in a config, relative paths in them are
// relative to the config file, as every path there is.
var logPathOptions = []string{"path", "syslog-tls-ca-cert", "syslog-tls-cert", "syslog-tls-key", "splunk-capath"}

// Log is where the child's output goes: a driver whose secret options are
// bound to references, and how values are masked.
type Log struct {
	Driver  string
	Options map[string]string
	Secrets []LogOption
	// Mask is on unless turned off, whenever Driver is not none (see
	// defaultMask).
	Mask    bool
	MaskOpt logdriver.MaskOptions
	Tee     bool
	Origin  string

	// set says which of driver, mask and tee a [log] section sets, so that
	// a section without a driver can be merged with an ECS
	// logConfiguration (see mergeLog).
	set struct{ driver, mask, tee bool }
}

// defaultMask is whether masking is on when the config does not say: on
// for every driver but none, as the output then leaves the container.
func defaultMask(driver string) bool { return driver != logdriver.None && driver != "" }

// LogOption binds one log driver option to a reference.
type LogOption struct {
	Name   string
	Ref    sources.Ref
	Origin string
}

// log checks [log] and returns the log target: the driver, every option
// name, the plain values, the references of secret options and the
// masking settings.
func (b *builder) log(l *rawLog) *Log {
	if l == nil {
		return nil
	}
	at := b.table("log")
	opts, bad := logOptionStrings(l.Options)
	for _, name := range bad {
		b.add("%s: options.%s: want a string, number or boolean", at, name)
	}
	for _, name := range logPathOptions {
		if p, ok := opts[name]; ok && p != "" {
			opts[name] = b.resolvePath(p)
		}
	}
	t := &Log{Driver: l.Driver, Options: opts, Origin: at}
	t.set.driver, t.set.mask, t.set.tee = l.Driver != "", l.Mask != nil, l.Tee != nil
	if t.Driver == "" {
		t.Driver = logdriver.None
	}
	t.Mask = defaultMask(t.Driver)
	if l.Mask != nil {
		t.Mask = *l.Mask
	}
	var secretNames []string
	seen := map[string]string{}
	for i, s := range l.SecretOptions {
		entry := b.entry("log.secret_options", i)
		switch prev, dup := seen[s.Name]; {
		case s.Name == "":
			b.add("%s: name is empty; give the driver option the secret sets, e.g. \"splunk-token\"", entry)
		case dup:
			b.add("%s: %s is already set at %s; set each option once", entry, s.Name, prev)
		default:
			seen[s.Name] = entry
			secretNames = append(secretNames, s.Name)
		}
		ref, err := b.ref(s.ValueFrom)
		if err != nil {
			b.add("%s: %v", entry, err)
			continue
		}
		t.Secrets = append(t.Secrets, LogOption{Name: s.Name, Ref: ref, Origin: entry})
	}
	for _, err := range logdriver.Validate(l.Driver, opts, secretNames) {
		b.add("%s: %v", at, err)
	}
	t.MaskOpt = b.maskOptions(l, at)
	t.Tee = logdriver.DefaultTee(t.Driver)
	if l.Tee != nil {
		t.Tee = *l.Tee
	}
	return t
}

// maskOptions checks mask_min_length and mask_encodings.
func (b *builder) maskOptions(l *rawLog, at string) logdriver.MaskOptions {
	if l.MaskMinLength != 0 && l.MaskMinLength < logdriver.MinMaskMinLength {
		b.add("%s: mask_min_length %d is below %d; shorter values would mask ordinary text", at, l.MaskMinLength, logdriver.MinMaskMinLength)
	}
	encodings := logdriver.MaskEncodings
	if l.MaskEncodings != nil {
		encodings = *l.MaskEncodings
	}
	opt, err := logdriver.MaskOptions{MinLength: l.MaskMinLength}.WithEncodings(encodings)
	if err != nil {
		b.add("%s: mask_encodings: %v", at, err)
	}
	return opt
}

// logOptionStrings turns TOML option values into Docker's strings, and
// names the options whose values are not scalars.
func logOptionStrings(in map[string]any) (map[string]string, []string) {
	out := make(map[string]string, len(in))
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(in)) {
		switch v := in[k].(type) {
		case string:
			out[k] = v
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			bad = append(bad, k)
		}
	}
	return out, bad
}

// ecsLog is an ECS container's logConfiguration.
type ecsLog struct {
	Driver        string            `json:"logDriver"`
	Options       map[string]string `json:"options"`
	SecretOptions []struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	} `json:"secretOptions"`
}

// build checks an ECS logConfiguration as [log] is checked, and returns
// its target; at names the container in errors.
func (l *ecsLog) build(at string) (*Log, error) {
	var errs *multierror.Error
	t := &Log{Driver: l.Driver, Options: maps.Clone(l.Options), Mask: defaultMask(l.Driver), Tee: logdriver.DefaultTee(l.Driver), Origin: at + " logConfiguration"}
	t.MaskOpt, _ = logdriver.MaskOptions{}.WithEncodings(logdriver.MaskEncodings) // the defaults are known encodings
	if t.Options == nil {
		t.Options = map[string]string{}
	}
	var names []string
	seen := map[string]int{}
	for i, s := range l.SecretOptions {
		entry := fmt.Sprintf("%s logConfiguration.secretOptions[%d]", at, i)
		switch prev, dup := seen[s.Name]; {
		case s.Name == "":
			errs = multierror.Append(errs, fmt.Errorf("%s: name is empty; give the driver option the secret sets, e.g. \"splunk-token\"", entry))
		case dup:
			errs = multierror.Append(errs, fmt.Errorf("%s: %s is already set by secretOptions[%d]; set each option once", entry, s.Name, prev))
		default:
			seen[s.Name] = i
			names = append(names, s.Name)
		}
		ref, err := parseRef(s.ValueFrom)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s (%s): %v", entry, s.Name, err))
			continue
		}
		t.Secrets = append(t.Secrets, LogOption{Name: s.Name, Ref: anchor(ref, ""), Origin: entry})
	}
	for _, err := range logdriver.Validate(l.Driver, l.Options, names) {
		errs = multierror.Append(errs, fmt.Errorf("%s logConfiguration: %v", at, err))
	}
	return t, errs.ErrorOrNil()
}

// mergeLog gives the log target of a config whose [log] is c (nil when it
// has none) run with an ECS container whose logConfiguration is ecs. A
// [log] without a driver only tunes masking and tee: the task definition's
// driver, options and secret options are kept, with c's mask,
// mask_min_length, mask_encodings and tee. A [log] with a driver wins, and
// a warning names what of the task definition it ignores: the driver and
// the option names, never a value.
func mergeLog(c, ecs *Log) *Log {
	switch {
	case c == nil:
		return ecs
	case !c.set.driver:
		m := *ecs
		m.MaskOpt = c.MaskOpt
		if c.set.mask {
			m.Mask = c.Mask
		}
		if c.set.tee {
			m.Tee = c.Tee
		}
		return &m
	}
	var secrets []string
	for _, s := range ecs.Secrets {
		secrets = append(secrets, s.Name)
	}
	slog.Warn("the config's [log] sets a driver, so the task definition's logConfiguration is ignored; "+
		"to keep the task definition's driver, leave driver out of [log]",
		"config", c.Origin, "ignored", ecs.Origin, "logDriver", ecs.Driver,
		"options", slices.Sorted(maps.Keys(ecs.Options)), "secretOptions", secrets)
	return c
}
