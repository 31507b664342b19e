// Command shroud resolves secret references into environment variables and
// files, then runs a command with them.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/urfave/cli/v2"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/sdkdebug"
)

// version is set at release builds with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	sdkdebug.Restore() // the child sees DEBUG as shroud was given it
	// A crash or a gcore of shroud must not write its secrets to disk; the
	// child is dumpable as usual (execve resets it).
	if err := child.NoCoreDumps(); err != nil {
		fmt.Fprintln(os.Stderr, "shroud:", err)
	}
	os.Exit(Main(os.Args, os.Stdout, os.Stderr))
}

// Main runs the CLI and returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	code := child.ExitProblems
	var ce *codedError
	if errors.As(err, &ce) {
		code = ce.code
		err = ce.err
	}
	if err != nil {
		report(stderr, err)
	}
	return code
}

// codedError carries the exit status a command chose for its error.
type codedError struct {
	code int
	err  error // nil when the message was already printed
}

func (e *codedError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// report prints err for a person: one problem a line. With --log-format
// json it is one JSON log record instead.
func report(w io.Writer, err error) {
	if logJSON {
		var errs []string
		var merr *multierror.Error
		if errors.As(err, &merr) {
			for _, e := range merr.Errors {
				errs = append(errs, e.Error())
			}
		} else {
			errs = []string{err.Error()}
		}
		slog.New(slog.NewJSONHandler(w, nil)).Error("shroud failed", "errors", errs)
		return
	}
	var merr *multierror.Error
	if errors.As(err, &merr) {
		fmt.Fprintf(w, "shroud: %s\n", config.FormatErrors(merr.Errors))
		return
	}
	fmt.Fprintf(w, "shroud: %s\n", err)
}

var logJSON bool

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "shroud",
		Usage: "resolve secret references into env vars and files, then run a command",
		Description: `shroud reads secrets from AWS Secrets Manager, AWS SSM Parameter Store,
Alibaba Cloud KMS, local files and its own environment, by name or ARN,
and hands them to a command as environment variables and files.

Example:
   shroud run --secret DB_PASSWORD=file:./db.json#password -- ./server`,
		Version:                   buildVersion(),
		Writer:                    stdout,
		ErrWriter:                 stderr,
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		Flags:                     logFlags(),
		ExitErrHandler:            func(*cli.Context, error) {}, // Main chooses the status
		OnUsageError:              usageError(child.ExitUsage),
		Commands: []*cli.Command{
			runCommand(),
			sidecarCommand(),
			renderCommand(stdout),
			checkCommand(stdout),
			getCommand(stdout),
			policyCommand(stdout),
			{
				Name:   "version",
				Usage:  "print shroud's version",
				Action: func(c *cli.Context) error { fmt.Fprintln(stdout, buildVersion()); return nil },
			},
		},
	}
	// The diagnostics flags are accepted before the command and after it
	// (shroud run --log-level debug ...); urfave/cli does not inherit flags.
	for _, cmd := range app.Commands {
		cmd.Flags = append(cmd.Flags, logFlags()...)
		cmd.Before = func(c *cli.Context) error {
			err := setupLogging(stderr, logSetting(c, "log-format", "text"), logSetting(c, "log-level", "info"))
			if err != nil && c.Command.Name == "run" {
				return withCode(child.ExitFailure, err) // 125: shroud failed before the child
			}
			return err
		}
	}
	return app
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Usage: "diagnostics format on stderr: text or json (default: text)"},
		&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error (default: info)"},
	}
}

// logSetting returns the value of a diagnostics flag where it was given,
// after the command or before it, else def.
func logSetting(c *cli.Context, name, def string) string {
	for _, ctx := range c.Lineage() {
		if slices.Contains(ctx.LocalFlagNames(), name) {
			return ctx.String(name)
		}
	}
	return def
}

// usageError makes bad flags exit with code and a pointer to --help.
func usageError(code int) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, isSubcommand bool) error {
		name := "shroud"
		if c.Command != nil && c.Command.Name != "" {
			name += " " + c.Command.Name
		}
		return withCode(code, fmt.Errorf("%v (see %s --help)", err, name))
	}
}

func setupLogging(w io.Writer, format, level string) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return withCode(child.ExitUsage, fmt.Errorf("--log-level %q: want debug, info, warn or error", level))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, opts)))
	case "json":
		logJSON = true
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, opts)))
	default:
		return withCode(child.ExitUsage, fmt.Errorf("--log-format %q: want text or json", format))
	}
	return nil
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

// configFlag is --config, also read from SHROUD_CONFIG.
func configFlag(required bool) *cli.StringFlag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"SHROUD_CONFIG"}, Required: required,
		Usage: "read the config `FILE` (shroud.toml)"}
}

func regionFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "region", Usage: "default AWS `REGION` for references by name (overrides the config and AWS_REGION)"}
}

// help trims a raw-string help text; urfave indents it.
func help(s string) string { return strings.TrimSpace(s) }
