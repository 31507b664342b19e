package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/shroud-dev/shroud/internal/bounded"
	"github.com/shroud-dev/shroud/internal/paths"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/template"
)

// rawFileOut is one [[files]] entry as written. Its content comes from one
// of ValueFrom (the raw value), Template, TemplateFile, or Values written in
// Format.
type rawFileOut struct {
	Path         string            `toml:"path"`
	ValueFrom    string            `toml:"value_from"`
	Template     string            `toml:"template"`
	TemplateFile string            `toml:"template_file"`
	Format       string            `toml:"format"`
	Values       map[string]string `toml:"values"`
	// Mode is octal text such as "0400", the default.
	Mode modeText `toml:"mode"`
	// Owner is "UID:GID".
	Owner string `toml:"owner"`
	// OnChange overrides [rotation] on_change for this file.
	OnChange string `toml:"on_change"`
}

// File is one file to write: a raw value (Ref), values collected in a
// Format, or a Template's output.
type File struct {
	// Path is absolute.
	Path string
	Mode fs.FileMode
	// Owner is nil to leave the file to the user shroud runs as.
	Owner *Owner
	// Root is files_root: when set, Path lies inside it.
	Root string
	// Ref is the reference whose raw value is the file (value_from).
	Ref sources.Ref
	// Values are the KEY = REF pairs written in Format, in the order
	// written.
	Values []FileValue
	Format Format
	// Template renders the file; TemplateRefs maps its references to what
	// is fetched for them.
	Template     *template.Template
	TemplateRefs map[template.Ref]sources.Ref
	Origin       string
	// OnChange is the file's own policy on change; empty follows
	// [rotation] on_change.
	OnChange Policy
}

// Refs returns the references the file depends on, once each, in the order
// its content reads them.
func (f *File) Refs() []sources.Ref {
	var refs []sources.Ref
	add := func(r sources.Ref) {
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	switch {
	case f.Template != nil:
		for _, r := range f.Template.Refs() {
			add(f.TemplateRefs[r])
		}
	case f.Values != nil:
		for _, v := range f.Values {
			add(v.Ref)
		}
	default:
		add(f.Ref)
	}
	return refs
}

// FileValue is one KEY = REF of [files.values].
type FileValue struct {
	Key string
	Ref sources.Ref
}

// Owner is the numeric user and group a file is given.
type Owner struct{ UID, GID int }

func (o Owner) String() string { return fmt.Sprintf("%d:%d", o.UID, o.GID) }

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

// DefaultFileMode keeps a secret file readable by its owner only.
const DefaultFileMode = 0o400

// A [[files]] entry's content comes from exactly one of these keys.
var contentKeys = []string{"value_from", "template", "template_file", "[files.values]"}

// files checks files_root and every [[files]] entry, and returns the files.
func (b *builder) files(raw *rawFile, md toml.MetaData) []File {
	root := ""
	if raw.FilesRoot != "" {
		root = b.resolvePath(raw.FilesRoot)
		if paths.HasDotDot(raw.FilesRoot) {
			b.add("%s: files_root %q holds \"..\"; write the directory without it", b.path, raw.FilesRoot)
		}
	}
	order := valueKeyOrder(md, len(raw.Files))
	starts := b.lines["files"]
	var out []File
	written := map[string]string{}
	for i, f := range raw.Files {
		at := b.entry("files", i)
		file := File{Path: b.resolvePath(f.Path), Mode: b.fileMode(string(f.Mode), at), Root: root, Format: Raw, Origin: at}
		b.filePlace(f, file.Path, root, at, written)
		if f.Owner != "" {
			owner, err := parseOwner(f.Owner)
			if err != nil {
				b.add("%s: %v", at, err)
			}
			file.Owner = owner
		}
		if f.OnChange != "" {
			file.OnChange = b.policy(f.OnChange, at+":")
		}
		header := 0
		if i < len(starts) {
			header = starts[i]
		}
		b.fileContent(f, &file, order[i], header, at)
		out = append(out, file) // with a problem, the whole config is refused
	}
	return out
}

// filePlace checks an entry's path; written maps the paths seen to their
// entries.
func (b *builder) filePlace(f rawFileOut, abs, root, at string, written map[string]string) {
	if f.Path == "" {
		b.add("%s: path is empty; give the file to write", at)
		return
	}
	switch {
	case paths.HasDotDot(f.Path):
		b.add("%s: path %q holds \"..\"; write the path without it", at, f.Path)
	case strings.HasPrefix(filepath.Base(abs), ".."):
		b.add("%s: path %q: names starting with \"..\" are reserved for the layout that switches a directory's files at once (..data); choose another name", at, f.Path)
	case root != "" && !paths.Within(root, abs):
		b.add("%s: path %s is outside files_root %s; files may only be written inside it", at, abs, root)
	}
	if prev, dup := written[abs]; dup {
		b.add("%s: %s is already written by the file at %s; give each file one source", at, f.Path, prev)
	} else {
		written[abs] = at
	}
}

// modeText is a file mode as the config writes it: octal text. A TOML
// integer is refused (syntaxError adds the fix): mode = 400 would be four
// hundred, not the octal 0400 it looks like.
type modeText string

func (m *modeText) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*m = modeText(v)
		return nil
	case int64:
		return fmt.Errorf("mode is the number %d, not octal text", v)
	}
	return fmt.Errorf("mode is a %T, not octal text", v)
}

// modeHint is the fix for a mode written as a TOML value other than a
// string, from the text of its line: the same digits, quoted.
func modeHint(line string) string {
	key, value, _ := strings.Cut(line, "=")
	if strings.TrimSpace(key) != "mode" {
		return ""
	}
	value, _, _ = strings.Cut(value, "#")
	digits := strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(value), "0o"), "0")
	quoted := `"0400"`
	if digits != "" && len(digits) <= 3 && strings.Trim(digits, "01234567") == "" {
		quoted = `"0` + strings.Repeat("0", 3-len(digits)) + digits + `"`
	}
	return "; write the mode as a quoted string: mode = " + quoted
}

// fileMode reads an octal permission such as "0400"; empty means the
// default.
func (b *builder) fileMode(s, at string) fs.FileMode {
	if s == "" {
		return DefaultFileMode
	}
	n, err := strconv.ParseUint(s, 8, 32)
	switch {
	case err != nil || n > 0o777:
		b.add("%s: mode %q is not an octal permission like \"0400\" (0000 to 0777)", at, s)
	case n&0o400 == 0:
		b.add("%s: mode %q does not let the owner read the file; use \"0400\" or \"0440\"", at, s)
	}
	return fs.FileMode(n) & fs.ModePerm
}

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

// fileContent checks that an entry has one source of content and that its
// references, format and template are sound, and fills file's content.
func (b *builder) fileContent(f rawFileOut, file *File, valueKeys []string, header int, at string) {
	var given []string
	for j, set := range []bool{f.ValueFrom != "", f.Template != "", f.TemplateFile != "", f.Values != nil} {
		if set {
			given = append(given, contentKeys[j])
		}
	}
	switch len(given) {
	case 0:
		b.add("%s: the file has no content; give one of value_from, template, template_file or [files.values]", at)
		return
	case 1:
	case 2:
		b.add("%s: %s and %s are both set; give only one of them", at, given[0], given[1])
		return
	default:
		b.add("%s: %s are all set; give only one of them", at, strings.Join(given, ", "))
		return
	}
	format := Format(f.Format)
	if format != "" && !slices.Contains(formats, format) {
		b.add("%s: format %q is not one of raw, json, dotenv, yaml, properties", at, f.Format)
		return
	}
	switch {
	case f.Values != nil:
		b.fileValues(f, file, format, valueKeys, at)
	case format != "" && format != Raw:
		b.add("%s: format %q is for [files.values]; %s is written as is (format = \"raw\")", at, f.Format, given[0])
	case f.ValueFrom != "":
		ref, err := b.ref(f.ValueFrom)
		if err != nil {
			b.add("%s: %v", at, err)
		}
		file.Ref = ref
	default:
		b.fileTemplate(f, file, header, at)
	}
}

// fileValues checks [files.values] and fills file's Values in the order
// written.
func (b *builder) fileValues(f rawFileOut, file *File, format Format, keys []string, at string) {
	if format == Raw || format == "" && formatOf(f.Path) == "" {
		b.add("%s: [files.values] needs format = \"json\", \"dotenv\", \"yaml\" or \"properties\" (raw holds one value: use value_from)", at)
	}
	if len(f.Values) == 0 {
		b.add("%s: [files.values] is empty; give KEY = \"REFERENCE\" lines", at)
	}
	if format == "" {
		format = formatOf(f.Path)
	}
	file.Format = format
	if len(keys) != len(f.Values) { // the order is not known: sorted
		keys = slices.Sorted(func(yield func(string) bool) {
			for k := range f.Values {
				if !yield(k) {
					return
				}
			}
		})
	}
	for _, k := range keys {
		switch {
		case format == Dotenv && !sources.ValidEnvName(k):
			b.add("%s: values.%s: %q is not a variable name for a dotenv file (letters, digits, _; not starting with a digit)", at, k, k)
		case strings.TrimSpace(k) == "":
			b.add("%s: values: a key is empty or blank", at)
		}
		ref, err := b.ref(f.Values[k])
		if err != nil {
			b.add("%s: values.%s: %v", at, k, err)
			continue
		}
		file.Values = append(file.Values, FileValue{Key: k, Ref: ref})
	}
}

// valueKeyOrder returns, for each of n [[files]] entries, its
// [files.values] keys in the order written (md.Keys lists keys as written;
// each [[files]] entry starts with the key "files").
func valueKeyOrder(md toml.MetaData, n int) [][]string {
	order := make([][]string, n)
	i := -1
	for _, key := range md.Keys() {
		switch {
		case len(key) == 1 && key[0] == "files":
			i++
		case len(key) == 3 && key[0] == "files" && key[1] == "values" && i >= 0 && i < n:
			order[i] = append(order[i], key[2])
		}
	}
	return order
}

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

// fileTemplate parses an entry's template and maps its references.
func (b *builder) fileTemplate(f rawFileOut, file *File, header int, at string) {
	t, err := b.parseTemplate(f, header)
	var refs map[template.Ref]sources.Ref
	if err == nil {
		refs, err = templateRefs(t, b.dir)
	}
	if err != nil {
		for _, e := range each(err) { // one problem a line
			b.add("%v (the template of %s)", e, at)
		}
		return
	}
	file.Template, file.TemplateRefs = t, refs
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
// name the template file, or the config file and line of an inline one;
// header is the line of the entry's [[files]].
func (b *builder) parseTemplate(f rawFileOut, header int) (*template.Template, error) {
	if f.Template != "" {
		line, col := 0, 0
		if header > 0 {
			line, col = templateStart(strings.Split(string(b.data), "\n"), b.structure, header)
		}
		return template.Parse(template.Input{Name: b.path, Text: f.Template, Line: line, Col: col})
	}
	name := f.TemplateFile
	if !filepath.IsAbs(name) {
		name = filepath.Join(b.dir, name)
	}
	text, _, err := bounded.ReadFile(name, maxTemplateSize)
	if err != nil {
		return nil, fmt.Errorf("template_file: %w", err)
	}
	return template.Parse(template.Input{Name: name, Text: string(text)})
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
			ref, err = ref.Previous()
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
