package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/signal"
)

// notifyTimeout bounds one HTTP notification and one notify command.
const notifyTimeout = 30 * time.Second

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
		OnUsageError: usageError(2),
		Action:       sidecar,
	}
}

func sidecar(c *cli.Context) error {
	spec, opts, err := buildSpec(c)
	if err != nil {
		return withCode(1, err)
	}
	if len(spec.Env) > 0 {
		slog.Warn("[[secrets]] bindings are ignored by shroud sidecar: there is no child to give env vars to", "count", len(spec.Env))
	}
	spec.Env, spec.Plain = nil, nil
	rot := opts.Rotation
	rot.Enabled = true // keeping files fresh is what a sidecar is for
	n, err := newNotifier(c, rot)
	if err != nil {
		return withCode(2, err)
	}
	var adm *admin
	if c.String("listen") != "" {
		addr, err := listenAddress(c.String("listen"))
		if err == nil {
			adm, err = startAdmin(addr, newMetrics())
		}
		if err != nil {
			return withCode(1, err)
		}
		defer adm.close()
		n.metrics = adm.metrics
	}
	ctx, stop := ossignal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The first render: retried until it succeeds, since the application
	// waits for it (/readyz) and a backend may come up after the pod.
	resolver := newResolver(opts)
	var (
		vals inject.Values
		m    *inject.Materialized
	)
	for attempt := 1; ; attempt++ {
		if vals, m, err = materialize(ctx, spec, resolver); err == nil {
			_, err = m.WriteFiles()
		}
		if err == nil {
			break
		}
		wait := min(time.Second<<min(attempt-1, 6), time.Minute)
		slog.Error("first render failed: not ready; trying again", "error", err, "attempt", attempt, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return withCode(1, errors.New("stopped before the first render succeeded"))
		case <-time.After(wait):
		}
	}
	adm.setReady()
	slog.Info("files rendered: ready", "files", len(m.Files))
	settle()

	err = inject.Watch(ctx, inject.WatchInput{
		Spec: spec, Resolver: resolver, Rotation: rot,
		Values: vals, Current: m, Target: n, Refresh: adm.refreshes(),
		Events: adm.events(), Log: slog.Default(),
	})
	switch {
	case errors.Is(err, inject.ErrExit):
		return &codedError{code: inject.ExitRotated}
	case ctx.Err() != nil:
		slog.Info("stopping")
		return nil
	}
	return withCode(1, err)
}

// notifier tells the application that its files changed, in every way the
// flags give. It is the sidecar's inject.Target: without a child, a
// restart too is a notification (after the restart's settle and splay).
type notifier struct {
	sig     syscall.Signal
	pid     int
	pidfile string
	process string
	url     string
	command string
	client  *http.Client
	metrics *metrics

	mu      sync.Mutex
	busy    bool // a notification is running
	pending bool // and another was asked for since it started
}

func newNotifier(c *cli.Context, rot inject.Rotation) (*notifier, error) {
	n := &notifier{sig: rot.Signal, pid: c.Int("notify-pid"), pidfile: c.String("notify-pidfile"),
		process: c.String("notify-process"), url: c.String("notify-url"), command: c.String("notify-command"),
		client: &http.Client{Timeout: notifyTimeout}}
	if s := c.String("notify-signal"); s != "" {
		sig, err := signal.ParseSignal(s)
		if err != nil {
			return nil, fmt.Errorf("--notify-signal: %v", err)
		}
		n.sig = sig
	}
	targets := 0
	for _, set := range []bool{c.IsSet("notify-pid"), n.pidfile != "", n.process != ""} {
		if set {
			targets++
		}
	}
	switch {
	case targets > 1:
		return nil, errors.New("give one of --notify-pid, --notify-pidfile and --notify-process")
	case c.IsSet("notify-pid") && n.pid <= 1:
		return nil, fmt.Errorf("--notify-pid %d: want the application's pid (not 1, the pod's pause process or an init)", n.pid)
	case c.IsSet("notify-signal") && targets == 0:
		return nil, errors.New("--notify-signal needs a process to signal: --notify-pid, --notify-pidfile or --notify-process")
	}
	if n.url != "" {
		u, err := url.Parse(n.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--notify-url %q: want an http:// or https:// URL", n.url)
		}
	}
	if targets == 0 && n.url == "" && n.command == "" {
		slog.Warn("no --notify-* flag: files are kept fresh, and the application is not told")
	}
	return n, nil
}

// Signal notifies the application in every way given; sig is the watch
// loop's rotation signal, which --notify-signal overrides.
//
// It returns at once: the notification runs in its own goroutine, so an
// application endpoint or command that takes its time (up to
// notifyTimeout) holds up neither the next refresh nor other files.
// Notifications never overlap: one asked for while another runs follows
// it, and several asked for meanwhile go out as one, since each says only
// that the files changed and the files are the newest by then. Failures
// are logged and counted in shroud_notifications_total.
func (n *notifier) Signal(syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.busy {
		n.pending = true
		return nil
	}
	n.busy = true
	go func() {
		for {
			if err := n.notify(); err != nil {
				slog.Warn("cannot notify the application", "error", err)
			}
			n.mu.Lock()
			again := n.pending
			n.pending, n.busy = false, again
			n.mu.Unlock()
			if !again {
				return
			}
		}
	}()
	return nil
}

// notify notifies the application once, in every way given.
func (n *notifier) notify() error {
	var errs *multierror.Error
	if n.pid != 0 || n.pidfile != "" || n.process != "" {
		err := n.signal()
		n.metrics.notified("signal", err)
		errs = multierror.Append(errs, err)
	}
	if n.url != "" {
		err := n.post()
		n.metrics.notified("url", err)
		errs = multierror.Append(errs, err)
	}
	if n.command != "" {
		err := n.run()
		n.metrics.notified("command", err)
		errs = multierror.Append(errs, err)
	}
	return errs.ErrorOrNil()
}

// Restart notifies too: the application decides what a change means.
func (n *notifier) Restart([]string) error { return n.Signal(n.sig) }

func (n *notifier) signal() error {
	var pids []int
	switch {
	case n.pid != 0:
		pids = []int{n.pid}
	case n.pidfile != "":
		pid, err := readPidfile(n.pidfile)
		if err != nil {
			return err
		}
		pids = []int{pid}
	default:
		pids = findProcesses(n.process)
		if len(pids) == 0 {
			return fmt.Errorf("no process named %q in /proc (does the pod set shareProcessNamespace: true?)", n.process)
		}
	}
	var errs *multierror.Error
	for _, pid := range pids {
		if err := syscall.Kill(pid, n.sig); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("signalling pid %d: %w", pid, err))
			continue
		}
		slog.Info("notified the application", "signal", signalText(n.sig), "pid", pid)
	}
	return errs.ErrorOrNil()
}

// maxPidfile bounds what is read of a pidfile.
const maxPidfile = 64

// readPidfile reads a pid written as decimal text, as daemons write it.
func readPidfile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("--notify-pidfile: %w", err)
	}
	defer f.Close()
	buf := make([]byte, maxPidfile)
	k, _ := f.Read(buf)
	return parsePid(path, buf[:k])
}

// parsePid reads the pid of a pidfile's text.
func parsePid(path string, data []byte) (int, error) {
	text := strings.TrimSpace(string(data))
	pid, err := strconv.Atoi(text)
	if err != nil || pid <= 1 || pid > 1<<22 {
		return 0, fmt.Errorf("--notify-pidfile %s does not hold a process id (want a number above 1)", path)
	}
	return pid, nil
}

// findProcesses lists the processes named name: by their command name (the
// kernel keeps 15 bytes of it) or the base name of their argv[0]. shroud
// itself is never one.
func findProcesses(name string) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		match := strings.TrimSuffix(string(comm), "\n") == name
		if !match {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			argv0, _, _ := bytes.Cut(cmdline, []byte{0})
			match = len(argv0) > 0 && filepath.Base(string(argv0)) == name
		}
		if match {
			pids = append(pids, pid)
		}
	}
	return pids
}

// notice is the body of --notify-url: what happened, never a value.
type notice struct {
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
}

func (n *notifier) post() error {
	body, _ := json.Marshal(notice{Event: "secrets_changed", Time: time.Now().UTC()})
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "shroud/"+buildVersion())
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the whole URL
		}
		return fmt.Errorf("--notify-url %s: %w", safeURL(n.url), err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("--notify-url %s: the application answered %s", safeURL(n.url), resp.Status)
	}
	slog.Info("notified the application", "url", safeURL(n.url), "status", resp.StatusCode)
	return nil
}

func (n *notifier) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", n.command)
	cmd.Env = append(os.Environ(), "SHROUD_EVENT=secrets_changed")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("--notify-command: %w", err)
	}
	slog.Info("notified the application", "command", "sh -c (--notify-command)")
	return nil
}

// signalText names a signal for logs: "SIGHUP", or "signal 40".
func signalText(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return sig.String()
}

// safeURL is a URL as logs and errors may show it: without user
// information, query or fragment, which may carry a token.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
