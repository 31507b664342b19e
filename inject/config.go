// Package inject is shroud's engine: it turns a config into targets (env
// vars and files), resolves their references through sources, and
// materializes the values: the child's environment and atomically written
// files.
package inject

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
)

// Config is a shroud.toml file (DESIGN §5).
type Config struct {
	// Region is the default AWS region for references by name.
	Region  string       `toml:"region"`
	Secrets []SecretSpec `toml:"secrets"`
	Files   []FileSpec   `toml:"files"`
	// AWS configures credentials and deadlines of the AWS backends.
	AWS AWSConfig `toml:"aws"`
	// EnvFrom binds many env vars at once, from a JSON object or an SSM path.
	EnvFrom []EnvFromSpec `toml:"env_from"`

	// path is the file this was read from; relative paths in it resolve
	// against its directory.
	path string
	// lines maps an array-of-tables name ("secrets") to the line of each of
	// its [[headers]], so errors can point at the entry.
	lines map[string][]int
}

// SecretSpec binds one environment variable (ECS containerDefinitions.secrets).
type SecretSpec struct {
	Name      string `toml:"name"`
	ValueFrom string `toml:"value_from"`
}

// FileSpec writes one file.
type FileSpec struct {
	Path      string `toml:"path"`
	ValueFrom string `toml:"value_from"`
	// Mode is octal text such as "0400", the default.
	Mode string `toml:"mode"`
}

// DefaultFileMode keeps a secret file readable by its owner only.
const DefaultFileMode = 0o400

// LoadConfig reads and validates a config file. Every problem is reported at
// once, each with the file and line it concerns.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses config text read from path; path names the file in
// errors and anchors relative paths.
func ParseConfig(path string, data []byte) (*Config, error) {
	cfg := &Config{path: path}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			msg := perr.Message
			if perr.Usage != "" {
				msg += "\n" + perr.Usage
			}
			return nil, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, msg)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.lines = tableHeaderLines(data)

	var errs *multierror.Error
	seen := map[string]int{}
	for _, key := range md.Undecoded() {
		name := key.String()
		line := keyLine(data, key, seen[name])
		seen[name]++
		errs = multierror.Append(errs, fmt.Errorf("%s: unknown key %q%s", cfg.at(line), name, knownKeysHint(key)))
	}
	errs = multierror.Append(errs, cfg.validate())
	if err := listErrors(errs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Dir is the directory relative paths in the config resolve against.
func (c *Config) Dir() string { return filepath.Dir(c.path) }

// Path is the config file's path.
func (c *Config) Path() string { return c.path }

func (c *Config) validate() error {
	var errs *multierror.Error
	add := func(format string, args ...any) { errs = multierror.Append(errs, fmt.Errorf(format, args...)) }

	if c.Region != "" && !sources.ValidAWSRegion(c.Region) {
		add("%s: region %q is not an AWS region code like us-east-1", c.path, c.Region)
	}

	names := map[string]string{}
	for i, s := range c.Secrets {
		at := c.entry("secrets", i)
		if !sources.ValidEnvName(s.Name) {
			add("%s: name %q is not a valid environment variable name (letters, digits, _; not starting with a digit)", at, s.Name)
		} else if prev, dup := names[s.Name]; dup {
			add("%s: %s is already bound at %s; bind each variable once", at, s.Name, prev)
		} else {
			names[s.Name] = at
		}
		if err := checkRef(s.ValueFrom); err != nil {
			add("%s: %v", at, err)
		}
	}

	errs = multierror.Append(errs, c.validateAWS())

	paths := map[string]string{}
	for i, f := range c.Files {
		at := c.entry("files", i)
		if f.Path == "" {
			add("%s: path is empty; give the file to write", at)
		} else {
			abs := c.resolvePath(f.Path)
			if prev, dup := paths[abs]; dup {
				add("%s: %s is already written by the file at %s; give each file one source", at, f.Path, prev)
			} else {
				paths[abs] = at
			}
		}
		if _, err := parseMode(f.Mode); err != nil {
			add("%s: %v", at, err)
		}
		if err := checkRef(f.ValueFrom); err != nil {
			add("%s: %v", at, err)
		}
	}
	return errs.ErrorOrNil()
}

func checkRef(s string) error {
	if s == "" {
		return errors.New("value_from is empty; give a reference such as \"sm:prod/db\" or \"file:./db.json\"")
	}
	_, err := sources.Parse(s)
	return err
}

// parseMode reads an octal permission such as "0400"; empty means the default.
func parseMode(s string) (os.FileMode, error) {
	if s == "" {
		return DefaultFileMode, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("mode %q is not an octal permission like \"0400\" (0000 to 0777)", s)
	}
	if n&0o400 == 0 {
		return 0, fmt.Errorf("mode %q does not let the owner read the file; use \"0400\" or \"0440\"", s)
	}
	return os.FileMode(n), nil
}

// resolvePath makes a path from the config absolute, relative to its file.
func (c *Config) resolvePath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	abs, err := filepath.Abs(filepath.Join(c.Dir(), p))
	if err != nil {
		return filepath.Join(c.Dir(), p)
	}
	return abs
}

// entry names the i-th [[table]] entry in errors: "shroud.toml:12 [[secrets]] #2".
func (c *Config) entry(table string, i int) string {
	line := 0
	if ls := c.lines[table]; i < len(ls) {
		line = ls[i]
	}
	return fmt.Sprintf("%s [[%s]] #%d", c.at(line), table, i+1)
}

func (c *Config) at(line int) string {
	if line <= 0 {
		return c.path
	}
	return fmt.Sprintf("%s:%d", c.path, line)
}

// tableHeaderLines finds the line of every [[name]] and [name] header.
func tableHeaderLines(data []byte) map[string][]int {
	out := map[string][]int{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[[") {
			if end := strings.Index(line, "]]"); end > 0 {
				name := strings.TrimSpace(line[2:end])
				out[name] = append(out[name], i+1)
			}
		} else if strings.HasPrefix(line, "[") {
			if end := strings.IndexByte(line, ']'); end > 0 { // a [table]
				name := strings.TrimSpace(line[1:end])
				out[name] = append(out[name], i+1)
			}
		}
	}
	return out
}

// keyLine finds the line that defines key, skipping the first skip matches
// (an unknown key repeated in several [[entries]]). It returns 0 when the key
// is not found, e.g. inside an inline table.
func keyLine(data []byte, key toml.Key, skip int) int {
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			header := strings.Trim(line[:strings.LastIndexByte(line+"]", ']')], "[] ")
			table = strings.ReplaceAll(header, " ", "")
			if table == key.String() {
				if skip == 0 {
					return i + 1
				}
				skip--
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || table != parent {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if k == last || strings.HasPrefix(k, last+".") {
			if skip == 0 {
				return i + 1
			}
			skip--
		}
	}
	return 0
}

// knownKeysHint lists the keys allowed where key was found, so a typo's fix
// is on the same line.
func knownKeysHint(key toml.Key) string {
	t := reflect.TypeOf(Config{})
	for _, k := range key[:len(key)-1] {
		f, ok := fieldByTag(t, k)
		if !ok {
			return ""
		}
		t = f.Type
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
	}
	var names []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	sort.Strings(names)
	where := "at the top level"
	if len(key) > 1 {
		where = "in [" + strings.Join(key[:len(key)-1], ".") + "]"
	}
	return fmt.Sprintf("; known keys %s: %s", where, strings.Join(names, ", "))
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("toml") == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// listErrors formats several problems one per line.
func listErrors(errs *multierror.Error) error {
	if errs == nil || len(errs.Errors) == 0 {
		return nil
	}
	errs.ErrorFormat = FormatErrors
	return errs
}

// FormatErrors writes one problem per line; a single problem stays on one.
func FormatErrors(es []error) string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(es))
	for _, e := range es {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(e.Error(), "\n", "\n    "))
	}
	return b.String()
}
