package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/admin"
	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/engine"
	"github.com/shroud-dev/shroud/internal/plural"
	"github.com/shroud-dev/shroud/policy"
	"github.com/shroud-dev/shroud/watch"
)

// specFlags are the inputs of a config, shared by run and check so that
// check shows exactly what run would do.
func specFlags(configRequired bool) []cli.Flag {
	return []cli.Flag{
		configFlag(configRequired),
		regionFlag(),
		&cli.StringSliceFlag{Name: "secret", Usage: "bind an env var: `NAME=REF` (repeatable; overrides the config)"},
		&cli.BoolFlag{Name: "env-refs", Usage: "replace env vars whose values are references (sm:, kms:, file:, acs:kms:, ssm and secretsmanager ARNs)"},
		&cli.StringFlag{Name: "ecs-task-definition", TakesFile: true, Usage: "read secrets and environment from an ECS task definition JSON `FILE`"},
		&cli.StringFlag{Name: "container", Usage: "the container `NAME` in --ecs-task-definition"},
	}
}

// configInput turns the flags of specFlags into the config's input; the
// flags a command lacks read as empty.
func configInput(c *cli.Context) config.Input {
	return config.Input{
		Path: c.String("config"), Region: c.String("region"),
		Secrets: c.StringSlice("secret"), EnvRefs: c.Bool("env-refs"), Environ: os.Environ(),
		TaskDefinition: c.String("ecs-task-definition"), Container: c.String("container"),
	}
}

// adminFlags are --listen and --remote-refresh, the admin listener of run
// and sidecar.
func adminFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", EnvVars: []string{"SHROUD_LISTEN"},
			Usage: "serve /healthz, /readyz, /metrics and POST /refresh on `ADDR`; a port alone (9090) binds 127.0.0.1 only: give 0.0.0.0:9090 or the pod's IP to be scraped from elsewhere"},
		&cli.BoolFlag{Name: "remote-refresh", EnvVars: []string{"SHROUD_REMOTE_REFRESH"},
			Usage: "serve POST /refresh to clients other than loopback ones too"},
	}
}

// adminOptions are the admin listener's flags.
func adminOptions(c *cli.Context) admin.Options {
	return admin.Options{Listen: c.String("listen"), RemoteRefresh: c.Bool("remote-refresh"), Version: buildVersion()}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:        "run",
		Usage:       "resolve secrets, write files, then run a command with them",
		ArgsUsage:   "-- CMD [ARGS...]",
		Description: describe("run"),
		Flags: append(append(specFlags(false),
			&cli.BoolFlag{Name: "supervise", Usage: "stay CMD's parent as an init: forward signals, reap zombies, report CMD's exit status"},
			&cli.BoolFlag{Name: "signal-group", Usage: "send signals to CMD's process group, not CMD alone (implies --supervise)"},
			&cli.BoolFlag{Name: "exec", Usage: "replace shroud with CMD even as PID 1, where shroud supervises by default"},
		), adminFlags()...),
		Action: func(c *cli.Context) error {
			code, err := engine.Run(c.Context, engine.RunInput{
				Config: configInput(c), Argv: c.Args().Slice(),
				Supervise: c.Bool("supervise"), SignalGroup: c.Bool("signal-group"), Exec: c.Bool("exec"),
				Admin: adminOptions(c), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			})
			return exit(c, code, err)
		},
	}
}

func sidecarCommand() *cli.Command {
	return &cli.Command{
		Name:        "sidecar",
		Usage:       "write the config's files, keep them fresh, and notify the application when they change",
		Description: describe("sidecar"),
		Flags: append([]cli.Flag{configFlag(true), regionFlag(),
			&cli.StringFlag{Name: "notify-signal", Usage: "signal `SIG` to send (default: [rotation] signal, SIGHUP)"},
			&cli.IntFlag{Name: "notify-pid", Usage: "send the signal to `PID`"},
			&cli.StringFlag{Name: "notify-pidfile", TakesFile: true, Usage: "send the signal to the pid written in `FILE`, read at each notification"},
			&cli.StringFlag{Name: "notify-process", Usage: "send the signal to the processes named `NAME` in /proc whose parent is not (a server's master, not its workers)"},
			&cli.StringFlag{Name: "notify-url", Usage: "POST a JSON notice to `URL`"},
			&cli.StringFlag{Name: "notify-command", Usage: "run `CMD` with sh -c"},
		}, adminFlags()...),
		Action: func(c *cli.Context) error {
			notify := watch.AppOptions{Pid: c.Int("notify-pid"), Pidfile: c.String("notify-pidfile"),
				Process: c.String("notify-process"), URL: c.String("notify-url"), Command: c.String("notify-command"),
				UserAgent: "shroud/" + buildVersion()}
			if c.IsSet("notify-pid") && notify.Pid <= 0 {
				return usage(c, fmt.Errorf("--notify-pid %d: want the application's pid", notify.Pid))
			}
			if s := c.String("notify-signal"); s != "" {
				sig, err := child.ParseSignal(s)
				if err != nil {
					return usage(c, fmt.Errorf("--notify-signal: %v", err))
				}
				notify.Signal = sig
			}
			code, err := engine.Sidecar(c.Context, engine.SidecarInput{Config: configInput(c), Notify: notify, Admin: adminOptions(c)})
			return exit(c, code, err)
		},
	}
}

func renderCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "render",
		Usage:       "write every file of the config once and exit (init containers, CI)",
		Description: describe("render"),
		Flags: []cli.Flag{configFlag(true), regionFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "write nothing; print the paths and sizes of the files that would change"}},
		Action: func(c *cli.Context) error {
			res, err := engine.Render(c.Context, configInput(c), c.Bool("dry-run"))
			if c.Bool("dry-run") {
				for _, f := range res.Changed {
					fmt.Fprintf(stdout, "%s (%s)\n", f.Path, plural.Count(len(f.Data), "byte"))
				}
			}
			return failed(c, err)
		},
	}
}

func checkCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "check",
		Usage:       "resolve everything and print a table of references, backends, regions and versions (never values)",
		Description: describe("check"),
		Flags: append(specFlags(false),
			&cli.BoolFlag{Name: "permissions", Usage: "also poll versions as rotation would, and name the action and resource of every refused call"}),
		Action: func(c *cli.Context) error {
			res, err := engine.Check(c.Context, configInput(c), c.Bool("permissions"))
			switch {
			case err == nil && len(res.Rows) == 0:
				fmt.Fprintln(stdout, "nothing to resolve: no env var, file, log option or env_from binding")
			case res.Rows != nil:
				printTable(stdout, res.Rows)
			}
			if c.Bool("permissions") && len(res.Rows) > 0 {
				printDenials(stdout, res.Denials)
			}
			return failed(c, err)
		},
	}
}

func getCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "get",
		Usage:       "print one secret value to stdout, exactly as stored",
		ArgsUsage:   "REF",
		Description: describe("get"),
		Flags:       []cli.Flag{configFlag(false), regionFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage(c, errors.New("give exactly one reference, e.g. shroud get sm:prod/db:password"))
			}
			value, err := engine.Get(c.Context, configInput(c), c.Args().First())
			if err == nil {
				_, err = stdout.Write(value)
			}
			return failed(c, err)
		},
	}
}

// exit maps a command's outcome to shroud's exit: a *config.UsageError (a
// wrong command line, such as --container without --ecs-task-definition)
// as usage says, anything else with code and err, if any, reported.
func exit(c *cli.Context, code int, err error) error {
	if errors.As(err, new(*config.UsageError)) {
		return usage(c, err)
	}
	return &codedError{code: code, err: err}
}

// failed is the outcome of check, render, get and policy: 0 without err,
// else 1 (or a usage error's status).
func failed(c *cli.Context, err error) error {
	if err == nil {
		return nil
	}
	return exit(c, child.ExitProblems, err)
}

// printTable lists every target with where its value comes from; never a
// value.
func printTable(w io.Writer, rows []engine.Row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tREFERENCE\tBACKEND\tREGION\tVERSION\tSTATUS")
	for _, r := range rows {
		status := "ok"
		if !r.OK {
			status = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Ref, r.Backend, cmp.Or(r.Region, "-"), cmp.Or(r.Version, "-"), status)
	}
	tw.Flush()
}

// printDenials lists the permission each refused call lacked.
func printDenials(w io.Writer, denials []policy.Denial) {
	if len(denials) == 0 {
		fmt.Fprintln(w, "\npermissions: no call was refused")
		return
	}
	fmt.Fprintln(w, "\nmissing permissions (shroud policy prints the policies that grant them):")
	for _, d := range denials {
		fmt.Fprintln(w, "  "+d.String())
	}
}
