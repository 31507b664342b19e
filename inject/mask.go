package inject

import (
	"bytes"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/template"
)

// What the log pipeline masks of a materialization (logdriver.Config's
// MaskValues and MaskForms):
//
//   - every resolved value, but those of references that take a public
//     member of a JSON object or file (sm:prod/db:host, file:app.env#DB_USER:
//     see logdriver.PublicField); logdriver adds a whole JSON object's
//     members, public ones aside, and the encoded forms mask_encodings names;
//   - what the files made of secret values (forms): every text a template
//     function computed from a secret value (urlEncode, squote, indent,
//     printf...; a public member taken with json or jsonPath, and what is
//     made of it, is not secret), and each secret value as a file format
//     wrote it (quoted, escaped);
//   - the lines of a rendered file that hold a secret text made from a
//     secret shorter than mask_min_length, whole (a line "pin = 1234"):
//     such a text is not masked alone, as it would mask ordinary text
//     (nor is "'1234'", which squote makes of it), but the line it sits in
//     is as particular as a long value. A line whose secret texts are long
//     enough is not masked whole: they are masked wherever they appear, and
//     masking the whole line would only hide the rest of it
//     ("password: *****" is as safe as "*****", and says more).

// maskValues returns the resolved values of vals the log pipeline masks.
func maskValues(vals Values) [][]byte {
	data := make([][]byte, 0, len(vals))
	for ref, res := range vals {
		if res.Err == nil && !logdriver.PublicField(ref.JSONKey) {
			data = append(data, res.Value.Data)
		}
	}
	return data
}

// forms collects what the files of one materialization made of secret
// values; a nil *forms collects nothing (masking is off).
type forms struct {
	min  int // mask_min_length
	list [][]byte
	// short holds the secret texts of templates made from secrets shorter
	// than min: masked only in their lines.
	short map[string]bool
}

func newForms(log *config.Log) *forms {
	if log == nil || !log.Mask {
		return nil
	}
	return &forms{min: log.MaskOpt.MinLen(), short: map[string]bool{}}
}

// part is where a rendered file holds a secret text, and whether the
// secret behind it is shorter than mask_min_length.
type part struct {
	template.Span
	short bool
}

// templateSecret is the RenderInput.Secret of f's template: it declines
// the value of a reference with a public JSON key and a public member
// taken with json or jsonPath, and keeps every other text computed from a
// secret value, as a form when the secret behind it is long enough.
func (fs *forms) templateSecret(f *config.File) func(template.Derived) bool {
	return func(d template.Derived) bool {
		switch d.Func {
		case "secret", "secretPrevious":
			if logdriver.PublicField(f.TemplateRefs[d.Ref].JSONKey) {
				return false
			}
		case "json", "jsonPath":
			if logdriver.PublicField(d.Key) {
				return false
			}
		}
		switch {
		case d.Source < fs.min:
			fs.short[d.Text] = true
		case d.Func != "secret" && d.Func != "secretPrevious": // a value is masked as one
			fs.list = append(fs.list, []byte(d.Text))
		}
		return true
	}
}

// templateParts are the parts of a template's output.
func (fs *forms) templateParts(out template.Output) []part {
	parts := make([]part, len(out.Secret))
	for i, s := range out.Secret {
		parts[i] = part{s, fs.short[string(out.Text[s.Start:s.End])]}
	}
	return parts
}

// formatParts are the parts of a file of f.Values written by encodeSpans:
// the values whose references are masked, as the format wrote them.
func (fs *forms) formatParts(f *config.File, entries []entry, spans []template.Span) []part {
	var parts []part
	for i, v := range f.Values {
		if !logdriver.PublicField(v.Ref.JSONKey) {
			parts = append(parts, part{spans[i], len(bytes.TrimSpace(entries[i].value)) < fs.min})
		}
	}
	return parts
}

// file adds what a rendered file holds of secret texts: each as it is
// written there, and for one whose secret is too short to be masked
// alone, the whole line that holds it.
func (fs *forms) file(data []byte, parts []part) {
	for _, p := range parts {
		if !p.short {
			fs.list = append(fs.list, data[p.Start:p.End])
			continue
		}
		start := bytes.LastIndexByte(data[:p.Start], '\n') + 1
		end := len(data)
		if i := bytes.IndexByte(data[p.End:], '\n'); i >= 0 {
			end = p.End + i
		}
		if line := data[start:end]; len(bytes.TrimSpace(line)) >= fs.min {
			fs.list = append(fs.list, line)
		}
	}
}
