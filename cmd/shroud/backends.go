package main

import (
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// backendOptions configures the cloud backends.
type backendOptions struct {
	// Region is the default AWS region from --region or the config; empty
	// leaves the choice to the AWS SDK (AWS_REGION, profile, ECS task
	// metadata, IMDS).
	Region string
	// AWS is the config's [aws] table.
	AWS inject.AWSConfig
}

// newResolver returns a resolver with every backend this build has. The AWS
// backends load nothing until an AWS reference is resolved; backends not
// registered here fail with sources.ErrUnavailable.
func newResolver(opts backendOptions) *sources.Resolver {
	r := sources.NewResolver()
	timeout, callTimeout := opts.AWS.Timeouts()
	awssrc.New(awssrc.Options{
		Region:      opts.Region,
		Profile:     opts.AWS.Profile,
		RoleARN:     opts.AWS.RoleARN,
		ExternalID:  opts.AWS.ExternalID,
		SessionName: opts.AWS.SessionName,
		Timeout:     timeout,
		CallTimeout: callTimeout,
	}).Register(r)
	return r
}
