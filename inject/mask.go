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
//   - the lines of a rendered file that hold a secret text shorter than
//     mask_min_length, whole (a line "pin = 1234"): such a text is not
//     masked alone, as it would mask ordinary text, but the line it sits in
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
}

func newForms(log *config.Log) *forms {
	if log == nil || !log.Mask {
		return nil
	}
	return &forms{min: log.MaskOpt.MinLen()}
}

// templateSecret is the RenderInput.Secret of f's template: it declines
// the value of a reference with a public JSON key and a public member
// taken with json or jsonPath, and keeps every other text computed from a
// secret value.
func (fs *forms) templateSecret(f *config.File) func(template.Derived) bool {
	return func(d template.Derived) bool {
		switch d.Func {
		case "secret", "secretPrevious":
			return !logdriver.PublicField(f.TemplateRefs[d.Ref].JSONKey) // a value: masked as one
		case "json", "jsonPath":
			if logdriver.PublicField(d.Key) {
				return false
			}
		}
		fs.list = append(fs.list, []byte(d.Text))
		return true
	}
}

// file adds what a rendered file holds of secret texts, at spans: each as
// it is written there, and each line that holds one too short to be
// masked alone.
func (fs *forms) file(data []byte, spans []template.Span) {
	for _, s := range spans {
		text := data[s.Start:s.End]
		fs.list = append(fs.list, text)
		if len(bytes.TrimSpace(text)) >= fs.min {
			continue
		}
		start := bytes.LastIndexByte(data[:s.Start], '\n') + 1
		end := len(data)
		if i := bytes.IndexByte(data[s.End:], '\n'); i >= 0 {
			end = s.End + i
		}
		if line := data[start:end]; len(bytes.TrimSpace(line)) >= fs.min {
			fs.list = append(fs.list, line)
		}
	}
}
