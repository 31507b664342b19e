package engine

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/policy"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// lookupTimeout bounds what shroud policy and check --permissions ask AWS.
const lookupTimeout = 20 * time.Second

// PolicyInput configures Policy.
type PolicyInput struct {
	Config config.Input
	// Accounts are --account IDs: 12 digits for AWS, other digits for
	// Alibaba Cloud; they win over the account of a role's ARN.
	Accounts []string
	// Offline asks AWS nothing: placeholders stand for the account and
	// the KMS keys.
	Offline bool
	// Cloud is policy.AWS or policy.Alibaba for that cloud's documents
	// only; empty for both.
	Cloud string
}

// Policy returns the least-privilege policy documents for exactly what the
// config resolves. With AWS credentials and not Offline, it asks AWS
// (metadata only, never a value) for the account and the customer-managed
// KMS keys; what it could not learn is logged and left as a placeholder.
func Policy(ctx context.Context, in PolicyInput) ([]policy.Document, error) {
	cfg, err := config.Load(in.Config)
	if err != nil {
		return nil, err
	}
	pin := policyInput(cfg, inject.NewPlan(cfg).Refs(), in.Accounts)
	if !in.Offline && in.Cloud != policy.Alibaba {
		ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		defer cancel()
		// The lookups use the credentials of whoever runs this, without
		// [aws] role_arn: they need not read secrets.
		lookup := awssrc.New(awssrc.Options{Region: cfg.Region, Profile: cfg.AWS.Profile})
		for _, note := range policy.Discover(ctx, lookup, &pin) {
			slog.Warn("shroud policy: " + note)
		}
	}
	var docs []policy.Document
	for _, d := range policy.Generate(pin) {
		if in.Cloud == "" || d.Cloud == in.Cloud {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

// policyInput is what the policies are written for: the references, where
// names resolve, the roles and whether rotation polls. An account of
// accounts (digits: 12 for AWS) wins over the one of a role's ARN.
func policyInput(cfg *config.Config, refs []sources.Ref, accounts []string) policy.Input {
	in := policy.Input{
		Refs:               refs,
		Region:             cmp.Or(cfg.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		Account:            arnAccount(cfg.AWS.RoleARN),
		RoleARN:            cfg.AWS.RoleARN,
		ExternalID:         cfg.AWS.ExternalID,
		AlibabaRegion:      cmp.Or(cfg.Alibaba.Region, os.Getenv("ALIBABA_CLOUD_REGION_ID")),
		AlibabaAccount:     arnAccount(cfg.Alibaba.Credentials.RoleARN),
		AlibabaCredentials: cfg.Alibaba.Credentials.Type,
		AlibabaRoleARN:     cfg.Alibaba.Credentials.RoleARN,
		Polls:              cfg.Rotation.Enabled,
	}
	for _, a := range accounts {
		if len(a) == 12 {
			in.Account = a
		} else {
			in.AlibabaAccount = a
		}
	}
	return in
}

// arnAccount is the account of an IAM or RAM role ARN
// (arn:aws:iam::ACCOUNT:role/NAME, acs:ram::ACCOUNT:role/NAME); "" for none.
func arnAccount(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) >= 5 {
		return parts[4]
	}
	return ""
}

// denials names the permission behind every call refused while resolving
// (resolveErr) and, when rotation polls, while polling versions: check
// --permissions.
func denials(ctx context.Context, cfg *config.Config, plan *inject.Plan, r *sources.Resolver, resolveErr error) []policy.Denial {
	in := policyInput(cfg, plan.Refs(), nil)
	errs := []error{resolveErr}
	if in.Polls {
		errs = append(errs, policy.Poll(ctx, r, plan.Refs())...)
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	policy.Discover(lctx, awssrc.New(cfg.AWS), &in) // the account and keys the denials name, where these credentials may ask
	return policy.Denials(in, errs, r)
}
