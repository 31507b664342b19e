package main

import "github.com/shroud-dev/shroud/sources"

// backendOptions configures the cloud backends.
type backendOptions struct {
	// Region is the default AWS region from --region or the config; empty
	// leaves the choice to the AWS SDK (AWS_REGION, profile, IMDS).
	Region string
}

// newResolver returns a resolver with every backend this build has. The cloud
// backends register here as they land; until then their references fail with
// sources.ErrUnavailable.
func newResolver(opts backendOptions) *sources.Resolver {
	return sources.NewResolver()
}
