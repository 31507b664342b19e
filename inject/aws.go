package inject

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
)

// AWSConfig is the [aws] table: how shroud reaches AWS.
type AWSConfig struct {
	// Profile selects a profile of the shared AWS config files.
	Profile string `toml:"profile"`
	// RoleARN is assumed only to fetch secrets (the ECS execution-role
	// pattern): the app's own role needs no secrets access.
	RoleARN     string `toml:"role_arn"`
	ExternalID  string `toml:"external_id"`
	SessionName string `toml:"session_name"`
	// Timeout is the start-up deadline of all AWS fetches, retries included
	// ("30s" by default).
	Timeout string `toml:"timeout"`
	// CallTimeout bounds one HTTP attempt ("5s" by default); a timed-out
	// attempt is retried.
	CallTimeout string `toml:"call_timeout"`
}

// Timeouts returns Timeout and CallTimeout; zero means the default.
// The config was validated, so they parse.
func (a AWSConfig) Timeouts() (timeout, call time.Duration) {
	timeout, _ = parsePositiveDuration(a.Timeout)
	call, _ = parsePositiveDuration(a.CallTimeout)
	return timeout, call
}

// EnvFromSpec is one [[env_from]] entry: every member of a JSON object, or
// every parameter under an SSM path, becomes an env var.
type EnvFromSpec struct {
	// Path is an SSM path, read recursively with GetParametersByPath.
	Path string `toml:"path"`
	// ValueFrom is a reference whose value is a JSON object.
	ValueFrom string `toml:"value_from"`
	// Prefix is put before every name.
	Prefix string `toml:"prefix"`
}

// EnvFrom binds many env vars at once: every member of the JSON object the
// reference resolves to (for an SSM path, every parameter under it),
// named Prefix + the key upper-cased, with every character outside
// [A-Z0-9_] turned into '_'.
type EnvFrom struct {
	Ref    sources.Ref
	Prefix string
	Origin string
}

// parsePositiveDuration is parseDuration for deadlines: "" is unset (0),
// and zero or less is an error.
func parsePositiveDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like \"30s\" or \"2m\"", s)
	}
	return d, nil
}

func (c *Config) validateAWS() error {
	var errs *multierror.Error
	add := func(format string, args ...any) { errs = multierror.Append(errs, fmt.Errorf(format, args...)) }

	at := c.table("aws")
	a := c.AWS
	if _, err := parsePositiveDuration(a.Timeout); err != nil {
		add("%s: timeout %v", at, err)
	}
	if _, err := parsePositiveDuration(a.CallTimeout); err != nil {
		add("%s: call_timeout %v", at, err)
	}
	if a.RoleARN != "" && !validIAMRoleARN(a.RoleARN) {
		add("%s: role_arn %q is not an IAM role ARN like \"arn:aws:iam::123456789012:role/app-secrets-reader\"", at, a.RoleARN)
	}
	if a.RoleARN == "" && (a.ExternalID != "" || a.SessionName != "") {
		add("%s: external_id and session_name apply to role_arn, which is not set", at)
	}
	if n := a.SessionName; n != "" && (len(n) < 2 || len(n) > 64 || strings.IndexFunc(n, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_+=,.@-", r))
	}) >= 0) {
		add("%s: session_name %q must be 2 to 64 letters, digits or _+=,.@-", at, n)
	}

	for i, e := range c.EnvFrom {
		at := c.entry("env_from", i)
		switch {
		case e.Path == "" && e.ValueFrom == "":
			add("%s: give path (an SSM path such as \"/prod/app/\") or value_from (a reference whose value is a JSON object)", at)
		case e.Path != "" && e.ValueFrom != "":
			add("%s: give path or value_from, not both", at)
		case e.Path != "":
			if err := checkSSMPath(e.Path); err != nil {
				add("%s: path %q %v", at, e.Path, err)
			}
		default:
			if err := checkRef(e.ValueFrom); err != nil {
				add("%s: %v", at, err)
			}
		}
		if e.Prefix != "" && !sources.ValidEnvName(e.Prefix) {
			add("%s: prefix %q must be letters, digits and _, not starting with a digit", at, e.Prefix)
		}
	}
	return errs.ErrorOrNil()
}

// table names a [table] in errors: "shroud.toml:3 [aws]".
func (c *Config) table(name string) string {
	line := 0
	if ls := c.lines[name]; len(ls) > 0 {
		line = ls[0]
	}
	return fmt.Sprintf("%s [%s]", c.at(line), name)
}

// validIAMRoleARN accepts arn:PARTITION:iam::ACCOUNT:role/NAME.
func validIAMRoleARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && strings.HasPrefix(parts[1], "aws") && parts[2] == "iam" &&
		parts[3] == "" && len(parts[4]) == 12 && strings.Trim(parts[4], "0123456789") == "" &&
		strings.HasPrefix(parts[5], "role/") && len(parts[5]) > len("role/")
}

// checkSSMPath applies GetParametersByPath's rules for a path.
func checkSSMPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return errors.New("must start with '/'")
	case strings.HasPrefix(p, "/aws/"):
		return errors.New("is reserved by AWS: GetParametersByPath cannot list /aws/ paths")
	case strings.Contains(p, "//"):
		return errors.New("has an empty segment ('//')")
	case strings.IndexFunc(p, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_.-/", r))
	}) >= 0:
		return errors.New("may hold letters, digits and _ . - / only")
	}
	return nil
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

// bindingKind says where an env binding came from, which decides what
// happens when an env_from name is the same.
type bindingKind int

const (
	boundInConfig  bindingKind = iota // [[secrets]], ECS secrets: a collision is an error
	boundByFlag                       // --secret: overrides env_from, as it overrides the config
	boundByEnvRefs                    // --env-refs: env_from overrides it, as explicit bindings do
)

// expandEnvFrom adds the variables of every env_from entry to env. Names
// must not collide with each other, nor with a binding of the config.
func (s *Spec) expandEnvFrom(vals Values, env map[string]string) (fromEnvFrom map[string]bool, _ error) {
	var errs *multierror.Error
	owner := map[string]string{} // name -> where it came from
	fromEnvFrom = map[string]bool{}
	explicit := map[string]string{}
	for _, e := range s.Env {
		explicit[e.Name] = e.Origin
	}
	for _, ef := range s.EnvFrom {
		res, ok := vals[ef.Ref]
		if !ok || res.Err != nil {
			continue // Materialize reports the failed reference
		}
		fields, err := sources.ObjectFields(res.Value.Data)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: the value of %q is not a JSON object; env_from needs an object whose keys become variable names", ef.Origin, ef.Ref.Raw))
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
			if !sources.ValidEnvName(name) {
				errs = multierror.Append(errs, fmt.Errorf("%s: %s gives the name %s, which starts with a digit; set a prefix", ef.Origin, fmt.Sprintf("key %q of %s", k, ef.Ref.Raw), name))
				continue
			}
			if prev, dup := owner[name]; dup {
				errs = multierror.Append(errs, fmt.Errorf("%s: %s and %s both give the variable %s; rename one or use different prefixes", ef.Origin, prev, from, name))
				continue
			}
			owner[name] = from
			if origin, ok := explicit[name]; ok {
				switch s.kinds[name] {
				case boundByFlag:
					continue // the flag wins
				case boundInConfig:
					errs = multierror.Append(errs, fmt.Errorf("%s: %s gives the variable %s, which %s binds too; drop one or set a prefix", ef.Origin, from, name, origin))
					continue
				}
			}
			data := fields[k]
			if strings.IndexByte(string(data), 0) >= 0 || !utf8.Valid(data) {
				errs = multierror.Append(errs, fmt.Errorf("%s: %s is binary (NUL bytes or not UTF-8), which an environment variable cannot hold", ef.Origin, from))
				continue
			}
			env[name] = string(data)
			fromEnvFrom[name] = true
		}
	}
	return fromEnvFrom, errs.ErrorOrNil()
}
