package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/internal/bounded"
	"github.com/shroud-dev/shroud/sources"
)

// rawFile is a shroud.toml as the TOML decoder fills it (DESIGN §5); the
// builder turns it into a Config. Its tags are the config's keys.
type rawFile struct {
	// Region is the default AWS region for references by name.
	Region  string       `toml:"region"`
	Secrets []rawSecret  `toml:"secrets"`
	Files   []rawFileOut `toml:"files"`
	Alibaba rawAlibaba   `toml:"alibaba"`
	// FilesRoot, when set, is the only directory files may be written in.
	FilesRoot string       `toml:"files_root"`
	Log       *rawLog      `toml:"log"`
	AWS       rawAWS       `toml:"aws"`
	EnvFrom   []rawEnvFrom `toml:"env_from"`
	Rotation  rawRotation  `toml:"rotation"`
}

// rawSecret binds one environment variable (ECS containerDefinitions.secrets).
type rawSecret struct {
	Name      string `toml:"name"`
	ValueFrom string `toml:"value_from"`
}

// LoadFile reads and checks a config file. Every problem is reported at
// once, each with the file and line it concerns.
func LoadFile(path string) (*Config, error) {
	data, err := readBounded(path, "config", maxConfigSize)
	if err != nil {
		return nil, err
	}
	return ParseFile(path, data)
}

// maxConfigSize bounds a config file: it is read whole.
const maxConfigSize = 4 << 20

// readBounded reads a regular file of at most limit bytes; what names the
// file's role in errors. A device or a FIFO is refused: /dev/zero would
// never end, a FIFO would wait for a writer.
func readBounded(path, what string, limit int64) ([]byte, error) {
	data, _, err := bounded.ReadFile(path, limit)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return data, nil
}

// ParseFile parses config text read from path; path names the file in
// errors and anchors relative paths. The Config has the file's bindings
// only: Load adds an ECS task definition's and the flags'.
func ParseFile(path string, data []byte) (*Config, error) {
	if err := bounded.CheckTOML(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var raw rawFile
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, syntaxError(path, data, perr)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := newBuilder(path, data)
	b.unknownKeys(md)
	cfg := b.build(&raw, md)
	if err := ListErrors(b.errs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// syntaxError reports a TOML error in one line: the file, the line of the
// offending byte, and the message. The line comes from the byte offset:
// the decoder counts an unexpected newline, such as the end of "[aws", on
// the line after it.
func syntaxError(path string, data []byte, perr toml.ParseError) error {
	start := min(max(perr.Position.Start, 0), len(data))
	line := 1 + bytes.Count(data[:start], []byte("\n"))
	msg := strings.Join(strings.Fields(perr.Message+" "+perr.Usage), " ")
	text, _, _ := bytes.Cut(data[bytes.LastIndexByte(data[:start], '\n')+1:], []byte("\n"))
	return fmt.Errorf("%s:%d: %s%s", path, line, msg, modeHint(string(text)))
}

// builder turns a decoded file into a Config, checking every value once
// and collecting every problem with its line.
type builder struct {
	path string
	dir  string
	// structure is the file's lines as structureLines gives them, for the
	// line of a header or key in errors.
	structure []string
	// lines maps a table name ("secrets") to the line of each of its
	// headers, so errors can point at the entry.
	lines map[string][]int
	data  []byte
	errs  *multierror.Error
}

func newBuilder(path string, data []byte) *builder {
	structure := structureLines(data)
	// Absolute once: every relative path of the file is made absolute
	// against it, and filepath.Abs of a relative path asks for the
	// working directory each time.
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &builder{path: path, dir: dir, structure: structure,
		lines: tableHeaderLines(structure), data: data}
}

func (b *builder) add(format string, args ...any) {
	b.errs = multierror.Append(b.errs, fmt.Errorf(format, args...))
}

// build checks every table and returns what it means.
func (b *builder) build(raw *rawFile, md toml.MetaData) *Config {
	cfg := &Config{Path: b.path, Region: raw.Region}
	if raw.Region != "" && !sources.ValidAWSRegion(raw.Region) {
		b.add("%s: region %q is not an AWS region code like us-east-1", b.path, raw.Region)
	}
	cfg.Alibaba = b.alibaba(raw.Alibaba)
	cfg.AWS = b.aws(raw.AWS)
	cfg.AWS.Region = raw.Region
	cfg.Rotation = b.rotation(raw.Rotation, md.IsDefined("rotation"))
	cfg.Env = b.secrets(raw.Secrets)
	cfg.EnvFrom = b.envFrom(raw.EnvFrom)
	cfg.Files = b.files(raw, md)
	cfg.Log = b.log(raw.Log)
	return cfg
}

// secrets builds the [[secrets]] bindings.
func (b *builder) secrets(raw []rawSecret) []EnvVar {
	var env []EnvVar
	names := map[string]string{}
	for i, s := range raw {
		at := b.entry("secrets", i)
		ok := true
		if !sources.ValidEnvName(s.Name) {
			b.add("%s: name %q is not a valid environment variable name (letters, digits, _; not starting with a digit)", at, s.Name)
			ok = false
		} else if prev, dup := names[s.Name]; dup {
			b.add("%s: %s is already bound at %s; bind each variable once", at, s.Name, prev)
			ok = false
		} else {
			names[s.Name] = at
		}
		ref, err := b.ref(s.ValueFrom)
		if err != nil {
			b.add("%s: %v", at, err)
			continue
		}
		if ok {
			env = append(env, EnvVar{Name: s.Name, Ref: ref, Origin: at, Kind: BoundInConfig})
		}
	}
	return env
}

// ref parses a reference of the config: a file: path is relative to the
// config's directory.
func (b *builder) ref(s string) (sources.Ref, error) {
	ref, err := parseRef(s)
	return anchor(ref, b.dir), err
}

// parseRef parses a value_from, with a hint when it is empty.
func parseRef(s string) (sources.Ref, error) {
	if s == "" {
		return sources.Ref{}, errors.New("value_from is empty; give a reference such as \"sm:prod/db\" or \"file:./db.json\"")
	}
	return sources.Parse(s)
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

// resolvePath makes a path from the config absolute, relative to its file.
func (b *builder) resolvePath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	abs, err := filepath.Abs(filepath.Join(b.dir, p))
	if err != nil {
		return filepath.Join(b.dir, p)
	}
	return abs
}

// unknownKeys reports every key the file has and shroud does not know,
// with the keys allowed there.
func (b *builder) unknownKeys(md toml.MetaData) {
	seen := map[string]int{}
	for _, key := range md.Undecoded() {
		name := key.String()
		if len(key) > 2 && key[0] == "log" && key[1] == "options" {
			continue // a table as an option value: log says so
		}
		line := keyLine(b.structure, key, seen[name])
		seen[name]++
		if err := refuseAccessKey(b.at(line), name); err != nil {
			b.errs = multierror.Append(b.errs, err)
			continue
		}
		b.add("%s: unknown key %q%s", b.at(line), name, knownKeysHint(key))
	}
}

// entry names the i-th [[table]] entry in errors: "shroud.toml:12 [[secrets]] #2".
func (b *builder) entry(table string, i int) string {
	line := 0
	if ls := b.lines[table]; i < len(ls) {
		line = ls[i]
	}
	return fmt.Sprintf("%s [[%s]] #%d", b.at(line), table, i+1)
}

// table names a [table] in errors: "shroud.toml:3 [aws]".
func (b *builder) table(name string) string {
	line := 0
	if ls := b.lines[name]; len(ls) > 0 {
		line = ls[0]
	}
	return fmt.Sprintf("%s [%s]", b.at(line), name)
}

// key names the line of a key in errors: "shroud.toml:7".
func (b *builder) key(key ...string) string {
	return b.at(keyLine(b.structure, key, 0))
}

func (b *builder) at(line int) string {
	if line <= 0 {
		return b.path
	}
	return fmt.Sprintf("%s:%d", b.path, line)
}

// knownKeysHint lists the keys allowed where key was found, so a typo's fix
// is on the same line.
func knownKeysHint(key toml.Key) string {
	t := reflect.TypeOf(rawFile{})
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
