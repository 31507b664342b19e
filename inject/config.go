// Package inject is shroud's engine: it turns a config into targets (env
// vars and files), resolves their references through sources, and
// materializes the values: the child's environment and atomically written
// files.
package inject

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/template"
)

// Config is a shroud.toml file (DESIGN §5).
type Config struct {
	// Region is the default AWS region for references by name.
	Region  string       `toml:"region"`
	Secrets []SecretSpec `toml:"secrets"`
	Files   []FileSpec   `toml:"files"`
	// Alibaba configures the Alibaba Cloud KMS backend.
	Alibaba AlibabaConfig `toml:"alibaba"`

	// FilesRoot, when set, is the only directory files may be written in.
	FilesRoot string `toml:"files_root"`
	// Log configures where the child's output goes (ECS logConfiguration).
	Log *LogSpec `toml:"log"`
	// AWS configures credentials and deadlines of the AWS backends.
	AWS AWSConfig `toml:"aws"`
	// EnvFrom binds many env vars at once, from a JSON object or an SSM path.
	EnvFrom []EnvFromSpec `toml:"env_from"`
	// RotationTable is [rotation] as written; Rotation parses it.
	RotationTable RotationConfig `toml:"rotation"`
	rotationSet   bool

	// path is the file this was read from; relative paths in it resolve
	// against its directory.
	path string
	// structure is the file's lines as structureLines gives them, for the
	// line of a header or key in errors.
	structure []string
	// lines maps an array-of-tables name ("secrets") to the line of each of
	// its [[headers]], so errors can point at the entry.
	lines map[string][]int
	// templates holds each [[files]] entry's parsed template, or nil.
	templates []*template.Template
}

// SecretSpec binds one environment variable (ECS containerDefinitions.secrets).
type SecretSpec struct {
	Name      string `toml:"name"`
	ValueFrom string `toml:"value_from"`
}

// FileSpec writes one file. Its content comes from one of ValueFrom (the
// raw value), Template, TemplateFile, or Values written in Format.
type FileSpec struct {
	Path         string            `toml:"path"`
	ValueFrom    string            `toml:"value_from"`
	Template     string            `toml:"template"`
	TemplateFile string            `toml:"template_file"`
	Format       string            `toml:"format"`
	Values       map[string]string `toml:"values"`
	// Mode is octal text such as "0400", the default.
	Mode string `toml:"mode"`
	// Owner is "UID:GID".
	Owner string `toml:"owner"`
	// OnChange overrides [rotation] on_change for this file.
	OnChange string `toml:"on_change"`

	layout fileLayout
}

// AlibabaConfig is the [alibaba] table: where KMS is reached and where
// credentials come from. It has no place for an AccessKey: keys come from
// the environment or the credentials file, and RRSA or an instance RAM role
// need none.
type AlibabaConfig struct {
	// Region is the default region of kms: names; else ALIBABA_CLOUD_REGION_ID.
	Region string `toml:"region"`
	// Endpoint replaces the default region's KMS endpoint: a host (a KMS
	// instance endpoint) or a URL.
	Endpoint string `toml:"endpoint"`
	// Endpoints replaces other regions' endpoints, by region ID.
	Endpoints map[string]string `toml:"endpoints"`
	// CAFile is the PEM CA bundle for HTTPS to Endpoint and Endpoints.
	CAFile string `toml:"ca_file"`
	// VPC selects the kms-vpc.REGION.aliyuncs.com endpoints.
	VPC bool `toml:"vpc"`
	// Credentials is default, env, sts, ram_role_arn, rrsa, ecs_ram_role or
	// profile.
	Credentials     string `toml:"credentials"`
	Profile         string `toml:"profile"`
	RoleARN         string `toml:"role_arn"`
	RoleSessionName string `toml:"role_session_name"`
	ECSRoleName     string `toml:"ecs_role_name"`
	STSEndpoint     string `toml:"sts_endpoint"`
	// Timeout bounds all KMS fetches of one resolve; CallTimeout one call.
	Timeout     string `toml:"timeout"`
	CallTimeout string `toml:"call_timeout"`
}

// AlibabaCAFile is [alibaba] ca_file made absolute against the config's
// directory; empty when not set.
func (c *Config) AlibabaCAFile() string {
	if c.Alibaba.CAFile == "" {
		return ""
	}
	return c.resolvePath(c.Alibaba.CAFile)
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
	cfg := &Config{path: path, structure: structureLines(data)}
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
	cfg.lines = tableHeaderLines(cfg.structure)
	cfg.rotationSet = md.IsDefined("rotation")
	cfg.readFileLayout(md, data)

	var errs *multierror.Error
	seen := map[string]int{}
	for _, key := range md.Undecoded() {
		name := key.String()
		if len(key) > 2 && key[0] == "log" && key[1] == "options" {
			continue // a table as an option value: validateLog says so
		}
		line := keyLine(cfg.structure, key, seen[name])
		seen[name]++
		if err := refuseAccessKey(cfg.at(line), name); err != nil { // accesskeys.go
			errs = multierror.Append(errs, err)
			continue
		}
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

	c.validateAlibaba(add)
	c.validateRotation(add)

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
	errs = multierror.Append(errs, c.validateFiles())
	errs = multierror.Append(errs, c.validateLog())
	return errs.ErrorOrNil()
}

// validateAlibaba checks [alibaba]; every problem names its key's line.
func (c *Config) validateAlibaba(add func(format string, args ...any)) {
	a := c.Alibaba
	at := func(key ...string) string {
		return c.at(keyLine(c.structure, append(toml.Key{"alibaba"}, key...), 0))
	}
	if a.Region != "" && !sources.ValidAlibabaRegion(a.Region) {
		add("%s: [alibaba] region %q is not an Alibaba Cloud region ID like cn-hangzhou", at("region"), a.Region)
	}
	if a.Endpoint != "" {
		if _, _, err := sources.ParseEndpoint(a.Endpoint); err != nil {
			add("%s: [alibaba] %v", at("endpoint"), err)
		}
	}
	for _, region := range slices.Sorted(maps.Keys(a.Endpoints)) {
		where := at("endpoints", region)
		if where == c.path {
			where = at("endpoints")
		}
		if !sources.ValidAlibabaRegion(region) {
			add("%s: [alibaba.endpoints] %q is not an Alibaba Cloud region ID like cn-shanghai", where, region)
		}
		if _, _, err := sources.ParseEndpoint(a.Endpoints[region]); err != nil {
			add("%s: [alibaba.endpoints] %s: %v", where, region, err)
		}
	}
	if a.CAFile != "" && a.Endpoint == "" && len(a.Endpoints) == 0 {
		add("%s: [alibaba] ca_file applies to endpoint and endpoints, and neither is set", at("ca_file"))
	}
	// Each credentials type has its own keys; a key for another type is a
	// mistake worth pointing out.
	uses := map[string][]string{
		"profile":           {"profile"},
		"role_arn":          {"ram_role_arn", "rrsa"},
		"role_session_name": {"ram_role_arn", "rrsa"},
		"sts_endpoint":      {"ram_role_arn", "rrsa"},
		"ecs_role_name":     {"ecs_ram_role"},
	}
	values := map[string]string{"profile": a.Profile, "role_arn": a.RoleARN, "role_session_name": a.RoleSessionName, "sts_endpoint": a.STSEndpoint, "ecs_role_name": a.ECSRoleName}
	switch a.Credentials {
	case "", "default", "env", "sts", "ram_role_arn", "rrsa", "ecs_ram_role", "profile":
		for _, key := range slices.Sorted(maps.Keys(uses)) {
			if values[key] != "" && !slices.Contains(uses[key], a.Credentials) {
				add("%s: [alibaba] %s is used only with credentials = %s", at(key), key, quoteAll(uses[key]))
			}
		}
	default:
		add("%s: [alibaba] credentials %q: want default, env, sts, ram_role_arn, rrsa, ecs_ram_role or profile", at("credentials"), a.Credentials)
	}
	if a.Credentials == "ram_role_arn" && a.RoleARN == "" {
		add("%s: [alibaba] credentials = \"ram_role_arn\" needs role_arn, the role to assume", at("credentials"))
	}
	if a.RoleARN != "" && !validRAMRoleARN(a.RoleARN) {
		add("%s: [alibaba] role_arn %q is not a RAM role ARN like acs:ram::1234567890123456:role/app-secrets-reader", at("role_arn"), a.RoleARN)
	}
	if a.STSEndpoint != "" && strings.ContainsAny(a.STSEndpoint, "/ ") {
		add("%s: [alibaba] sts_endpoint %q: want a host[:port] such as sts-vpc.cn-hangzhou.aliyuncs.com (STS is always reached over HTTPS)", at("sts_endpoint"), a.STSEndpoint)
	}
	for _, kv := range [][2]string{{"timeout", a.Timeout}, {"call_timeout", a.CallTimeout}} {
		if d, err := time.ParseDuration(kv[1]); kv[1] != "" && (err != nil || d <= 0) {
			add("%s: [alibaba] %s %q is not a positive duration like \"30s\"", at(kv[0]), kv[0], kv[1])
		}
	}
}

// validRAMRoleARN accepts acs:ram::ACCOUNT:role/NAME.
func validRAMRoleARN(s string) bool {
	rest, ok := strings.CutPrefix(s, "acs:ram::")
	account, role, ok2 := strings.Cut(rest, ":role/")
	return ok && ok2 && account != "" && strings.Trim(account, "0123456789") == "" && role != ""
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " or ")
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

// tableHeaderLines finds the line of every [[name]] and [name] header in
// the lines of structureLines.
func tableHeaderLines(lines []string) map[string][]int {
	out := map[string][]int{}
	for i, line := range lines {
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
// is not found, e.g. inside an inline table. lines are structureLines'.
func keyLine(lines []string, key toml.Key, skip int) int {
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	table := ""
	for i, line := range lines {
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
