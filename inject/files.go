package inject

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/template"
)

// A [[files]] entry's content comes from exactly one of these keys.
var contentKeys = []string{"value_from", "template", "template_file", "[files.values]"}

// Format is how a file is written.
type Format string

// The formats of [[files]] format. Raw writes the value, or the template's
// output, as is; the others collect the KEY = REF pairs of [files.values].
const (
	Raw        Format = "raw"
	JSON       Format = "json"
	Dotenv     Format = "dotenv"
	YAML       Format = "yaml"
	Properties Format = "properties"
)

var formats = []Format{Raw, JSON, Dotenv, YAML, Properties}

// formatOf guesses a [files.values] format from the file name.
func formatOf(path string) Format {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(base, ".json"):
		return JSON
	case strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".yml"):
		return YAML
	case strings.HasSuffix(base, ".properties"):
		return Properties
	case sources.IsDotenvName(base):
		return Dotenv
	}
	return ""
}

// FileValue is one KEY = REF of [files.values].
type FileValue struct {
	Key string
	Ref sources.Ref
}

// Owner is the numeric user and group a file is given.
type Owner struct{ UID, GID int }

func (o Owner) String() string { return fmt.Sprintf("%d:%d", o.UID, o.GID) }

// parseOwner reads "UID:GID".
func parseOwner(s string) (*Owner, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.ParseUint(u, 10, 31)
	gid, err2 := strconv.ParseUint(g, 10, 31)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("owner %q is not numeric \"UID:GID\" like \"1000:1000\"", s)
	}
	return &Owner{UID: int(uid), GID: int(gid)}, nil
}

// fileLayout is what the TOML decoder forgets about a [[files]] entry and
// errors and output need.
type fileLayout struct {
	// valueKeys are the [files.values] keys in the order written, so the
	// file lists them in that order.
	valueKeys []string
	// templateLine and templateCol place an inline template's first
	// character in the config file.
	templateLine, templateCol int
}

// readFileLayout records the order of [files.values] keys (md.Keys lists
// keys as written; each [[files]] entry starts with the key "files") and
// where each inline template starts.
func (c *Config) readFileLayout(md toml.MetaData, data []byte) {
	i := -1
	for _, key := range md.Keys() {
		switch {
		case len(key) == 1 && key[0] == "files":
			i++
		case len(key) == 3 && key[0] == "files" && key[1] == "values" && i >= 0 && i < len(c.Files):
			c.Files[i].layout.valueKeys = append(c.Files[i].layout.valueKeys, key[2])
		}
	}
	lines := strings.Split(string(data), "\n")
	starts := c.lines["files"]
	for i := range c.Files {
		if c.Files[i].Template == "" || i >= len(starts) {
			continue
		}
		c.Files[i].layout.templateLine, c.Files[i].layout.templateCol = templateStart(lines, c.structure, starts[i])
	}
}

// templateStart finds where the text of the template key of the entry
// whose header is on line header starts: the line after a triple quote
// that ends its line (TOML drops that newline), else just after the quote.
// It finds the key in structure (structureLines'), and reads the value in
// lines, the document's lines: both agree up to the opening quotes.
func templateStart(lines, structure []string, header int) (line, col int) {
	for n := header; n < len(lines); n++ { // lines[n] is line n+1
		if strings.HasPrefix(strings.TrimSpace(structure[n]), "[") {
			break
		}
		k, _, ok := strings.Cut(structure[n], "=")
		if !ok || strings.Trim(strings.TrimSpace(k), `"'`) != "template" {
			continue
		}
		l := lines[n]
		_, v, _ := strings.Cut(l, "=")
		rest := strings.TrimLeft(v, " \t")
		at := len(l) - len(rest) // index of the opening quote
		for _, q := range []string{"'''", `"""`, "'", `"`} {
			if strings.HasPrefix(rest, q) {
				if len(q) == 3 && strings.TrimRight(rest[3:], "\r") == "" {
					return n + 2, 1
				}
				return n + 1, at + len(q) + 1
			}
		}
		return n + 1, 1
	}
	return header, 1
}

// validateFiles checks every [[files]] entry and files_root, and parses
// their templates.
func (c *Config) validateFiles() error {
	var errs *multierror.Error
	add := func(format string, args ...any) { errs = multierror.Append(errs, fmt.Errorf(format, args...)) }

	root := c.filesRoot()
	if c.FilesRoot != "" && hasDotDot(c.FilesRoot) {
		add("%s: files_root %q holds \"..\"; write the directory without it", c.path, c.FilesRoot)
	}
	c.templates = make([]*template.Template, len(c.Files))
	paths := map[string]string{}
	for i, f := range c.Files {
		at := c.entry("files", i)
		if f.Path == "" {
			add("%s: path is empty; give the file to write", at)
		} else {
			abs := c.resolvePath(f.Path)
			switch {
			case hasDotDot(f.Path):
				add("%s: path %q holds \"..\"; write the path without it", at, f.Path)
			case reservedName(filepath.Base(abs)):
				add("%s: path %q: names starting with \"..\" are reserved for the layout that switches a directory's files at once (..data); choose another name", at, f.Path)
			case root != "" && !within(root, abs):
				add("%s: path %s is outside files_root %s; files may only be written inside it", at, abs, root)
			}
			if prev, dup := paths[abs]; dup {
				add("%s: %s is already written by the file at %s; give each file one source", at, f.Path, prev)
			} else {
				paths[abs] = at
			}
		}
		if _, err := parseMode(f.Mode); err != nil {
			add("%s: %v", at, err)
		}
		if f.Owner != "" {
			if _, err := parseOwner(f.Owner); err != nil {
				add("%s: %v", at, err)
			}
		}
		errs = multierror.Append(errs, c.validateContent(i, at))
	}
	return errs.ErrorOrNil()
}

// validateContent checks that an entry has one source of content and that
// its references, format and template are sound.
func (c *Config) validateContent(i int, at string) error {
	f := c.Files[i]
	var errs *multierror.Error
	add := func(format string, args ...any) { errs = multierror.Append(errs, fmt.Errorf(format, args...)) }

	var given []string
	for j, set := range []bool{f.ValueFrom != "", f.Template != "", f.TemplateFile != "", f.Values != nil} {
		if set {
			given = append(given, contentKeys[j])
		}
	}
	switch len(given) {
	case 0:
		add("%s: the file has no content; give one of value_from, template, template_file or [files.values]", at)
		return errs
	case 1:
	case 2:
		add("%s: %s and %s are both set; give only one of them", at, given[0], given[1])
		return errs
	default:
		add("%s: %s are all set; give only one of them", at, strings.Join(given, ", "))
		return errs
	}

	format := Format(f.Format)
	if format != "" && !slices.Contains(formats, format) {
		add("%s: format %q is not one of raw, json, dotenv, yaml, properties", at, f.Format)
		return errs
	}
	switch {
	case f.Values != nil:
		if format == Raw || format == "" && formatOf(f.Path) == "" {
			add("%s: [files.values] needs format = \"json\", \"dotenv\", \"yaml\" or \"properties\" (raw holds one value: use value_from)", at)
		}
		if len(f.Values) == 0 {
			add("%s: [files.values] is empty; give KEY = \"REFERENCE\" lines", at)
		}
		if format == "" {
			format = formatOf(f.Path)
		}
		for _, k := range f.valueKeys() {
			switch {
			case format == Dotenv && !sources.ValidEnvName(k):
				add("%s: values.%s: %q is not a variable name for a dotenv file (letters, digits, _; not starting with a digit)", at, k, k)
			case strings.TrimSpace(k) == "":
				add("%s: values: a key is empty or blank", at)
			}
			if err := checkRef(f.Values[k]); err != nil {
				add("%s: values.%s: %v", at, k, err)
			}
		}
	case format != "" && format != Raw:
		add("%s: format %q is for [files.values]; %s is written as is (format = \"raw\")", at, f.Format, given[0])
	case f.ValueFrom != "":
		if err := checkRef(f.ValueFrom); err != nil {
			add("%s: %v", at, err)
		}
	default:
		t, err := c.parseTemplate(f)
		if err == nil {
			_, err = templateRefs(t, c.Dir())
		}
		if err != nil {
			for _, e := range each(err) { // one problem a line
				add("%v (the template of %s)", e, at)
			}
			break
		}
		c.templates[i] = t
	}
	return errs.ErrorOrNil()
}

// each splits an errors.Join into its errors.
func each(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// maxTemplateSize bounds a template file: it is read whole at start-up.
const maxTemplateSize = 1 << 20

// parseTemplate parses an entry's inline template or template file. Errors
// name the template file, or the config file and line of an inline one.
func (c *Config) parseTemplate(f FileSpec) (*template.Template, error) {
	if f.Template != "" {
		return template.Parse(template.Input{Name: c.path, Text: f.Template,
			Line: f.layout.templateLine, Col: f.layout.templateCol})
	}
	name := f.TemplateFile
	if !filepath.IsAbs(name) {
		name = filepath.Join(c.Dir(), name)
	}
	if info, err := os.Stat(name); err == nil && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("template_file %s is not a regular file", name) // a FIFO would block
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("template_file: %w", err)
	}
	defer fh.Close()
	text, err := io.ReadAll(io.LimitReader(fh, maxTemplateSize+1))
	if err != nil {
		return nil, fmt.Errorf("template_file: %w", err)
	}
	if len(text) > maxTemplateSize {
		return nil, fmt.Errorf("template_file %s is larger than %d MiB", name, maxTemplateSize>>20)
	}
	return template.Parse(template.Input{Name: name, Text: string(text)})
}

// templateRefs maps each reference of a template to what is fetched for it:
// file: paths anchored at dir, secretPrevious turned into the previous
// version stage. A bad reference is an error at the call's position.
func templateRefs(t *template.Template, dir string) (map[template.Ref]sources.Ref, error) {
	refs := make(map[template.Ref]sources.Ref, len(t.Refs()))
	var errs []error
	reported := map[template.Ref]bool{}
	for _, u := range t.Uses() {
		if _, done := refs[u.Ref]; done || reported[u.Ref] {
			continue
		}
		ref, err := sources.Parse(u.Text)
		if err == nil && u.Previous {
			ref, err = previousVersion(ref)
		}
		if err != nil {
			reported[u.Ref] = true
			errs = append(errs, &template.Error{Name: t.Name(), Line: u.Line, Col: u.Col, Msg: err.Error()})
			continue
		}
		refs[u.Ref] = anchor(ref, dir)
	}
	return refs, errors.Join(errs...)
}

// previousVersion is the reference to the version before the current one of
// a Secrets Manager or KMS secret: AWSPREVIOUS or ACSPrevious. Its Raw is a
// reference of the grammar, so errors and tables show what is fetched.
func previousVersion(ref sources.Ref) (sources.Ref, error) {
	stage, scheme := "", ""
	switch ref.Backend {
	case sources.SecretsManager:
		stage, scheme = "AWSPREVIOUS", "sm:"
	case sources.KMS:
		stage, scheme = "ACSPrevious", "kms:"
	default:
		return sources.Ref{}, fmt.Errorf("secretPrevious %q: only Secrets Manager and KMS secrets keep a previous version (AWSPREVIOUS, ACSPrevious); %s has none, use secret", ref.Raw, ref.Backend)
	}
	if ref.Stage != "" || ref.VersionID != "" {
		return sources.Ref{}, fmt.Errorf("secretPrevious %q: the reference already names a version; secretPrevious chooses %s itself", ref.Raw, stage)
	}
	if ref.Partition != "" { // an ARN: ID holds all of it but the tail
		scheme = ""
	}
	return sources.Parse(scheme + ref.ID + ":" + ref.JSONKey + ":" + stage)
}

// valueKeys are the [files.values] keys in the order written, or sorted
// when the order is not known.
func (f FileSpec) valueKeys() []string {
	if len(f.layout.valueKeys) == len(f.Values) {
		return f.layout.valueKeys
	}
	keys := make([]string, 0, len(f.Values))
	for k := range f.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// filesRoot is files_root made absolute, or "".
func (c *Config) filesRoot() string {
	if c.FilesRoot == "" {
		return ""
	}
	return c.resolvePath(c.FilesRoot)
}

// hasDotDot reports whether a path still climbs with ".." once cleaned.
func hasDotDot(p string) bool {
	return slices.Contains(strings.Split(filepath.ToSlash(filepath.Clean(p)), "/"), "..")
}

// within reports whether path lies strictly inside dir; both are clean and
// absolute.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// newFile builds the File of the i-th [[files]] entry of a validated config.
func (c *Config) newFile(i int) File {
	f := c.Files[i]
	mode, _ := parseMode(f.Mode)
	file := File{Path: c.resolvePath(f.Path), Mode: mode, Root: c.filesRoot(), Format: Raw, Origin: c.entry("files", i), OnChange: Policy(f.OnChange)}
	if f.Owner != "" {
		file.Owner, _ = parseOwner(f.Owner)
	}
	switch {
	case f.ValueFrom != "":
		ref, _ := sources.Parse(f.ValueFrom)
		file.Ref = anchor(ref, c.Dir())
	case f.Values != nil:
		file.Format = Format(f.Format)
		if file.Format == "" {
			file.Format = formatOf(f.Path)
		}
		for _, k := range f.valueKeys() {
			ref, _ := sources.Parse(f.Values[k])
			file.Values = append(file.Values, FileValue{Key: k, Ref: anchor(ref, c.Dir())})
		}
	default:
		file.Template = c.templates[i]
		file.templateRefs, _ = templateRefs(file.Template, c.Dir())
	}
	return file
}

// Refs returns the references the file depends on, once each.
func (f *File) Refs() []sources.Ref {
	switch {
	case f.Template != nil:
		refs := make([]sources.Ref, 0, len(f.templateRefs))
		for _, r := range f.Template.Refs() {
			if ref := f.templateRefs[r]; !slices.Contains(refs, ref) {
				refs = append(refs, ref)
			}
		}
		return refs
	case f.Values != nil:
		var refs []sources.Ref
		for _, v := range f.Values {
			if !slices.Contains(refs, v.Ref) {
				refs = append(refs, v.Ref)
			}
		}
		return refs
	}
	return []sources.Ref{f.Ref}
}

// render computes the file's content from resolved values, all of which
// are present.
func (f *File) render(vals Values) ([]byte, error) {
	switch {
	case f.Template != nil:
		out, err := f.Template.Render(func(r template.Ref) ([]byte, error) {
			ref, ok := f.templateRefs[r]
			if !ok {
				return nil, fmt.Errorf("%v was not planned", r) // cannot happen: Parse collects every call
			}
			return vals[ref].Value.Data, nil
		})
		if err != nil {
			return nil, fmt.Errorf("%v (rendering %s for %s)", err, f.Path, f.Origin)
		}
		return out, nil
	case f.Values != nil:
		entries := make([]entry, len(f.Values))
		for i, v := range f.Values {
			entries[i] = entry{key: v.Key, value: vals[v.Ref].Value.Data, ref: v.Ref.Raw}
		}
		out, err := encode(f.Format, entries)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.Origin, f.Path, err)
		}
		return out, nil
	}
	return vals[f.Ref].Value.Data, nil
}

// Affected returns the part of the spec that reads any of the changed
// references: the env vars and files to refresh when those rotate. A
// reference is matched by the object it reads (Ref.Object), so a new
// version of sm:prod/db affects sm:prod/db:password and sm:prod/db:user
// alike. The watch loop re-renders and rewrites only these files; an
// affected env var means the child needs a restart.
func (s *Spec) Affected(changed []sources.Ref) *Spec {
	objects := make(map[sources.Ref]bool, len(changed))
	for _, r := range changed {
		objects[r.Object()] = true
	}
	reads := func(refs ...sources.Ref) bool {
		return slices.ContainsFunc(refs, func(r sources.Ref) bool { return objects[r.Object()] })
	}
	out := &Spec{}
	for _, e := range s.Env {
		if reads(e.Ref) {
			out.Env = append(out.Env, e)
		}
	}
	for _, f := range s.Files {
		if reads(f.Refs()...) {
			out.Files = append(out.Files, f)
		}
	}
	return out
}

// checkFileOwner tells, before anything is written, whether shroud may give
// a file to owner: root may; another user only keeps files as its own,
// with its own group or one it belongs to.
func checkFileOwner(o *Owner) error {
	euid := os.Geteuid()
	if o == nil || euid == 0 {
		return nil
	}
	if o.UID != euid {
		return fmt.Errorf("owner %s: shroud runs as uid %d and only root can give a file to another user; run shroud as root or remove owner", o, euid)
	}
	if o.GID == os.Getegid() {
		return nil
	}
	groups, _ := os.Getgroups()
	if !slices.Contains(groups, o.GID) {
		return fmt.Errorf("owner %s: shroud runs as uid %d, which is not in group %d; run shroud as root or remove owner", o, euid, o.GID)
	}
	return nil
}
