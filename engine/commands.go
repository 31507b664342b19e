package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/policy"
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
	resolver := newResolver(cfg)
	plan := newPlan(cfg.FilesOnly(), resolver)
	_, m, err := materialize(ctx, plan, resolver)
	if err != nil {
		return inject.Result{}, err
	}
	res, err := write(m.Files, inject.WriteOptions{DryRun: dryRun})
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

// write writes files as inject.Write does, and warns of each directory
// that every user may write to without the sticky bit: anyone there can
// replace what shroud writes. It warns rather than refuses, since a
// Kubernetes emptyDir is such a directory (0777), shared by the pod's
// containers.
func write(files []inject.Rendered, opt inject.WriteOptions) (inject.Result, error) {
	res, err := inject.Write(files, opt)
	for _, dir := range res.Exposed {
		slog.Warn("secret files go in a directory every user may write to, without the sticky bit: any local user can replace them; chmod o-w or +t it, or write into a subdirectory",
			"dir", dir)
	}
	return res, err
}

// Row is one line of check's table: a target, the reference it reads and
// where that was found. It never holds a value.
type Row struct {
	Target, Ref, Backend, Region, Version string
	OK                                    bool
}

// CheckResult is what check found: a row per target and reference (a file
// has one per reference it depends on), and with permissions the missing
// permission behind every refused call.
type CheckResult struct {
	Rows    []Row
	Denials []policy.Denial
}

// Check resolves every reference as run would, renders the files and
// checks where they would be written; it writes and runs nothing. With
// permissions it also polls versions as rotation would and names what
// every refused call lacked. The rows come even when some failed, with
// every failure at once.
func Check(ctx context.Context, in config.Input, permissions bool) (CheckResult, error) {
	cfg, err := config.Load(in)
	if err != nil {
		return CheckResult{}, err
	}
	resolver := newResolver(cfg)
	plan := newPlan(cfg, resolver)
	vals, err := plan.Resolve(ctx, resolver)
	res := CheckResult{Rows: table(plan, vals)}
	if permissions {
		res.Denials = denials(ctx, cfg, plan, resolver, err)
	}
	m, merr := plan.Materialize(vals) // lists failed references too
	switch {
	case merr != nil:
		return res, merr
	case err != nil:
		return res, err
	}
	if _, err := write(m.Files, inject.WriteOptions{DryRun: true}); err != nil { // files_root, links, owner
		return res, err
	}
	if len(res.Denials) > 0 {
		return res, errors.New("calls were refused: see the missing permissions above")
	}
	return res, nil
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
