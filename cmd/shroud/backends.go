package main

import (
	"time"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
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
	// Alibaba configures the KMS backend, from [alibaba].
	Alibaba alibaba.Options
	// Rotation is [rotation]: how the backends are watched.
	Rotation inject.Rotation
}

// newResolver returns a resolver with every backend this build has.
// Registering sets nothing up: a backend loads its SDK config, credentials
// and clients when it first fetches. The watch loop polls versions from the
// same sources (Resolver.Source), so clients and caches are shared.
func newResolver(opts backendOptions) *sources.Resolver {
	r := sources.NewResolver()
	awssrc.New(awsOptions(opts)).Register(r)
	r.Register(sources.KMS, alibaba.New(opts.Alibaba))
	return r
}

// awsOptions maps the region and the [aws] table to the AWS backend's
// options.
func awsOptions(opts backendOptions) awssrc.Options {
	timeout, callTimeout := opts.AWS.Timeouts()
	return awssrc.Options{
		Region:      opts.Region,
		Profile:     opts.AWS.Profile,
		RoleARN:     opts.AWS.RoleARN,
		ExternalID:  opts.AWS.ExternalID,
		SessionName: opts.AWS.SessionName,
		Timeout:     timeout,
		CallTimeout: callTimeout,
	}
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
