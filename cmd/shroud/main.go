// Command shroud resolves secret references into environment variables and
// files, then runs a command with them.
package main

import (
	"embed"
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

// report prints err for a person: one problem a line. With --log-format
// json it is one JSON log record instead.
func report(w io.Writer, err error) {
	errs := []error{err}
	var merr *multierror.Error
	if errors.As(err, &merr) {
		errs = merr.Errors
	}
	if !logJSON {
		fmt.Fprintf(w, "shroud: %s\n", config.FormatErrors(errs))
		return
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	slog.New(slog.NewJSONHandler(w, nil)).Error("shroud failed", "errors", msgs)
}

var logJSON bool

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                      "shroud",
		Usage:                     "resolve secret references into env vars and files, then run a command",
		Description:               describe("shroud"),
		Version:                   buildVersion(),
		Writer:                    stdout,
		ErrWriter:                 stderr,
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		EnableBashCompletion:      true,
		Flags:                     logFlags(true),
		Action:                    rootAction,
		ExitErrHandler:            func(*cli.Context, error) {}, // Main chooses the status
		Commands: []*cli.Command{
			runCommand(),
			sidecarCommand(),
			renderCommand(stdout),
			checkCommand(stdout),
			getCommand(stdout),
			policyCommand(stdout),
			completionCommand(stdout),
			{
				Name:   "version",
				Usage:  "print shroud's version",
				Action: func(c *cli.Context) error { fmt.Fprintln(stdout, buildVersion()); return nil },
			},
		},
	}
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usage(c, err) }
	for _, cmd := range app.Commands {
		// The diagnostics flags are accepted before the command and after
		// it (shroud run --log-level debug ...); urfave/cli does not
		// inherit flags. Their environment variables are read once, by the
		// app's flags, so that a flag given anywhere wins over them.
		cmd.Flags = append(cmd.Flags, logFlags(false)...)
		cmd.OnUsageError = app.OnUsageError
		required := takeRequired(cmd)
		cmd.Before = func(c *cli.Context) error {
			err := setupLogging(stderr, logSetting(c, "log-format", "text"), logSetting(c, "log-level", "info"))
			if err != nil {
				return usage(c, err)
			}
			for _, f := range required {
				if c.String(f.Name) == "" {
					return usage(c, fmt.Errorf("--%s is required (or $%s)", f.Name, strings.Join(f.EnvVars, ", $")))
				}
			}
			return nil
		}
	}
	return app
}

// rootAction runs when no command is named: shroud alone, and shroud help
// [COMMAND], print the help; any other word is not a command.
func rootAction(c *cli.Context) error {
	args := c.Args()
	switch first, topic := args.First(), args.Get(1); {
	case first == "" || first == "help" && args.Len() == 1:
		return cli.ShowAppHelp(c)
	case first == "help" && args.Len() == 2 && c.App.Command(topic) != nil:
		return cli.ShowCommandHelp(c, topic)
	case first == "help":
		first = strings.Join(args.Tail(), " ")
		fallthrough
	default:
		return usage(c, fmt.Errorf("unknown command %q", first))
	}
}

// takeRequired takes over the checks of cmd's required flags, each with
// an environment variable: urfave/cli prints the whole help before a
// missing flag's error, and shroud says it in one line.
func takeRequired(cmd *cli.Command) []*cli.StringFlag {
	var required []*cli.StringFlag
	for _, f := range cmd.Flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
			sf.Required = false
			required = append(required, sf)
		}
	}
	return required
}

// logFlags are the diagnostics flags; withEnv, also read from the
// environment (the app's copies).
func logFlags(withEnv bool) []cli.Flag {
	format := &cli.StringFlag{Name: "log-format", Usage: "diagnostics format on stderr: text or json (default: text)"}
	level := &cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error (default: info)"}
	if withEnv {
		format.EnvVars, level.EnvVars = []string{"SHROUD_LOG_FORMAT"}, []string{"SHROUD_LOG_LEVEL"}
	} else {
		format.Usage = "diagnostics format on stderr: text or json (default: text, or $SHROUD_LOG_FORMAT)"
		level.Usage = "debug, info, warn or error (default: info, or $SHROUD_LOG_LEVEL)"
	}
	return []cli.Flag{format, level}
}

// logSetting returns the value of a diagnostics flag where it was given,
// after the command or before it (or in its environment variable), else
// def.
func logSetting(c *cli.Context, name, def string) string {
	for _, ctx := range c.Lineage() {
		if slices.Contains(ctx.LocalFlagNames(), name) {
			return ctx.String(name)
		}
	}
	return def
}

// usage is a usage error of the command c runs: one line that points to
// its --help. It exits 2, but from run 125 (DESIGN §6: shroud failed
// before the child started; a child's own 2 stays the child's).
func usage(c *cli.Context, err error) error {
	name, code := "shroud", child.ExitUsage
	if c.Command != nil && c.Command.HelpName != "" && c.Command.Name != c.App.Name {
		name = c.Command.HelpName
	}
	if c.Command != nil && c.Command.Name == "run" {
		code = child.ExitFailure
	}
	return &codedError{code: code, err: fmt.Errorf("%v (see %s --help)", err, name)}
}

func setupLogging(w io.Writer, format, level string) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, opts)))
	case "json":
		logJSON = true
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, opts)))
	default:
		return fmt.Errorf("--log-format %q: want text or json", format)
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
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"SHROUD_CONFIG"}, Required: required, TakesFile: true,
		Usage: "read the config `FILE` (shroud.toml)"}
}

func regionFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "region", Usage: "default AWS `REGION` for references by name (overrides the config and AWS_REGION)"}
}

// helpTexts are the commands' descriptions in their --help.
//
//go:embed help
var helpTexts embed.FS

// describe is the description of a command in its --help: help/NAME.txt.
func describe(name string) string {
	text, err := helpTexts.ReadFile("help/" + name + ".txt")
	if err != nil {
		panic(err) // a build without its help text: any test of the binary fails
	}
	return strings.TrimSpace(string(text))
}
