package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/policy"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// lookupTimeout bounds what shroud policy and check --permissions ask AWS.
const lookupTimeout = 20 * time.Second

func policyCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "policy",
		Usage: "print the least-privilege IAM and RAM policies for exactly what the config resolves",
		Description: help(`
Prints the policy documents the credentials shroud uses need, as JSON ready
to paste (aws iam put-role-policy, the RAM console), each after # lines
that say where it goes and what its placeholders stand for: the AWS IAM
policy of the role that reads (with [aws] role_arn, also that role's trust
policy and the policy that lets shroud assume it), and the Alibaba Cloud
RAM policy (with RRSA, an ECS RAM role or ram_role_arn, also the role's
trust policy).

With AWS credentials, shroud asks AWS (metadata only, never a value) for
the account (STS GetCallerIdentity) and for the customer-managed KMS keys
of the secrets and parameters (DescribeSecret, DescribeParameters), which
need kms:Decrypt; --offline asks nothing, and placeholders stand for them.

--account ID gives the account names resolve in: 12 digits for AWS, other
digits for Alibaba Cloud; give it twice for both.

Examples:
   shroud policy --config shroud.toml
   shroud policy --ecs-task-definition task-definition.json --container api --region us-east-1 --offline
   shroud policy --config shroud.toml --format alibaba --account 1234567890123456`),
		Flags: []cli.Flag{
			configFlag(false),
			regionFlag(),
			&cli.StringSliceFlag{Name: "secret", Usage: "bind an env var: `NAME=REF` (repeatable), as run does"},
			&cli.StringFlag{Name: "ecs-task-definition", Usage: "read secrets from an ECS task definition JSON `FILE`"},
			&cli.StringFlag{Name: "container", Usage: "the container `NAME` in --ecs-task-definition"},
			&cli.StringFlag{Name: "format", Value: "both", Usage: "which documents: aws, alibaba or both"},
			&cli.StringSliceFlag{Name: "account", Usage: "the account `ID` names resolve in (AWS: 12 digits; Alibaba Cloud: others)"},
			&cli.BoolFlag{Name: "offline", Usage: "ask AWS nothing; placeholders stand for the account and the KMS keys"},
		},
		OnUsageError: usageError(2),
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format != "aws" && format != "alibaba" && format != "both" {
				return withCode(2, fmt.Errorf("--format %q: want aws, alibaba or both", format))
			}
			refs, opts, err := policyRefs(c)
			if err != nil {
				return withCode(1, err)
			}
			in, err := policyInput(refs, opts, c.StringSlice("account"))
			if err != nil {
				return withCode(2, err)
			}
			if !c.Bool("offline") && format != policy.Alibaba {
				ctx, cancel := context.WithTimeout(c.Context, lookupTimeout)
				defer cancel()
				// The lookups use the credentials of whoever runs this,
				// without [aws] role_arn: they need not read secrets.
				lookup := awssrc.New(awssrc.Options{Region: opts.Region, Profile: opts.AWS.Profile})
				for _, note := range policy.Discover(ctx, lookup, &in) {
					slog.Warn("shroud policy: " + note)
				}
			}
			var docs []policy.Document
			for _, d := range policy.Generate(in) {
				if format == "both" || d.Cloud == format {
					docs = append(docs, d)
				}
			}
			return withCode(1, policy.Render(stdout, docs))
		},
	}
}

// policyRefs returns every reference the flags and the config resolve, as
// run and check would, and the backends' options.
func policyRefs(c *cli.Context) ([]sources.Ref, backendOptions, error) {
	spec, opts, err := buildSpec(c)
	if err != nil {
		return nil, opts, err
	}
	return spec.Refs(), opts, nil
}

// policyInput is what the policies are written for: the references, where
// names resolve, the roles and whether rotation polls. An account of
// --account wins over the one of a role's ARN.
func policyInput(refs []sources.Ref, opts backendOptions, accounts []string) (policy.Input, error) {
	in := policy.Input{
		Refs:               refs,
		Region:             cmp.Or(opts.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		Account:            arnAccount(opts.AWS.RoleARN),
		RoleARN:            opts.AWS.RoleARN,
		ExternalID:         opts.AWS.ExternalID,
		AlibabaRegion:      cmp.Or(opts.Alibaba.Region, os.Getenv("ALIBABA_CLOUD_REGION_ID")),
		AlibabaAccount:     arnAccount(opts.Alibaba.Credentials.RoleARN),
		AlibabaCredentials: opts.Alibaba.Credentials.Type,
		AlibabaRoleARN:     opts.Alibaba.Credentials.RoleARN,
		Polls:              opts.Rotation.Enabled,
	}
	for _, a := range accounts {
		switch {
		case strings.Trim(a, "0123456789") != "" || a == "":
			return in, fmt.Errorf("--account %q: want the account's ID, digits only", a)
		case len(a) == 12:
			in.Account = a
		default:
			in.AlibabaAccount = a
		}
	}
	return in, nil
}

// arnAccount is the account of an IAM or RAM role ARN
// (arn:aws:iam::ACCOUNT:role/NAME, acs:ram::ACCOUNT:role/NAME); "" for none.
func arnAccount(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) >= 5 {
		return parts[4]
	}
	return ""
}

// reportDenials prints, for check --permissions, the permission behind
// every call that was refused while resolving (resolveErr) and, when
// rotation polls, while polling versions; it reports whether there was
// one.
func reportDenials(ctx context.Context, w io.Writer, spec *inject.Spec, opts backendOptions, r *sources.Resolver, resolveErr error) bool {
	refs := spec.Refs()
	in, _ := policyInput(refs, opts, nil)
	errs := []error{resolveErr}
	if in.Polls {
		errs = append(errs, policy.Poll(ctx, r, refs)...)
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	policy.Discover(lctx, awssrc.New(awsOptions(opts)), &in) // the account and keys the denials name, where these credentials may ask
	denials := policy.Denials(in, errs, r)
	if len(denials) == 0 {
		fmt.Fprintln(w, "\npermissions: no call was refused")
		return false
	}
	fmt.Fprintln(w, "\nmissing permissions (shroud policy prints the policies that grant them):")
	for _, d := range denials {
		fmt.Fprintln(w, "  "+d.String())
	}
	return true
}
