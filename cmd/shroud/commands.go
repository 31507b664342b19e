package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/signal"
	"github.com/shroud-dev/shroud/sources"
)

// specFlags are the inputs of a Spec, shared by run and check so that check
// shows exactly what run would do.
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

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "resolve secrets, write files, then run a command with them",
		ArgsUsage: "-- CMD [ARGS...]",
		Description: help(`
Resolves every reference, writes the files, then replaces itself with CMD,
whose environment is shroud's plus the bound secrets (secrets win).

Exit status: CMD's; 128+N if CMD died of signal N; 125 if shroud failed
before CMD started; 126 if CMD is not executable; 127 if it is not found.

Examples:
   shroud run --config shroud.toml -- ./server --port 8080
   shroud run --secret DB_PASSWORD=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password:: -- env
   DB_URL=sm:prod/db-url shroud run --env-refs -- node app.js`),
		Flags:        specFlags(false),
		OnUsageError: usageError(signal.ExitFailure),
		Action:       run,
	}
}

func run(c *cli.Context) error {
	argv := c.Args().Slice()
	if len(argv) == 0 {
		return withCode(signal.ExitFailure, errors.New("no command to run: give one after --, e.g. shroud run --config shroud.toml -- ./server"))
	}
	spec, opts, err := buildSpec(c)
	if err != nil {
		return withCode(signal.ExitFailure, err)
	}
	m, err := materialize(c.Context, spec, opts)
	if err != nil {
		return withCode(signal.ExitFailure, err)
	}
	if _, err := m.WriteFiles(); err != nil {
		return withCode(signal.ExitFailure, err)
	}
	err = signal.Exec(argv, m.Environ(os.Environ()))
	return withCode(signal.ExitCode(err), err)
}

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "write every file of the config once and exit (init containers, CI)",
		Description: help(`
Resolves the references of every [[files]] entry and writes the files
atomically. Files whose content is unchanged are not touched. Exits 0 when
every file is written, 1 with every problem listed otherwise.

Example:
   shroud render --config /etc/shroud/shroud.toml`),
		Flags:        []cli.Flag{configFlag(true), regionFlag()},
		OnUsageError: usageError(2),
		Action: func(c *cli.Context) error {
			spec, opts, err := buildSpec(c)
			if err != nil {
				return withCode(1, err)
			}
			spec.Env, spec.Plain = nil, nil // render writes files only
			m, err := materialize(c.Context, spec, opts)
			if err != nil {
				return withCode(1, err)
			}
			changed, err := m.WriteFiles()
			for _, f := range m.Files {
				slog.Info("file rendered", "path", f.Path, "bytes", len(f.Data), "changed", slices.Contains(changed, f.Path))
			}
			return withCode(1, err)
		},
	}
}

func checkCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "resolve everything and print a table of references, backends, regions and versions (never values)",
		Description: help(`
Resolves every reference as run would, writes nothing and runs nothing.
Exits 0 when all resolve, 1 with every failure listed otherwise.

Example:
   shroud check --config shroud.toml
   TARGET                 REFERENCE                      BACKEND  REGION     VERSION  STATUS
   env DB_PASSWORD        sm:prod/db:password            secretsmanager  us-east-1  3f2a...   ok`),
		Flags:        specFlags(false),
		OnUsageError: usageError(2),
		Action: func(c *cli.Context) error {
			spec, opts, err := buildSpec(c)
			if err != nil {
				return withCode(1, err)
			}
			vals, err := spec.Resolve(c.Context, newResolver(opts))
			printTable(stdout, spec, vals)
			if err != nil {
				return withCode(1, err)
			}
			if _, err := spec.Materialize(vals); err != nil {
				return withCode(1, err)
			}
			return nil
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
		Flags:        []cli.Flag{regionFlag()},
		OnUsageError: usageError(2),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(2, errors.New("give exactly one reference, e.g. shroud get sm:prod/db:password"))
			}
			ref, err := sources.Parse(c.Args().First())
			if err != nil {
				return withCode(1, err)
			}
			opts := backendOptions{Region: c.String("region")}
			res, err := newResolver(opts).Resolve(c.Context, []sources.Ref{ref})
			if err != nil {
				return withCode(1, err)
			}
			_, err = stdout.Write(res[0].Value.Data)
			return withCode(1, err)
		},
	}
}

// buildSpec reads the config, the task definition and the flags.
func buildSpec(c *cli.Context) (*inject.Spec, backendOptions, error) {
	opts := backendOptions{Region: c.String("region")}
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, opts, err
	}
	in := inject.SpecInput{Config: cfg, Environ: os.Environ()}
	if cfg != nil && opts.Region == "" {
		opts.Region = cfg.Region
	}
	if cfg != nil {
		opts.AWS = cfg.AWS
	}
	// render has none of these flags: they read as empty.
	in.Secrets = c.StringSlice("secret")
	in.EnvRefs = c.Bool("env-refs")
	if path := c.String("ecs-task-definition"); path != "" {
		if in.ECS, err = inject.LoadECSContainer(path, c.String("container")); err != nil {
			return nil, opts, err
		}
	} else if c.String("container") != "" {
		return nil, opts, errors.New("--container needs --ecs-task-definition")
	}
	spec, err := inject.NewSpec(in)
	return spec, opts, err
}

// materialize resolves the spec and computes env values and file contents.
func materialize(ctx context.Context, spec *inject.Spec, opts backendOptions) (*inject.Materialized, error) {
	vals, err := spec.Resolve(ctx, newResolver(opts))
	if err != nil {
		return nil, err
	}
	slog.Debug("resolved", "references", len(vals))
	return spec.Materialize(vals)
}

// printTable lists every target with where its value comes from; never a
// value.
func printTable(w io.Writer, spec *inject.Spec, vals inject.Values) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tREFERENCE\tBACKEND\tREGION\tVERSION\tSTATUS")
	row := func(target string, ref sources.Ref) {
		res := vals[ref]
		region, version, status := res.Value.Region, res.Value.Version, "ok"
		if res.Err != nil {
			status = "error"
			var se *sources.Error
			if errors.As(res.Err, &se) {
				region = se.Region
			}
		}
		if region == "" {
			region = ref.Region
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", target, ref.Raw, ref.Backend, dash(region), dash(version), status)
	}
	for _, e := range spec.Env {
		row("env "+e.Name, e.Ref)
	}
	for _, f := range spec.Files {
		row("file "+f.Path, f.Ref)
	}
	for _, e := range spec.EnvFrom {
		row("env_from "+e.Prefix+"*", e.Ref)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
