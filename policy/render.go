package policy

import (
	"io"
	"strings"
)

// width is where notes wrap.
const width = 78

// Render writes documents as shroud policy prints them: for each, its title,
// the command that attaches it and its notes as # lines, then its JSON,
// ready to paste.
func Render(w io.Writer, docs []Document) error {
	var b strings.Builder
	if len(docs) == 0 {
		b.WriteString("# Nothing to grant: no reference reads AWS or Alibaba Cloud.\n")
	}
	for i, d := range docs {
		if i > 0 {
			b.WriteString("\n")
		}
		comment(&b, "", d.Title)
		if d.Attach != "" {
			b.WriteString("# $ " + d.Attach + "\n") // never wrapped: it is pasted
		}
		for _, n := range d.Notes {
			comment(&b, "- ", n)
		}
		b.WriteString(d.Policy.JSON())
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// comment writes text as # lines wrapped at width, the first one after
// bullet, the others indented under it.
func comment(b *strings.Builder, bullet, text string) {
	line := "# " + bullet
	indent := "# " + strings.Repeat(" ", len(bullet))
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}
