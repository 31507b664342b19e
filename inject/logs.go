package inject

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
)

// LogSpec is the [log] section (ECS logConfiguration): where the child's
// stdout and stderr go, and whether secret values are masked in them.
type LogSpec struct {
	// Driver is none (the default), json-file, syslog, fluentd, splunk or
	// gelf.
	Driver string `toml:"driver"`
	// Options are the driver's options, with Docker's names. Values are
	// strings; numbers and booleans are taken as their text.
	Options map[string]any `toml:"options"`
	// SecretOptions are options whose values come from references.
	SecretOptions []LogSecretOption `toml:"secret_options"`
	// Mask replaces secret values in the child's output with *****.
	Mask bool `toml:"mask"`
	// MaskMinLength: shorter values are not masked (default 6).
	MaskMinLength int `toml:"mask_min_length"`
	// MaskEncodings also masks encoded forms of each value: "base64",
	// "json", "url" (logdriver.MaskEncodings). Default all.
	MaskEncodings *[]string `toml:"mask_encodings"`
	// Tee also copies the output to shroud's own stdout and stderr
	// (default true for drivers other than none).
	Tee *bool `toml:"tee"`
}

// LogSecretOption is one [[log.secret_options]] entry (ECS secretOptions).
type LogSecretOption struct {
	Name      string `toml:"name"`
	ValueFrom string `toml:"value_from"`
}

// logPathOptions name files; in a config, relative paths in them are
// relative to the config file, as every path there is.
var logPathOptions = []string{"path", "syslog-tls-ca-cert", "syslog-tls-cert", "syslog-tls-key", "splunk-capath"}

// LogTarget is where the child's output goes: a driver whose secret
// options are bound to references.
type LogTarget struct {
	Driver  string
	Options map[string]string
	Secrets []LogOption
	Mask    bool
	MaskOpt logdriver.MaskOptions
	Tee     bool
	Origin  string
}

// LogOption binds one log driver option to a reference.
type LogOption struct {
	Name   string
	Ref    sources.Ref
	Origin string
}

// validateLog checks [log]: the driver, every option name, the plain
// values, the references of secret options and the masking settings.
func (c *Config) validateLog() error {
	l := c.Log
	if l == nil {
		return nil
	}
	var errs *multierror.Error
	at := c.table("log")
	add := func(format string, args ...any) { errs = multierror.Append(errs, fmt.Errorf(format, args...)) }

	opts, bad := logOptionStrings(l.Options)
	for _, name := range bad {
		add("%s: options.%s: want a string, number or boolean", at, name)
	}
	var secretNames []string
	seen := map[string]string{}
	for i, s := range l.SecretOptions {
		entry := c.entry("log.secret_options", i)
		switch prev, dup := seen[s.Name]; {
		case s.Name == "":
			add("%s: name is empty; give the driver option the secret sets, e.g. \"splunk-token\"", entry)
		case dup:
			add("%s: %s is already set at %s; set each option once", entry, s.Name, prev)
		default:
			seen[s.Name] = entry
			secretNames = append(secretNames, s.Name)
		}
		if err := checkRef(s.ValueFrom); err != nil {
			add("%s: %v", entry, err)
		}
	}
	for _, err := range logdriver.Validate(l.Driver, opts, secretNames) {
		add("%s: %v", at, err)
	}
	if l.MaskMinLength != 0 && l.MaskMinLength < logdriver.MinMaskMinLength {
		add("%s: mask_min_length %d is below %d; shorter values would mask ordinary text", at, l.MaskMinLength, logdriver.MinMaskMinLength)
	}
	if l.MaskEncodings != nil {
		for _, e := range *l.MaskEncodings {
			if _, err := (logdriver.MaskOptions{}).WithEncodings([]string{e}); err != nil {
				add("%s: mask_encodings: %v", at, err)
			}
		}
	}
	return errs.ErrorOrNil()
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

// logTarget builds the spec's log target from the config's [log].
func (c *Config) logTarget() *LogTarget {
	l := c.Log
	if l == nil {
		return nil
	}
	opts, _ := logOptionStrings(l.Options) // validated when loaded
	for _, name := range logPathOptions {
		if p, ok := opts[name]; ok && p != "" {
			opts[name] = c.resolvePath(p)
		}
	}
	t := &LogTarget{Driver: l.Driver, Options: opts, Mask: l.Mask, Origin: c.table("log")}
	if t.Driver == "" {
		t.Driver = logdriver.None
	}
	t.MaskOpt, _ = logdriver.MaskOptions{MinLength: l.MaskMinLength}.WithEncodings(logdriver.MaskEncodings)
	if l.MaskEncodings != nil {
		t.MaskOpt, _ = t.MaskOpt.WithEncodings(*l.MaskEncodings) // validated when loaded
	}
	t.Tee = logdriver.DefaultTee(t.Driver)
	if l.Tee != nil {
		t.Tee = *l.Tee
	}
	for i, s := range l.SecretOptions {
		ref, _ := sources.Parse(s.ValueFrom)
		t.Secrets = append(t.Secrets, LogOption{Name: s.Name, Ref: anchor(ref, c.Dir()), Origin: c.entry("log.secret_options", i)})
	}
	return t
}

// ECSLog is an ECS container's logConfiguration.
type ECSLog struct {
	Driver        string            `json:"logDriver"`
	Options       map[string]string `json:"options"`
	SecretOptions []struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	} `json:"secretOptions"`
}

// validate checks an ECS logConfiguration as [log] is checked.
func (l *ECSLog) validate(at string) error {
	var errs *multierror.Error
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
		if err := checkRef(s.ValueFrom); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s (%s): %v", entry, s.Name, err))
		}
	}
	for _, err := range logdriver.Validate(l.Driver, l.Options, names) {
		errs = multierror.Append(errs, fmt.Errorf("%s logConfiguration: %v", at, err))
	}
	return errs.ErrorOrNil()
}

func (l *ECSLog) target(at string) *LogTarget {
	t := &LogTarget{Driver: l.Driver, Options: maps.Clone(l.Options), Tee: logdriver.DefaultTee(l.Driver), Origin: at + " logConfiguration"}
	if t.Options == nil {
		t.Options = map[string]string{}
	}
	for i, s := range l.SecretOptions {
		ref, _ := sources.Parse(s.ValueFrom) // validated when loaded
		t.Secrets = append(t.Secrets, LogOption{Name: s.Name, Ref: anchor(ref, ""), Origin: fmt.Sprintf("%s logConfiguration.secretOptions[%d]", at, i)})
	}
	return t
}

// materializeLog resolves the log target's secret options and gathers every
// secret value of the spec, for the pipeline to mask. A secret option's
// value is trimmed of surrounding whitespace (a file's trailing newline):
// no driver option means anything by it.
func (s *Spec) materializeLog(vals Values) (*logdriver.Config, error) {
	mask := vals.Data()
	t := s.Log
	if t == nil {
		return &logdriver.Config{Driver: logdriver.None, MaskValues: mask}, nil
	}
	cfg := &logdriver.Config{
		Driver: t.Driver, Options: maps.Clone(t.Options), Mask: t.Mask,
		MaskValues: mask, MaskOptions: t.MaskOpt, Tee: t.Tee,
	}
	if cfg.Options == nil {
		cfg.Options = map[string]string{}
	}
	var errs *multierror.Error
	for _, o := range t.Secrets {
		res, ok := vals[o.Ref]
		if !ok || res.Err != nil {
			continue // Materialize reports the failed reference
		}
		v := strings.TrimSpace(string(res.Value.Data))
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			errs = multierror.Append(errs, fmt.Errorf("%s: the value of %q for log option %s is binary (NUL bytes or not UTF-8); a driver option must be text", o.Origin, o.Ref.Raw, o.Name))
			continue
		}
		cfg.Options[o.Name] = v
		cfg.SecretOptions = append(cfg.SecretOptions, o.Name)
	}
	return cfg, errs.ErrorOrNil()
}
