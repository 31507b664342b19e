package main

import (
	_ "embed"
	"errors"
	"io"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask shroud for completions (urfave/cli's
// --generate-bash-completion); the fish one is urfave/cli's, generated
// from the commands and flags.
var (
	//go:embed completion.bash
	bashCompletion string
	//go:embed completion.zsh
	zshCompletion string
)

func completionCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "completion",
		Usage:       "print the shell completion script for bash, zsh or fish",
		ArgsUsage:   "bash|zsh|fish",
		Description: describe("completion"),
		Action: func(c *cli.Context) error {
			script := ""
			switch c.Args().First() {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				var err error
				if script, err = c.App.ToFishCompletion(); err != nil {
					return err
				}
			default:
				return usage(c, errors.New("give the shell: bash, zsh or fish"))
			}
			_, err := io.WriteString(stdout, script)
			return err
		},
	}
}
