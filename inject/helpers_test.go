package inject

import (
	"io/fs"
	"testing"

	"github.com/shroud-dev/shroud/config"
)

// parse parses config text as the file /etc/shroud/shroud.toml.
func parse(t testing.TB, text string) (*config.Config, error) {
	t.Helper()
	return config.ParseFile("/etc/shroud/shroud.toml", []byte(text))
}

// plan plans the config of in, as a command does.
func plan(t testing.TB, in config.Input) (*Plan, error) {
	t.Helper()
	cfg, err := config.Load(in)
	if err != nil {
		return nil, err
	}
	return NewPlan(cfg), nil
}

// writeFile writes one file alone, as Write does, and says whether it
// changed.
func writeFile(path string, data []byte, mode fs.FileMode) (changed bool, err error) {
	return writeOne(Rendered{Path: path, Mode: mode, Data: data})
}

// writeOne writes r alone, as Write does, and says whether it changed.
func writeOne(r Rendered) (changed bool, err error) {
	res, err := Write([]Rendered{r}, WriteOptions{})
	return len(res.Changed) > 0, err
}

// writeAll writes m's files and returns the paths that changed.
func writeAll(m *Materialized) ([]string, error) {
	res, err := Write(m.Files, WriteOptions{})
	return res.Paths(), err
}
