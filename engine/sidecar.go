package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/admin"
	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/backoff"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/watch"
)

// SidecarInput configures Sidecar.
type SidecarInput struct {
	Config config.Input
	// Admin is the admin listener (--listen), if any.
	Admin admin.Options
	// Notify says how the application is told of a change.
	Notify watch.AppOptions
}

// Sidecar writes the config's files, keeps them current and notifies the
// application of every change, until ctx ends or SIGTERM or SIGINT comes.
// It returns the status shroud exits with and what to report, if anything.
func Sidecar(ctx context.Context, in SidecarInput) (int, error) {
	if err := in.Notify.Check(); err != nil { // the flags first: nothing read yet
		return child.ExitUsage, err
	}
	cfg, err := config.Load(in.Config)
	if err != nil {
		return child.ExitProblems, err
	}
	if len(cfg.Env) > 0 || len(cfg.EnvFrom) > 0 {
		slog.Warn("[[secrets]] and [[env_from]] bindings are ignored by shroud sidecar: there is no child to give env vars to",
			"count", len(cfg.Env)+len(cfg.EnvFrom))
	}
	resolver := newResolver(cfg)
	plan := newPlan(cfg.FilesOnly(), resolver)
	var metrics *admin.Metrics
	in.Notify.Events = watch.NoEvents{}
	if in.Admin.Listen != "" {
		metrics = admin.NewMetrics(in.Admin.Version)
		in.Notify.Events = metrics
	}
	in.Notify.DefaultSignal, in.Notify.Log = cfg.Rotation.Signal, slog.Default()
	n, err := watch.NewAppNotifier(in.Notify)
	if err != nil {
		return child.ExitUsage, err
	}
	adm, err := admin.Start(in.Admin, metrics)
	if err != nil {
		return child.ExitProblems, err
	}
	defer adm.Close()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	vals, m, err := firstRender(ctx, plan, resolver)
	if err != nil {
		return child.ExitProblems, err
	}
	refresh := adm.Refreshes() // served from now on: before ready
	adm.SetReady()
	slog.Info("files rendered: ready", "files", len(m.Files))
	settle()

	// Keeping files fresh is what a sidecar is for: it watches whether or
	// not the config has a [rotation] table.
	err = watch.Watch(ctx, watch.Input{
		Plan: plan, Resolver: resolver, Values: vals, Current: m, Notifier: n,
		Refresh: refresh, Events: adm.Events(), Log: slog.Default(),
	})
	inject.RetireAll(m.Files) // old values do not outlive the sidecar
	switch {
	case errors.Is(err, watch.ErrExit):
		return child.ExitRotated, nil
	case ctx.Err() != nil:
		slog.Info("stopping")
		return 0, nil
	}
	return child.ExitProblems, err
}

// firstRender resolves and writes every file, retrying until it succeeds,
// since the application waits for it (/readyz) and a backend may come up
// after the pod.
func firstRender(ctx context.Context, plan *inject.Plan, r *sources.Resolver) (inject.Values, *inject.Materialized, error) {
	for attempt := 1; ; attempt++ {
		vals, m, err := materialize(ctx, plan, r)
		if err == nil {
			_, err = write(m.Files, inject.WriteOptions{})
		}
		if err == nil {
			return vals, m, nil
		}
		wait := time.Second + backoff.FullJitter(attempt, time.Second, time.Minute)
		slog.Error("first render failed: not ready; trying again", "error", err, "attempt", attempt, "retry_in", wait.Round(time.Millisecond).String())
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("stopped before the first render succeeded")
		case <-time.After(wait):
		}
	}
}
