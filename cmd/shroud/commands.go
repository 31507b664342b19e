package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/engine"
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
		&cli.StringFlag{Name: "ecs-task-definition", Usage: "read secrets and environment from an ECS task definition JSON `FILE`"},
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

// listenFlag is --listen, the admin listener of run and sidecar.
func listenFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "listen", EnvVars: []string{"SHROUD_LISTEN"},
		Usage: "serve /healthz, /readyz, /metrics and POST /refresh on `ADDR` (a port alone, such as 9090, means 127.0.0.1:9090)"}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "resolve secrets, write files, then run a command with them",
		ArgsUsage: "-- CMD [ARGS...]",
		Description: help(`
Resolves every reference, writes the files, then replaces itself with CMD,
whose environment is shroud's plus the bound secrets (secrets win).

With --supervise (or --signal-group), shroud stays CMD's parent instead, as
an init: it forwards every signal it receives to CMD, reaps zombies (as PID 1,
or as the child subreaper), and on a terminal makes CMD the foreground
process group so Ctrl-C and Ctrl-Z act on CMD alone.

With a [rotation] table in the config, or --listen, shroud supervises CMD
too, and keeps its secrets current: it polls the backends' versions, watches
file: sources, rewrites files whose content changed and signals or restarts
CMD as on_change says (a changed env var always restarts it). --listen ADDR
serves /healthz, /readyz, /metrics and POST /refresh (a port alone listens
on 127.0.0.1).

Exit status: CMD's; 128+N if CMD died of signal N; 125 if shroud failed
before CMD started; 126 if CMD is not executable; 127 if it is not found;
75 when a rotation ran on_change = "exit".

Examples:
   shroud run --config shroud.toml -- ./server --port 8080
   shroud run --supervise --config shroud.toml -- ./server   # as PID 1 of an image
   shroud run --secret DB_PASSWORD=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password:: -- env
   DB_URL=sm:prod/db-url shroud run --env-refs -- node app.js`),
		Flags: append(specFlags(false),
			&cli.BoolFlag{Name: "supervise", Usage: "stay CMD's parent as an init: forward signals, reap zombies, report CMD's exit status"},
			&cli.BoolFlag{Name: "signal-group", Usage: "send signals to CMD's process group, not CMD alone (implies --supervise)"},
			&cli.BoolFlag{Name: "exec", Usage: "replace shroud with CMD even as PID 1, where shroud supervises by default"},
			listenFlag(),
		),
		OnUsageError: usageError(child.ExitFailure),
		Action: func(c *cli.Context) error {
			code, err := engine.Run(c.Context, engine.RunInput{
				Config: configInput(c), Argv: c.Args().Slice(),
				Supervise: c.Bool("supervise"), SignalGroup: c.Bool("signal-group"), Exec: c.Bool("exec"),
				Listen: c.String("listen"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			})
			return &codedError{code: code, err: err}
		},
	}
}

func sidecarCommand() *cli.Command {
	return &cli.Command{
		Name:  "sidecar",
		Usage: "write the config's files, keep them fresh, and notify the application when they change",
		Description: help(`
Runs beside the application (a Kubernetes native sidecar: an init container
with restartPolicy: Always), with no child: writes every [[files]] entry,
keeps them current as [rotation] says (polling every interval, 5m by
default; file: sources are watched), and when files change notifies the
application in every way given:

  --notify-signal SIG to --notify-pid, --notify-pidfile or --notify-process
      (a process found by name in /proc: needs shareProcessNamespace)
  --notify-url URL      an HTTP POST, with a JSON body naming the event
  --notify-command CMD  run with sh -c

[[secrets]] bindings are ignored: there is no child to give env vars to.
With --listen, /readyz answers 200 only after the first full render, so the
application container starts once its files are there. SIGTERM or SIGINT
stop it; the files stay.

Examples:
   shroud sidecar --config /etc/shroud/shroud.toml --listen 9090 --notify-process nginx --notify-signal SIGHUP
   shroud sidecar --config shroud.toml --notify-url http://127.0.0.1:8080/-/reload`),
		Flags: []cli.Flag{configFlag(true), regionFlag(), listenFlag(),
			&cli.StringFlag{Name: "notify-signal", Usage: "signal `SIG` to send (default: [rotation] signal, SIGHUP)"},
			&cli.IntFlag{Name: "notify-pid", Usage: "send the signal to `PID`"},
			&cli.StringFlag{Name: "notify-pidfile", Usage: "send the signal to the pid written in `FILE`, read at each notification"},
			&cli.StringFlag{Name: "notify-process", Usage: "send the signal to every process whose command `NAME` matches, found in /proc"},
			&cli.StringFlag{Name: "notify-url", Usage: "POST a JSON notice to `URL`"},
			&cli.StringFlag{Name: "notify-command", Usage: "run `CMD` with sh -c"},
		},
		OnUsageError: usageError(child.ExitUsage),
		Action: func(c *cli.Context) error {
			notify := watch.AppOptions{Pid: c.Int("notify-pid"), Pidfile: c.String("notify-pidfile"),
				Process: c.String("notify-process"), URL: c.String("notify-url"), Command: c.String("notify-command"),
				UserAgent: "shroud/" + buildVersion()}
			if c.IsSet("notify-pid") && notify.Pid <= 0 {
				return withCode(child.ExitUsage, fmt.Errorf("--notify-pid %d: want the application's pid", notify.Pid))
			}
			if s := c.String("notify-signal"); s != "" {
				sig, err := child.ParseSignal(s)
				if err != nil {
					return withCode(child.ExitUsage, fmt.Errorf("--notify-signal: %v", err))
				}
				notify.Signal = sig
			}
			code, err := engine.Sidecar(c.Context, engine.SidecarInput{Config: configInput(c), Listen: c.String("listen"), Notify: notify})
			return &codedError{code: code, err: err}
		},
	}
}

func renderCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "write every file of the config once and exit (init containers, CI)",
		Description: help(`
Resolves the references of every [[files]] entry (raw values, [files.values]
and templates, all fetched in one batched plan), renders the files and
writes them atomically. Files whose content is unchanged are not touched.
Nothing is written unless every file rendered. Exits 0 when every file is
written, 1 with every problem listed otherwise.

With --dry-run, writes nothing and prints the files that would change, as
"PATH (N bytes)" lines; never their content.

Examples:
   shroud render --config /etc/shroud/shroud.toml
   shroud render --config shroud.toml --dry-run`),
		Flags: []cli.Flag{configFlag(true), regionFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "write nothing; print the paths and sizes of the files that would change"}},
		OnUsageError: usageError(child.ExitUsage),
		Action: func(c *cli.Context) error {
			res, err := engine.Render(c.Context, configInput(c), c.Bool("dry-run"))
			if c.Bool("dry-run") {
				for _, f := range res.Changed {
					fmt.Fprintf(stdout, "%s (%d bytes)\n", f.Path, len(f.Data))
				}
			}
			return withCode(child.ExitProblems, err)
		},
	}
}

func checkCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "resolve everything and print a table of references, backends, regions and versions (never values)",
		Description: help(`
Resolves every reference as run would, renders the files' templates and
checks where they would be written; writes nothing and runs nothing. A file
has one row per reference it depends on. Exits 0 when all is well, 1 with
every failure listed otherwise.

With --permissions, it also polls versions as rotation would and, for every
call AWS or Alibaba Cloud refused, names the missing action and resource;
calls shroud worked around (BatchGetSecretValue, ListSecretVersionIds)
count as refused.

Example:
   shroud check --config shroud.toml
   TARGET                 REFERENCE                      BACKEND  REGION     VERSION  STATUS
   env DB_PASSWORD        sm:prod/db:password            secretsmanager  us-east-1  3f2a...   ok`),
		Flags: append(specFlags(false),
			&cli.BoolFlag{Name: "permissions", Usage: "also poll versions as rotation would, and name the action and resource of every refused call"}),
		OnUsageError: usageError(child.ExitUsage),
		Action: func(c *cli.Context) error {
			res, err := engine.Check(c.Context, configInput(c), c.Bool("permissions"))
			if res.Rows != nil {
				printTable(stdout, res.Rows)
			}
			if c.Bool("permissions") && res.Rows != nil {
				printDenials(stdout, res.Denials)
			}
			return withCode(child.ExitProblems, err)
		},
	}
}

func getCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print one secret value to stdout, exactly as stored",
		ArgsUsage: "REF",
		Description: help(`
Prints the value's bytes with nothing added (no trailing newline).

Examples:
   shroud get sm:prod/db:password
   shroud get --region eu-west-1 /prod/api/key
   shroud get file:./secrets/db.json#password`),
		Flags:        []cli.Flag{configFlag(false), regionFlag()},
		OnUsageError: usageError(child.ExitUsage),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(child.ExitUsage, errors.New("give exactly one reference, e.g. shroud get sm:prod/db:password"))
			}
			value, err := engine.Get(c.Context, configInput(c), c.Args().First())
			if err != nil {
				return withCode(child.ExitProblems, err)
			}
			_, err = stdout.Write(value)
			return withCode(child.ExitProblems, err)
		},
	}
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Target, r.Ref, r.Backend, dash(r.Region), dash(r.Version), status)
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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
