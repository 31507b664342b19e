package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/engine"
	"github.com/shroud-dev/shroud/policy"
)

func policyCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "policy",
		Usage:       "print the least-privilege IAM and RAM policies for exactly what the config resolves",
		Description: describe("policy"),
		Flags: []cli.Flag{
			configFlag(false),
			regionFlag(),
			&cli.StringSliceFlag{Name: "secret", Usage: "bind an env var: `NAME=REF` (repeatable), as run does"},
			&cli.StringFlag{Name: "ecs-task-definition", TakesFile: true, Usage: "read secrets from an ECS task definition JSON `FILE`"},
			&cli.StringFlag{Name: "container", Usage: "the container `NAME` in --ecs-task-definition"},
			&cli.StringFlag{Name: "format", Value: "both", Usage: "which documents: aws, alibaba or both"},
			&cli.StringSliceFlag{Name: "account", Usage: "the account `ID` names resolve in (AWS: 12 digits; Alibaba Cloud: others)"},
			&cli.BoolFlag{Name: "offline", Usage: "ask AWS nothing; placeholders stand for the account and the KMS keys"},
		},
		Action: func(c *cli.Context) error {
			cloud := c.String("format")
			switch cloud {
			case "both":
				cloud = ""
			case policy.AWS, policy.Alibaba:
			default:
				return usage(c, fmt.Errorf("--format %q: want aws, alibaba or both", cloud))
			}
			for _, a := range c.StringSlice("account") {
				if a == "" || strings.Trim(a, "0123456789") != "" {
					return usage(c, fmt.Errorf("--account %q: want the account's ID, digits only", a))
				}
			}
			docs, err := engine.Policy(c.Context, engine.PolicyInput{Config: configInput(c),
				Accounts: c.StringSlice("account"), Offline: c.Bool("offline"), Cloud: cloud})
			if err == nil {
				err = policy.Render(stdout, docs)
			}
			return failed(c, err)
		},
	}
}
