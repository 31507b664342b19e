package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
)

// Render resolves the references of every file of the config, renders the
// files and writes them (with dryRun, writes nothing). It says which files
// changed (or would), and lists every problem at once.
func Render(ctx context.Context, in config.Input, dryRun bool) (inject.Result, error) {
	cfg, err := config.Load(in)
	if err != nil {
		return inject.Result{}, err
	}
	plan := inject.NewPlan(cfg.FilesOnly())
	_, m, err := materialize(ctx, plan, newResolver(cfg))
	if err != nil {
		return inject.Result{}, err
	}
	res, err := inject.Write(m.Files, inject.WriteOptions{DryRun: dryRun})
	if dryRun {
		if err == nil {
			slog.Info("dry run: nothing written", "files", len(m.Files), "would_change", len(res.Changed))
		}
		return res, err
	}
	changed := res.Paths()
	for _, f := range m.Files {
		slog.Info("file rendered", "path", f.Path, "bytes", len(f.Data), "changed", slices.Contains(changed, f.Path))
	}
	return res, err
}

// Row is one line of check's table: a target, the reference it reads and
// where that was found. It never holds a value.
type Row struct {
	Target, Ref, Backend, Region, Version string
	OK                                    bool
}

// Check resolves every reference as run would, renders the files and
// checks where they would be written; it writes and runs nothing. It
// returns a row per target and reference (a file has one per reference it
// depends on), even when some failed, and every failure at once.
func Check(ctx context.Context, in config.Input) ([]Row, error) {
	cfg, err := config.Load(in)
	if err != nil {
		return nil, err
	}
	plan := inject.NewPlan(cfg)
	vals, err := plan.Resolve(ctx, newResolver(cfg))
	rows := table(plan, vals)
	m, merr := plan.Materialize(vals) // lists failed references too
	if merr != nil {
		return rows, merr
	}
	if err != nil {
		return rows, err
	}
	_, err = inject.Write(m.Files, inject.WriteOptions{DryRun: true}) // files_root, links, owner
	return rows, err
}

// table lists every target with where its value comes from.
func table(plan *inject.Plan, vals inject.Values) []Row {
	rows := []Row{}
	row := func(target string, ref sources.Ref) {
		res := vals[ref]
		r := Row{Target: target, Ref: ref.Raw, Backend: ref.Backend.String(), Region: res.Value.Region, Version: res.Value.Version, OK: res.Err == nil}
		var se *sources.Error
		if errors.As(res.Err, &se) {
			r.Region = se.Region
		}
		if r.Region == "" {
			r.Region = ref.Region
		}
		rows = append(rows, r)
	}
	for _, e := range plan.Env {
		row("env "+e.Name, e.Ref)
	}
	for _, f := range plan.Files {
		for _, ref := range f.Refs() {
			row("file "+f.Path, ref)
		}
	}
	if plan.Log != nil {
		for _, o := range plan.Log.Secrets {
			row("log "+o.Name, o.Ref)
		}
	}
	for _, e := range plan.EnvFrom {
		row("env_from "+e.Prefix+"*", e.Ref)
	}
	return rows
}

// Get resolves one reference as run would with the same config and
// returns its value, byte for byte.
func Get(ctx context.Context, in config.Input, ref string) ([]byte, error) {
	cfg, err := config.Load(in)
	if err != nil {
		return nil, err
	}
	r, err := sources.Parse(ref)
	if err != nil {
		return nil, err
	}
	res, err := newResolver(cfg).Resolve(ctx, []sources.Ref{r})
	if err != nil {
		return nil, err
	}
	return res[0].Value.Data, nil
}
