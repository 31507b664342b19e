package logdriver

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// DefaultTag names the child's command, as logger(1) names its program.
// (Docker's default, {{.ID}}, is a container id shroud does not have.)
const DefaultTag = "{{.Name}}"

// Info describes the child for tag templates and record fields, with the
// names of Docker's log tag template ({{.ID}}, {{.Name}}, ...).
type Info struct {
	// FullID identifies the container or host; ID is its first 12
	// characters. Default: the hostname (a container's id in Docker and
	// ECS, the pod's name in Kubernetes).
	FullID string
	// Name is the child's name; default: its command's base name.
	Name string
	// Command is the child's command line (never holds a secret: shroud
	// puts secrets in env and files, not argv).
	Command   string
	ImageName string
	ImageID   string
	Hostname  string
	// Env is what the env and env-regex options pick extra record fields
	// from: the child's plain environment, without the variables bound to
	// secrets (a secret that shows up anyway is masked).
	Env map[string]string
}

// tagData is what a tag template sees.
type tagData struct {
	ID, FullID, Name, Command, ImageName, ImageID, ImageFullID, Hostname, DaemonName string
}

func (i Info) tagData() tagData {
	id := i.FullID
	if len(id) > 12 {
		id = id[:12]
	}
	imageID := i.ImageID
	if len(imageID) > 12 {
		imageID = imageID[:12]
	}
	return tagData{ID: id, FullID: i.FullID, Name: i.Name, Command: i.Command, ImageName: i.ImageName,
		ImageID: imageID, ImageFullID: i.ImageID, Hostname: i.Hostname, DaemonName: "shroud"}
}

type tagTemplate struct{ t *template.Template }

// tagFuncs are the functions of Docker's log tag templates.
var tagFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"split": strings.Split,
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": func(s string, n int) string { return s[:min(n, len(s))] },
}

func parseTag(text string) (tagTemplate, error) {
	t, err := template.New("tag").Funcs(tagFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return tagTemplate{}, err
	}
	// Execute once on empty data, so a field that does not exist is an error
	// now and not at start-up.
	if err := t.Execute(new(strings.Builder), tagData{}); err != nil {
		return tagTemplate{}, err
	}
	return tagTemplate{t}, nil
}

func (t tagTemplate) render(info Info) string {
	if t.t == nil {
		return ""
	}
	var b strings.Builder
	t.t.Execute(&b, info.tagData())
	return b.String()
}

// attrSelector picks extra record fields from the environment, as Docker's
// env and env-regex options do. Docker's labels and labels-regex pick from
// the container's labels, which shroud does not have: they are refused, so
// that a logConfiguration using them does not silently lose fields.
type attrSelector struct {
	env      []string
	envRegex *regexp.Regexp
}

func parseAttrs(r *optReader) attrSelector {
	var a attrSelector
	list := func(name string) []string {
		var out []string
		for _, s := range strings.Split(r.str(name, ""), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	re := func(name string) *regexp.Regexp {
		v, ok := r.value(name)
		if !ok {
			return nil
		}
		x, err := regexp.Compile(v)
		if err != nil {
			r.fail(name, "not a regular expression: %v", err)
		}
		return x
	}
	for _, name := range []string{"labels", "labels-regex"} {
		if r.has(name) {
			r.fail(name, "not supported: shroud has no container labels to pick from; remove the option (env and env-regex pick fields from the child's environment)")
		}
	}
	a.env, a.envRegex = list("env"), re("env-regex")
	return a
}

// pick returns the selected fields; nil when there are none.
func (a attrSelector) pick(info Info) map[string]string {
	out := map[string]string{}
	for k, v := range info.Env {
		if slices.Contains(a.env, k) || a.envRegex != nil && a.envRegex.MatchString(k) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
