// Package engine runs shroud's commands: it assembles the pipeline
// (config → plan → resolve → materialize → write → child → watch) and
// chooses between the exec fast path and supervision. cmd/shroud turns
// flags into its inputs and its results into exit statuses.
package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/shroud-dev/shroud/admin"
	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/watch"
)

// RunInput configures Run.
type RunInput struct {
	Config config.Input
	// Argv is the command to run.
	Argv []string
	// Supervise keeps shroud the child's parent, as an init; SignalGroup
	// also sends signals to the child's process group. Exec forces the
	// fast path even where shroud would supervise by default (as PID 1).
	Supervise, SignalGroup, Exec bool
	// Admin is the admin listener (--listen), if any.
	Admin  admin.Options
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Run resolves every reference, writes the files and runs the command with
// the bound environment: by replacing shroud with it (the fast path), or
// supervised, keeping its secrets current as the config's [rotation] says.
// It returns the status shroud exits with and what to report, if anything:
// the child's status, or child.ExitFailure (and why) when shroud failed
// before the child started.
func Run(ctx context.Context, in RunInput) (int, error) {
	if len(in.Argv) == 0 {
		return child.ExitFailure, config.Usagef("no command to run: give one after --, e.g. shroud run --config shroud.toml -- ./server")
	}
	p, err := prepare(ctx, in)
	if err != nil {
		return child.ExitFailure, err
	}
	if !p.supervised(in) {
		err := child.Exec(in.Argv, p.env)
		return child.ExitCode(err), err
	}
	return p.supervise(ctx, in)
}

// prepared is what a run has once its files are written: everything the
// child needs.
type prepared struct {
	plan     *inject.Plan
	resolver *sources.Resolver
	vals     inject.Values
	m        *inject.Materialized
	env      []string
	logs     *logdriver.Pipeline
	rotating bool
}

// prepare loads the config, resolves, writes the files and starts the log
// pipeline; every failure happens before the child starts.
func prepare(ctx context.Context, in RunInput) (*prepared, error) {
	cfg, err := config.Load(in.Config)
	if err != nil {
		return nil, err
	}
	p := &prepared{resolver: newResolver(cfg)}
	p.plan = newPlan(cfg, p.resolver)
	if in.Admin.Listen != "" { // checked before anything is written
		if _, err := admin.ParseAddress(in.Admin.Listen); err != nil {
			return nil, err
		}
	}
	if p.vals, p.m, err = materialize(ctx, p.plan, p.resolver); err != nil {
		return nil, err
	}
	if _, err := write(p.m.Files, inject.WriteOptions{}); err != nil {
		return nil, err
	}
	p.env = p.m.Environ(in.Config.Environ)
	// The log pipeline connects its driver now, so a bad address fails
	// before the child starts. With driver none and no masking it is
	// Direct: the child inherits shroud's stdout and stderr.
	p.logs, err = logdriver.New(logdriver.Input{
		Config: *p.m.Log,
		Info: logdriver.Info{Name: filepath.Base(in.Argv[0]), Command: strings.Join(in.Argv, " "),
			Env: p.m.PlainEnv(in.Config.Environ)},
	})
	if err != nil {
		return nil, err
	}
	p.rotating = cfg.Rotation.Enabled && p.plan.Watched()
	return p, nil
}

// supervised reports whether run must stay the child's parent rather than
// replace itself with it (the fast path): when asked to, as PID 1 (a
// container's entrypoint, whose child must get signals and have its
// zombies reaped) unless --exec says otherwise, and for each feature that
// needs shroud alive while the child runs: rotation, the admin listener,
// and a log pipeline that carries the child's output (a driver, masking).
func (p *prepared) supervised(in RunInput) bool {
	pid1 := os.Getpid() == 1 && !in.Exec
	return in.Supervise || in.SignalGroup || pid1 || in.Admin.Listen != "" || p.rotating || !p.logs.Direct()
}

// supervise runs the child as its parent until it ends, keeping its
// secrets current when rotation is on.
func (p *prepared) supervise(ctx context.Context, in RunInput) (int, error) {
	adm, err := admin.Start(in.Admin, nil)
	if err != nil {
		p.logs.Close()
		return child.ExitFailure, err
	}
	defer adm.Close()
	rot := p.plan.Rotation
	s, err := child.New(child.Input{
		Argv: in.Argv, Env: p.env,
		Stdin: in.Stdin, Stdout: p.logs.Stdout(), Stderr: p.logs.Stderr(),
		SignalGroup: in.SignalGroup, StopSignal: rot.StopSignal, StopTimeout: rot.StopTimeout,
		Log: slog.Default(),
	})
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		p.logs.Close()
		return child.ExitCode(err), err
	}
	var refresh <-chan struct{}
	if p.rotating { // POST /refresh is served from now on: before ready
		refresh = adm.Refreshes()
	}
	adm.SetReady()
	settle()
	exitRotated := false
	if p.rotating {
		exitRotated = p.watch(ctx, in, s, adm, refresh)
	}
	code, err := s.Wait()
	if cerr := p.logs.Close(); cerr != nil {
		slog.Error("log delivery incomplete", "error", cerr) // the child's status still stands
	}
	inject.RetireAll(p.m.Files) // old values do not outlive the run
	if err != nil {
		return code, err // a crash loop given up
	}
	if exitRotated {
		code = child.ExitRotated // the orchestrator starts us again with the new values
	}
	return code, nil
}

// watch keeps the child's secrets current until the child ends, or until
// a rotation runs the exit policy, which stops the child: it then reports
// true. It returns once the watch loop has, so no write is under way.
func (p *prepared) watch(ctx context.Context, in RunInput, s *child.Supervisor, adm *admin.Server, refresh <-chan struct{}) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan error, 1)
	go func() {
		watched <- watch.Watch(ctx, watch.Input{
			Plan: p.plan, Resolver: p.resolver, Values: p.vals, Current: p.m,
			Notifier: s, Environ: in.Config.Environ,
			Refresh: refresh, Events: adm.Events(), Log: slog.Default(),
			// Rotated secrets stay masked, old and new, and so does what
			// the files made of them.
			OnValues: func(m *inject.Materialized) {
				p.logs.AddMask(m.Log.MaskValues)
				p.logs.AddMaskForms(m.Log.MaskForms)
			},
		})
	}()
	select {
	case <-s.Done():
		cancel()
		<-watched
		return false
	case err := <-watched:
		if errors.Is(err, watch.ErrExit) {
			s.Stop()
			return true
		}
		slog.Error("the watch loop stopped: secrets are no longer kept current", "error", err)
		return false
	}
}

// materialize resolves the plan and computes env values and file contents.
// Materialize reports failed references along with template and other
// problems, so one run lists them all.
func materialize(ctx context.Context, plan *inject.Plan, r *sources.Resolver) (inject.Values, *inject.Materialized, error) {
	vals, err := plan.Resolve(ctx, r)
	slog.Debug("resolved", "references", len(vals))
	m, merr := plan.Materialize(vals)
	if merr != nil {
		return nil, nil, merr
	}
	return vals, m, err
}
