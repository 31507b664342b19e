package engine

import (
	"context"
	"log/slog"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// newResolver returns a resolver with every backend this build has.
// Registering sets nothing up: a backend loads its SDK config, credentials
// and clients when it first fetches. The watch loop polls versions from the
// same sources (Resolver.Source), so clients and caches are shared.
func newResolver(cfg *config.Config) *sources.Resolver {
	r := sources.NewResolver()
	awssrc.New(cfg.AWS).Register(r)
	r.Register(sources.KMS, alibaba.New(cfg.Alibaba))
	return r
}

// newPlan plans cfg's references and, at debug level, logs once how r
// will fetch them: per backend, the references, the distinct objects and
// the calls by region. Never a value, nor a reference.
func newPlan(cfg *config.Config, r *sources.Resolver) *inject.Plan {
	plan := inject.NewPlan(cfg)
	if !slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		return plan
	}
	for _, p := range r.Plan(plan.Refs()) {
		attrs := []any{"backend", p.Backend.String(), "references", p.References, "objects", p.Objects}
		if p.Calls != nil {
			attrs = append(attrs, "calls", p.CallsString())
		}
		slog.Debug("plan", attrs...)
	}
	return plan
}
