package engine

import (
	"github.com/shroud-dev/shroud/config"
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
