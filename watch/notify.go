package watch

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/child"
	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/bounded"
)

// notifyTimeout bounds one HTTP notification and one notify command.
const notifyTimeout = 30 * time.Second

// AppOptions say how shroud sidecar notifies the application it serves:
// in every way given.
type AppOptions struct {
	// Signal is sent to Pid, the pid in Pidfile, or every process named
	// Process; 0 means the watch loop's rotation signal, DefaultSignal.
	Signal        syscall.Signal
	DefaultSignal syscall.Signal
	Pid           int
	Pidfile       string
	Process       string
	// URL gets an HTTP POST with a JSON body naming the event.
	URL string
	// Command is run with sh -c.
	Command string
	// UserAgent is sent with the POST.
	UserAgent string
	Events    Events
	Log       *slog.Logger
}

// AppNotifier tells the application that its files changed, in every way
// its options give. It is the sidecar's Notifier: without a child, a
// restart too is a notification (after the restart's settle and splay).
type AppNotifier struct {
	opts   AppOptions
	client *http.Client

	mu      sync.Mutex
	busy    bool // a notification is running
	pending bool // and another was asked for since it started
}

// NewAppNotifier checks opts (as Check does) and returns their notifier.
func NewAppNotifier(opts AppOptions) (*AppNotifier, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	if opts.Events == nil {
		opts.Events = NoEvents{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	n := &AppNotifier{opts: opts, client: &http.Client{Timeout: notifyTimeout}}
	if !n.tells() {
		opts.Log.Warn("no --notify-* flag: files are kept fresh, and the application is not told")
	}
	return n, nil
}

// Check reports what is wrong with opts, as a *config.UsageError naming
// the sidecar's flags, before anything is read or written.
func (opts AppOptions) Check() error {
	targets := 0
	for _, set := range []bool{opts.Pid != 0, opts.Pidfile != "", opts.Process != ""} {
		if set {
			targets++
		}
	}
	switch {
	case targets > 1:
		return config.Usagef("give one of --notify-pid, --notify-pidfile and --notify-process")
	case opts.Pid < 0 || opts.Pid == 1:
		return config.Usagef("--notify-pid %d: want the application's pid (not 1, the pod's pause process or an init)", opts.Pid)
	case opts.Signal != 0 && targets == 0:
		return config.Usagef("--notify-signal needs a process to signal: --notify-pid, --notify-pidfile or --notify-process")
	case opts.Process != "" && errNoProcessList != nil:
		return config.Usagef("%v", errNoProcessList)
	}
	if opts.URL != "" {
		u, err := url.Parse(opts.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return config.Usagef("--notify-url %q: want an http:// or https:// URL", opts.URL)
		}
	}
	return nil
}

// signals reports whether a process is to be signalled.
func (opts AppOptions) signals() bool {
	return opts.Pid != 0 || opts.Pidfile != "" || opts.Process != ""
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
func (n *AppNotifier) Signal(sig syscall.Signal) error {
	if !n.tells() {
		n.opts.Log.Info("files changed; the application is not told: no --notify-* flag")
		return nil
	}
	if n.opts.Signal != 0 {
		sig = n.opts.Signal
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.busy {
		n.pending = true
		return nil
	}
	n.busy = true
	go func() {
		for {
			if err := n.notify(sig); err != nil {
				n.opts.Log.Warn("cannot notify the application", "error", err)
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

// tells reports whether the options give any way to tell the application.
func (n *AppNotifier) tells() bool {
	return n.opts.signals() || n.opts.URL != "" || n.opts.Command != ""
}

// notify notifies the application once, in every way given.
func (n *AppNotifier) notify(sig syscall.Signal) error {
	var errs *multierror.Error
	o := n.opts
	if o.signals() {
		err := n.signal(sig)
		o.Events.Notified("signal", err)
		errs = multierror.Append(errs, err)
	}
	if o.URL != "" {
		err := n.post()
		o.Events.Notified("url", err)
		errs = multierror.Append(errs, err)
	}
	if o.Command != "" {
		err := n.run()
		o.Events.Notified("command", err)
		errs = multierror.Append(errs, err)
	}
	return errs.ErrorOrNil()
}

// Restart notifies too: the application decides what a change means.
func (n *AppNotifier) Restart([]string) error { return n.Signal(n.opts.DefaultSignal) }

func (n *AppNotifier) signal(sig syscall.Signal) error {
	var pids []int
	switch {
	case n.opts.Pid != 0:
		pids = []int{n.opts.Pid}
	case n.opts.Pidfile != "":
		pid, err := readPidfile(n.opts.Pidfile)
		if err != nil {
			return err
		}
		pids = []int{pid}
	default:
		pids = findProcesses(n.opts.Process)
		if len(pids) == 0 {
			return fmt.Errorf("no process named %q in /proc (does the pod set shareProcessNamespace: true?)", n.opts.Process)
		}
	}
	var errs *multierror.Error
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("signalling pid %d: %w", pid, err))
			continue
		}
		n.opts.Log.Info("notified the application", "signal", child.SignalName(sig), "pid", pid)
	}
	return errs.ErrorOrNil()
}

// maxPidfile bounds what is read of a pidfile.
const maxPidfile = 64

// readPidfile reads a pid written as decimal text, as daemons write it.
func readPidfile(path string) (int, error) {
	data, _, err := bounded.ReadFile(path, maxPidfile)
	if err != nil {
		return 0, fmt.Errorf("--notify-pidfile: %w", err)
	}
	return parsePid(path, data)
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

// notice is the body of --notify-url: what happened, never a value.
type notice struct {
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
}

func (n *AppNotifier) post() error {
	body, _ := json.Marshal(notice{Event: "secrets_changed", Time: time.Now().UTC()})
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.opts.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.opts.UserAgent)
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the whole URL
		}
		return fmt.Errorf("--notify-url %s: %w", safeURL(n.opts.URL), err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("--notify-url %s: the application answered %s", safeURL(n.opts.URL), resp.Status)
	}
	n.opts.Log.Info("notified the application", "url", safeURL(n.opts.URL), "status", resp.StatusCode)
	return nil
}

func (n *AppNotifier) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", n.opts.Command)
	cmd.Env = append(os.Environ(), "SHROUD_EVENT=secrets_changed")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("--notify-command: %w", err)
	}
	n.opts.Log.Info("notified the application", "command", "sh -c (--notify-command)")
	return nil
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

// statParent reads the parent pid of a /proc/PID/stat line: the field
// after the state, which follows the command name in parentheses (a name
// may hold spaces and parentheses itself, so the last ")" ends it).
func statParent(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}
