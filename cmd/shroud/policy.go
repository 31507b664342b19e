package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/engine"
	"github.com/shroud-dev/shroud/policy"
)

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
		OnUsageError: usageError(child.ExitUsage),
		Action: func(c *cli.Context) error {
			cloud := c.String("format")
			switch cloud {
			case "both":
				cloud = ""
			case policy.AWS, policy.Alibaba:
			default:
				return withCode(child.ExitUsage, fmt.Errorf("--format %q: want aws, alibaba or both", cloud))
			}
			for _, a := range c.StringSlice("account") {
				if a == "" || strings.Trim(a, "0123456789") != "" {
					return withCode(child.ExitUsage, fmt.Errorf("--account %q: want the account's ID, digits only", a))
				}
			}
			docs, err := engine.Policy(c.Context, engine.PolicyInput{Config: configInput(c),
				Accounts: c.StringSlice("account"), Offline: c.Bool("offline"), Cloud: cloud})
			if err != nil {
				return withCode(child.ExitProblems, err)
			}
			return withCode(child.ExitProblems, policy.Render(stdout, docs))
		},
	}
}
