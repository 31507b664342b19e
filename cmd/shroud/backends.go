package main

import (
	"time"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
)

// backendOptions configures the cloud backends.
type backendOptions struct {
	// Region is the default AWS region from --region or the config; empty
	// leaves the choice to the AWS SDK (AWS_REGION, profile, IMDS).
	Region string
	// Alibaba configures the KMS backend, from [alibaba].
	Alibaba alibaba.Options
	// Rotation is [rotation]: how the backends are watched.
	Rotation inject.Rotation
}

// newResolver returns a resolver with every backend this build has. The cloud
// backends register here as they land; until then their references fail with
// sources.ErrUnavailable. Registering sets nothing up: a backend creates its
// clients and credentials when it first fetches.
func newResolver(opts backendOptions) *sources.Resolver {
	r, _ := newBackends(opts)
	return r
}

// newBackends returns the resolver and the sources registered with it, by
// backend: the watch loop polls versions from the sources directly.
func newBackends(opts backendOptions) (*sources.Resolver, map[sources.Backend]sources.Source) {
	srcs := map[sources.Backend]sources.Source{
		sources.File: sources.FileSource{},
		sources.Env:  sources.EnvSource{},
		sources.KMS:  alibaba.New(opts.Alibaba),
	}
	r := sources.NewResolver()
	for b, s := range srcs {
		r.Register(b, s)
	}
	return r, srcs
}

// alibabaOptions maps the validated [alibaba] table to the KMS backend's
// options.
func alibabaOptions(cfg *inject.Config) alibaba.Options {
	a := cfg.Alibaba
	duration := func(s string) time.Duration { d, _ := time.ParseDuration(s); return d }
	return alibaba.Options{
		Region:    a.Region,
		Endpoint:  a.Endpoint,
		Endpoints: a.Endpoints,
		CAFile:    cfg.AlibabaCAFile(),
		VPC:       a.VPC,
		Credentials: alibaba.Credentials{
			Type:            a.Credentials,
			Profile:         a.Profile,
			RoleARN:         a.RoleARN,
			RoleSessionName: a.RoleSessionName,
			RoleName:        a.ECSRoleName,
			STSEndpoint:     a.STSEndpoint,
		},
		Timeout:     duration(a.Timeout),
		CallTimeout: duration(a.CallTimeout),
	}
}
