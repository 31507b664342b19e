package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/logdriver"
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
			listenFlag(),
		),
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
	var listen string
	if c.String("listen") != "" {
		if listen, err = listenAddress(c.String("listen")); err != nil {
			return withCode(signal.ExitFailure, err)
		}
	}
	resolver := newResolver(opts)
	vals, m, err := materialize(c.Context, spec, resolver)
	if err != nil {
		return withCode(signal.ExitFailure, err)
	}
	if _, err := m.WriteFiles(); err != nil {
		return withCode(signal.ExitFailure, err)
	}
	env := m.Environ(os.Environ())
	// The log pipeline connects its driver now, so a bad address fails
	// before the child starts. With driver none and no masking it is
	// Direct: the child inherits shroud's stdout and stderr.
	logs, err := logdriver.New(logdriver.Input{
		Config: *m.Log,
		Info:   logdriver.Info{Name: filepath.Base(argv[0]), Command: strings.Join(argv, " "), Env: plainEnv(os.Environ(), spec, m)},
	})
	if err != nil {
		return withCode(signal.ExitFailure, err)
	}
	rotating := opts.Rotation.Enabled && watches(spec, opts.Rotation)
	if !needsSupervisor(c, rotating) && logs.Direct() {
		err = signal.Exec(argv, env)
		return withCode(signal.ExitCode(err), err)
	}
	var adm *admin
	if listen != "" {
		if adm, err = startAdmin(listen, newMetrics()); err != nil {
			return withCode(signal.ExitFailure, err)
		}
		defer adm.close()
	}
	s, err := signal.New(signal.Input{
		Argv:        argv,
		Env:         env,
		Stdin:       os.Stdin,
		Stdout:      logs.Stdout(),
		Stderr:      logs.Stderr(),
		SignalGroup: c.Bool("signal-group"),
		StopSignal:  opts.Rotation.StopSignal,
		StopTimeout: opts.Rotation.StopTimeout,
		Log:         slog.Default(),
	})
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		logs.Close()
		return withCode(signal.ExitCode(err), err)
	}
	adm.setReady()
	settle()
	exitRotated := false
	if rotating {
		ctx, cancel := context.WithCancel(c.Context)
		defer cancel()
		watched := make(chan error, 1)
		go func() {
			watched <- inject.Watch(ctx, inject.WatchInput{
				Spec: spec, Resolver: resolver, Rotation: opts.Rotation,
				Values: vals, Current: m, Target: s, Environ: os.Environ(),
				Refresh: adm.refreshes(), Events: adm.events(), Log: slog.Default(),
				// Rotated secrets stay masked, old and new.
				OnValues: func(v inject.Values) { logs.AddMask(v.Data()) },
			})
		}()
		select {
		case <-s.Done():
		case err := <-watched:
			if errors.Is(err, inject.ErrExit) {
				s.Stop()
				exitRotated = true
			}
			if err != nil && !exitRotated {
				slog.Error("the watch loop stopped: secrets are no longer kept current", "error", err)
			}
		}
	}
	code, err := s.Wait()
	if cerr := logs.Close(); cerr != nil {
		slog.Error("log delivery incomplete", "error", cerr) // the child's status still stands
	}
	if err != nil {
		return withCode(code, err) // a crash loop given up
	}
	if exitRotated {
		code = inject.ExitRotated // the orchestrator starts us again with the new values
	}
	return &codedError{code: code} // the child's status; nothing to report
}

// needsSupervisor reports whether run must stay the child's parent rather
// than replace itself with it (the fast path). Each feature that needs shroud
// alive while the child runs adds its condition here: rotation, the --listen
// admin server. A log pipeline that carries the child's output (a driver, or
// masking) is the other reason, checked where the pipeline is built.
func needsSupervisor(c *cli.Context, rotating bool) bool {
	return c.Bool("supervise") || c.Bool("signal-group") || c.String("listen") != "" || rotating
}

// watches reports whether rotation has anything to watch: backends to poll
// (interval > 0) or file: sources, watched in any case.
func watches(spec *inject.Spec, rot inject.Rotation) bool {
	for _, ref := range spec.Refs() {
		switch {
		case ref.Pinned() || ref.Backend == sources.Env:
		case ref.Backend == sources.File || rot.Interval > 0:
			return true
		}
	}
	return false
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
		OnUsageError: usageError(2),
		Action: func(c *cli.Context) error {
			spec, opts, err := buildSpec(c)
			if err != nil {
				return withCode(1, err)
			}
			_, m, err := materialize(c.Context, spec.FilesOnly(), newResolver(opts))
			if err != nil {
				return withCode(1, err)
			}
			if c.Bool("dry-run") {
				changes, err := m.Changes()
				for _, f := range changes {
					fmt.Fprintf(stdout, "%s (%d bytes)\n", f.Path, len(f.Data))
				}
				if err == nil {
					slog.Info("dry run: nothing written", "files", len(m.Files), "would_change", len(changes))
				}
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
		OnUsageError: usageError(2),
		Action: func(c *cli.Context) error {
			spec, opts, err := buildSpec(c)
			if err != nil {
				return withCode(1, err)
			}
			resolver := newResolver(opts)
			vals, err := spec.Resolve(c.Context, resolver)
			printTable(stdout, spec, vals)
			denied := c.Bool("permissions") && reportDenials(c.Context, stdout, spec, opts, resolver, err)
			m, merr := spec.Materialize(vals) // lists failed references too
			if merr != nil {
				return withCode(1, merr)
			}
			if err != nil {
				return withCode(1, err)
			}
			if _, err := m.Changes(); err != nil { // files_root, links, owner
				return withCode(1, err)
			}
			if denied {
				return withCode(1, errors.New("calls were refused: see the missing permissions above"))
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
		opts.Alibaba = alibabaOptions(cfg)
		opts.AWS = cfg.AWS
	}
	opts.Rotation = cfg.Rotation()
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
// Materialize reports failed references along with template and other
// problems, so one run lists them all.
func materialize(ctx context.Context, spec *inject.Spec, r *sources.Resolver) (inject.Values, *inject.Materialized, error) {
	vals, err := spec.Resolve(ctx, r)
	slog.Debug("resolved", "references", len(vals))
	m, merr := spec.Materialize(vals)
	if merr != nil {
		return nil, nil, merr
	}
	return vals, m, err
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
		for _, ref := range f.Refs() { // a row per dependency
			row("file "+f.Path, ref)
		}
	}
	if spec.Log != nil {
		for _, o := range spec.Log.Secrets {
			row("log "+o.Name, o.Ref)
		}
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
