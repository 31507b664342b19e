package child

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/timer"
)

// Defaults of the Input fields left zero.
const (
	DefaultStopSignal        = unix.SIGTERM
	DefaultStopTimeout       = 10 * time.Second
	DefaultRestartBackoff    = time.Second
	DefaultMaxRestartBackoff = time.Minute
	DefaultMinUptime         = 10 * time.Second
	DefaultCrashLimit        = 5
)

// outputDrain bounds the wait for the last of a child's output once it has
// exited: a process it left behind may hold its stdout open for ever.
const outputDrain = time.Second

var (
	// ErrStopped is returned by the verbs of a Supervisor whose supervision
	// has ended.
	ErrStopped = errors.New("supervision has ended")
	// ErrNoChild is returned by Signal between two runs of the child, while
	// a restart waits for its backoff.
	ErrNoChild = errors.New("no child is running: a restart is waiting for its backoff")
)

// Input configures a Supervisor. Zero values are the defaults.
type Input struct {
	// Argv is the command and its arguments. Argv[0] is looked up in the
	// PATH of Env as a shell does.
	Argv []string
	// Env is the child's environment; nil is shroud's own, as in os/exec.
	Env []string
	// Dir is the child's working directory; empty is shroud's.
	Dir string
	// Stdin, Stdout and Stderr are the child's stdio. An *os.File is
	// inherited as it is, so a terminal stays a terminal; any other Reader
	// or Writer is copied through a pipe; nil is /dev/null. A Writer that
	// is an io.ReaderFrom is given each run's pipe to read, and must be safe
	// for calls that overlap (the output of a run that ended may still come
	// while the next run writes); other Writers are locked for it.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// SignalGroup sends every signal, forwarded or sent, to the child's
	// process group, so the processes it started get them too.
	SignalGroup bool
	// StopSignal asks the child to stop, on Stop and Restart: SIGTERM by
	// default.
	StopSignal syscall.Signal
	// StopTimeout is how long the child may take to exit after StopSignal
	// before it is killed with SIGKILL: 10s by default.
	StopTimeout time.Duration

	// A run that lives less than MinUptime (10s) is short-lived. Starts
	// after a short-lived run are spaced by RestartBackoff (1s), doubled for
	// each further short-lived run up to MaxRestartBackoff (1m).
	RestartBackoff, MaxRestartBackoff, MinUptime time.Duration
	// CrashLimit is how many times in a row a restarted child may crash
	// (exit non-zero or die of a signal, on its own, while short-lived)
	// and be started again before supervision gives up: 5 by default.
	CrashLimit int

	// Log receives the supervisor's diagnostics: pids, signals, statuses,
	// never the environment. Nil discards them.
	Log *slog.Logger
}

// Supervisor runs one command as shroud's child and stays its parent, the
// way an init does: it forwards the signals shroud receives, reaps every
// zombie (as PID 1, or else as the child subreaper; on darwin, which has
// none, its child only), stops the child gracefully, restarts it with a
// fresh environment, and reports its exit status. Every process operation
// happens on one goroutine, in the shape of tini's main loop, so a pid is
// never signalled after it was reaped.
type Supervisor struct {
	in      Input
	stdio   *stdio
	log     *slog.Logger
	reqs    chan request
	done    chan struct{}
	started atomic.Bool
	pid     atomic.Int64
	code    int
	err     error

	startHook func(pid int, at time.Time) // tests: each run's start, as the backoff measures it
}

// New checks in and returns a Supervisor that has not started.
func New(in Input) (*Supervisor, error) {
	if len(in.Argv) == 0 {
		return nil, &StartError{Code: ExitFailure, Err: errors.New("no command given")}
	}
	if in.Env == nil {
		in.Env = os.Environ()
	}
	if in.StopSignal == 0 {
		in.StopSignal = DefaultStopSignal
	}
	if in.StopSignal < 1 || in.StopSignal > maxSignal {
		return nil, fmt.Errorf("stop signal %d: a signal number is from 1 to %d", in.StopSignal, maxSignal)
	}
	setDefault(&in.StopTimeout, DefaultStopTimeout)
	setDefault(&in.RestartBackoff, DefaultRestartBackoff)
	setDefault(&in.MaxRestartBackoff, DefaultMaxRestartBackoff)
	setDefault(&in.MinUptime, DefaultMinUptime)
	if in.CrashLimit <= 0 {
		in.CrashLimit = DefaultCrashLimit
	}
	log := in.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{
		in:    in,
		stdio: newStdio(in.Stdin, in.Stdout, in.Stderr),
		log:   log,
		reqs:  make(chan request),
		done:  make(chan struct{}),
	}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Supervise runs in until the child's end and returns the status shroud
// exits with: the child's (128+N for signal N), or the code of the start
// failure.
func Supervise(in Input) (int, error) {
	s, err := New(in)
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		return ExitCode(err), err
	}
	return s.Wait()
}

// Start starts the child and its supervision. A child that cannot start is
// reported as a *StartError, with nothing left running.
func (s *Supervisor) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("child: Supervisor started twice")
	}
	s.becomeReaper()
	// Signals are caught before the fork so none is missed: those that
	// arrive first wait in the channels until the loop runs.
	l := &loop{s: s, env: s.in.Env}
	l.sigs = make(chan os.Signal, 32)
	l.chld = make(chan os.Signal, 1) // one pending SIGCHLD is enough: a reap takes all
	l.pipe = make(chan os.Signal, 1)
	signal.Notify(l.sigs, forwardable()...)
	signal.Notify(l.chld, unix.SIGCHLD)
	signal.Notify(l.pipe, unix.SIGPIPE)
	l.tty = foregroundTerminal(s.in.Stdin)
	l.jobControl = hasControllingTerminal()

	p, err := s.stdio.start(s.in.Argv, l.env, s.in.Dir, l.tty)
	if err != nil {
		signal.Stop(l.sigs)
		signal.Stop(l.chld)
		s.code, s.err = ExitCode(err), err
		close(s.done)
		return err
	}
	l.run(p)
	s.log.Debug("child started", "pid", p.pid, "command", s.in.Argv[0], "terminal", l.tty != nil, "signal_group", s.in.SignalGroup)
	go l.loop()
	return nil
}

// becomeReaper makes orphaned descendants shroud's to reap: PID 1 gets them
// from the kernel; any other process must ask to be their subreaper, which
// only Linux offers (see reap_darwin.go).
func (s *Supervisor) becomeReaper() {
	if os.Getpid() == 1 {
		s.log.Debug("running as PID 1: reaping every orphan")
		return
	}
	if err := becomeSubreaper(); err != nil {
		s.log.Warn("cannot become the child subreaper: orphans of the child will not be reaped by shroud", "error", err)
	}
}

// Signal sends sig to the child, or to its process group with SignalGroup.
func (s *Supervisor) Signal(sig syscall.Signal) error {
	return s.call(request{op: opSignal, sig: sig})
}

// Restart stops the child gracefully (StopSignal, then SIGKILL after
// StopTimeout) and starts it again with env; nil env keeps the current one.
// It returns once the new child runs. Restarts asked for while one is
// pending are merged into it, with the latest env. Starts are spaced by the
// backoff while runs are short-lived.
func (s *Supervisor) Restart(env []string) error {
	return s.call(request{op: opRestart, env: env})
}

// Stop stops the child gracefully (StopSignal, then SIGKILL after
// StopTimeout) and ends supervision; it returns once the child is reaped.
// Wait then reports how the child ended.
func (s *Supervisor) Stop() {
	if s.call(request{op: opStop}) == nil {
		<-s.done
	}
}

// Pid returns the pid of the running child, or 0 between runs and after the
// end.
func (s *Supervisor) Pid() int { return int(s.pid.Load()) }

// Done is closed when supervision has ended: the child exited and was not
// restarted.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Wait waits for the end of supervision and returns the status shroud exits
// with (see ExitStatus), and why supervision gave up, if it did.
func (s *Supervisor) Wait() (int, error) {
	<-s.done
	return s.code, s.err
}

type op int

const (
	opSignal op = iota
	opRestart
	opStop
)

type request struct {
	op    op
	sig   syscall.Signal
	env   []string
	reply chan error
}

func (s *Supervisor) call(r request) error {
	if !s.started.Load() {
		return errors.New("child: Supervisor not started")
	}
	r.reply = make(chan error, 1)
	select {
	case s.reqs <- r:
	case <-s.done:
		return ErrStopped
	}
	select {
	case err := <-r.reply:
		return err
	case <-s.done:
		select {
		case err := <-r.reply:
			return err
		default:
			return ErrStopped
		}
	}
}

// loop is the state of supervision, owned by the goroutine running loop.
type loop struct {
	s                *Supervisor
	sigs, chld, pipe chan os.Signal
	tty              *terminal
	jobControl       bool // shroud has a controlling terminal: see childStopped

	cur        *proc     // the running child; nil between runs
	last       *proc     // the latest run, running or not
	lastStart  time.Time // the latest start, or attempt to start
	env        []string  // the environment of the next run
	lastStatus int
	shortLived int // runs in a row that lived less than MinUptime
	crashes    int // restarted runs in a row that crashed

	restartWaiters []chan error
	stopping       bool // Stop was called: no run after this one

	stopTimer  *time.Timer // a pending restart stops the child when it fires
	killTimer  *time.Timer // SIGKILL for a child that ignores the stop signal
	startTimer *time.Timer // the next run starts when it fires

	end *ending // set when supervision must end

	ownZombie      int       // a zombie in shroud's group, left to its Wait (reap_linux.go)
	ownZombieSince time.Time // when reap first saw it
}

type ending struct {
	code int
	err  error
}

func (l *loop) loop() {
	l.reap() // a SIGCHLD may have come before the loop
	for l.end == nil {
		select {
		case sig := <-l.sigs:
			l.onSignal(sig.(syscall.Signal))
		case <-l.chld:
			l.reap()
		case <-l.pipe:
			// shroud's own write to a broken pipe or socket (or a
			// kill -PIPE, which looks the same): never forwarded.
			// Not logged either: the broken pipe may be stderr.
		case r := <-l.s.reqs:
			l.onRequest(r)
		case <-timer.C(l.stopTimer):
			l.stopTimer = nil
			l.stopChild()
		case <-timer.C(l.killTimer):
			l.killTimer = nil
			if l.cur != nil {
				l.s.log.Warn("child did not stop in time: killing it", "pid", l.cur.pid, "stop_timeout", l.s.in.StopTimeout.String())
				l.kill(unix.SIGKILL)
			}
		case <-timer.C(l.startTimer):
			l.startTimer = nil
			l.startNext()
		}
	}
	l.finish()
}

func (l *loop) run(p *proc) {
	l.cur, l.last, l.lastStart = p, p, p.started
	l.s.pid.Store(int64(p.pid))
	if l.s.startHook != nil {
		l.s.startHook(p.pid, p.started)
	}
}

func (l *loop) onSignal(sig syscall.Signal) {
	switch {
	case l.cur == nil:
		if terminating(sig) {
			l.s.log.Info("signal received between runs: ending supervision", "signal", SignalName(sig))
			l.end = &ending{code: SignalStatus(sig)}
			return
		}
		l.s.log.Debug("signal dropped: no child runs until the restart", "signal", SignalName(sig))
	case sig == unix.SIGCONT && l.cur.stopped:
		l.resume()
	default:
		l.s.log.Debug("forwarding signal", "signal", SignalName(sig), "pid", l.cur.pid, "group", l.s.in.SignalGroup)
		l.kill(sig)
		if terminating(sig) && l.cur.stopped {
			// A child stopped by job control cannot act on the signal
			// until it runs again: docker stop would wait for its
			// SIGKILL.
			l.resume()
		}
		if terminating(sig) {
			// Whoever sent it wants the child to end (docker stop,
			// Ctrl-C): its end is not a crash to retry, and a
			// pending restart must not bring it back.
			l.cur.terminated = true
			if len(l.restartWaiters) > 0 {
				l.s.log.Info("restart cancelled: the child was sent a terminating signal", "signal", SignalName(sig))
				l.stopping = true
				timer.Stop(&l.stopTimer)
				l.replyRestart(ErrStopped)
			}
		}
	}
}

// kill sends sig to the child, or to its process group.
func (l *loop) kill(sig syscall.Signal) error {
	target := l.cur.pid
	if l.s.in.SignalGroup {
		target = -target
	}
	err := unix.Kill(target, sig)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		l.s.log.Warn("cannot signal the child", "signal", SignalName(sig), "pid", l.cur.pid, "error", err)
	}
	return err
}

// reap collects every child that changed state: the main child's status is
// kept; orphans, where shroud gets them, are reaped (see reapOrphans).
func (l *loop) reap() {
	if l.cur != nil {
		l.reapChild()
	}
	l.reapOrphans()
}

// reapChild collects the main child's changes of state: stopped,
// continued, ended.
func (l *loop) reapChild() {
	for l.cur != nil {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(l.cur.pid, &ws, unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		switch {
		case ws.Stopped():
			l.childStopped(ws.StopSignal())
		case ws.Continued():
			l.cur.stopped = false
		default:
			l.childExited(syscall.WaitStatus(ws))
		}
	}
}

// childStopped follows the child when job control stops it (Ctrl-Z, or a
// background read of the terminal): shroud gives the terminal back and stops
// itself, so the shell sees the job stop and can resume it with fg or bg, as
// without shroud. Without a controlling terminal there is no such shell, and
// PID 1 has none above it: shroud keeps running (answering /healthz,
// forwarding signals) and the child stays stopped until a SIGCONT.
func (l *loop) childStopped(sig syscall.Signal) {
	l.cur.stopped = true
	l.s.log.Debug("child stopped", "signal", SignalName(sig), "pid", l.cur.pid)
	switch sig {
	case unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
	default:
		return
	}
	if os.Getpid() == 1 || !l.jobControl {
		return
	}
	l.s.log.Debug("child stopped by job control: stopping shroud", "signal", SignalName(sig), "pid", l.cur.pid)
	if l.tty != nil {
		l.tty.reclaim(l.cur.pid)
	}
	unix.Kill(os.Getpid(), unix.SIGSTOP)
	// Running again: SIGCONT is on its way to l.sigs and resumes the child.
}

// resume continues a stopped child's process group, in the foreground if
// shroud was continued in the foreground (fg) and in the background if not
// (bg).
func (l *loop) resume() {
	l.cur.stopped = false
	if l.tty != nil && l.tty.foreground() == l.tty.pgrp {
		if err := l.tty.handTo(l.cur.pid); err != nil {
			l.s.log.Debug("cannot hand the terminal to the child", "error", err)
		}
	}
	unix.Kill(-l.cur.pid, unix.SIGCONT)
}

func (l *loop) childExited(ws syscall.WaitStatus) {
	p := l.cur
	l.cur = nil
	l.s.pid.Store(0)
	close(p.gone)
	timer.Stop(&l.killTimer)
	timer.Stop(&l.stopTimer)
	if l.tty != nil {
		l.tty.reclaim(p.pid)
	}
	status := ExitStatus(ws)
	l.lastStatus = status
	uptime := time.Since(p.started)
	short := uptime < l.s.in.MinUptime
	if short {
		l.shortLived++
	} else {
		l.shortLived, l.crashes = 0, 0
	}
	l.s.log.Debug("child exited", "pid", p.pid, "status", status, "uptime", uptime.Round(time.Millisecond).String())

	switch {
	case l.stopping:
		l.end = &ending{code: status}
	case len(l.restartWaiters) > 0:
		l.startAfterBackoff()
	case p.byRestart && !p.stopping && !p.terminated && short && status != 0:
		l.crashes++
		if l.crashes >= l.s.in.CrashLimit {
			err := fmt.Errorf("the restarted child crashed %d times in a row (last exit status %d): giving up", l.crashes, status)
			l.s.log.Error("crash loop: giving up", "crashes", l.crashes, "status", status)
			l.end = &ending{code: status, err: err}
			return
		}
		l.s.log.Warn("restarted child crashed: starting it again", "pid", p.pid, "status", status,
			"uptime", uptime.Round(time.Millisecond).String(), "crashes", l.crashes, "limit", l.s.in.CrashLimit)
		l.startAfterBackoff()
	default:
		l.end = &ending{code: status}
	}
}

// backoff is the least time between the start of the latest run and the
// next, given n short-lived runs in a row.
func (l *loop) backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := l.s.in.RestartBackoff
	for i := 1; i < n && d < l.s.in.MaxRestartBackoff; i++ {
		d *= 2
	}
	return min(d, l.s.in.MaxRestartBackoff)
}

// untilBackoff is how long the next start must wait.
func (l *loop) untilBackoff(n int) time.Duration {
	return time.Until(l.lastStart.Add(l.backoff(n)))
}

func (l *loop) startAfterBackoff() {
	if wait := l.untilBackoff(l.shortLived); wait > 0 {
		l.s.log.Debug("waiting before the next start", "backoff", wait.Round(time.Millisecond).String())
		l.startTimer = time.NewTimer(wait)
		return
	}
	l.startNext()
}

func (l *loop) startNext() {
	tty := l.tty
	if tty != nil && tty.foreground() != tty.pgrp {
		tty = nil // shroud was put in the background: so is the new run
	}
	p, err := l.s.stdio.start(l.s.in.Argv, l.env, l.s.in.Dir, tty)
	if err != nil {
		// A run that cannot start counts as a crash.
		l.replyRestart(err)
		code := ExitCode(err)
		l.lastStatus = code
		l.shortLived++
		l.crashes++
		if l.crashes >= l.s.in.CrashLimit {
			l.s.log.Error("cannot start the child: giving up", "error", err, "attempts", l.crashes)
			l.end = &ending{code: code, err: err}
			return
		}
		l.s.log.Warn("cannot start the child: trying again", "error", err, "attempts", l.crashes, "limit", l.s.in.CrashLimit)
		l.lastStart = time.Now() // attempts are spaced as starts are
		l.startAfterBackoff()
		return
	}
	p.byRestart = true
	l.run(p)
	l.s.log.Info("child restarted", "pid", p.pid)
	l.replyRestart(nil)
}

func (l *loop) replyRestart(err error) {
	for _, w := range l.restartWaiters {
		w <- err
	}
	l.restartWaiters = nil
}

func (l *loop) onRequest(r request) {
	switch r.op {
	case opSignal:
		if l.cur == nil {
			r.reply <- ErrNoChild
			return
		}
		err := l.kill(r.sig)
		if err == nil {
			l.s.log.Info("signalled the child", "signal", SignalName(r.sig), "pid", l.cur.pid, "group", l.s.in.SignalGroup)
		}
		r.reply <- err
	case opRestart:
		if l.stopping {
			r.reply <- ErrStopped
			return
		}
		if r.env != nil {
			l.env = r.env
		}
		l.restartWaiters = append(l.restartWaiters, r.reply)
		if l.cur == nil || l.cur.stopping || l.stopTimer != nil {
			l.s.log.Debug("restart merged into the one under way")
			return
		}
		n := 0
		if time.Since(l.cur.started) < l.s.in.MinUptime {
			n = l.shortLived + 1 // the current run will have been short-lived
		}
		if wait := l.untilBackoff(n); wait > 0 {
			l.s.log.Debug("restart waits for the backoff", "backoff", wait.Round(time.Millisecond).String())
			l.stopTimer = time.NewTimer(wait)
			return
		}
		l.stopChild()
	case opStop:
		l.stopping = true
		timer.Stop(&l.stopTimer)
		timer.Stop(&l.startTimer)
		l.replyRestart(ErrStopped)
		r.reply <- nil
		switch {
		case l.cur == nil:
			l.end = &ending{code: l.lastStatus}
		case !l.cur.stopping:
			l.stopChild()
		}
	}
}

// stopChild sends the stop signal and arms the SIGKILL timer.
func (l *loop) stopChild() {
	if l.cur == nil || l.cur.stopping {
		return
	}
	l.cur.stopping = true
	l.s.log.Debug("stopping child", "pid", l.cur.pid, "signal", SignalName(l.s.in.StopSignal))
	if l.cur.stopped {
		l.resume() // a stopped process cannot act on the stop signal
	}
	l.kill(l.s.in.StopSignal)
	l.killTimer = time.NewTimer(l.s.in.StopTimeout)
}

// finish ends supervision: the last output is flushed, forwarding stops and
// Wait returns. SIGPIPE stays caught until shroud exits, so that reporting
// the end on a broken stderr cannot kill shroud with the wrong status.
func (l *loop) finish() {
	timer.Stop(&l.stopTimer)
	timer.Stop(&l.killTimer)
	timer.Stop(&l.startTimer)
	l.replyRestart(ErrStopped)
	if l.last != nil {
		l.last.waitOutput(outputDrain)
	}
	signal.Stop(l.sigs)
	signal.Stop(l.chld)
	l.s.code, l.s.err = l.end.code, l.end.err
	close(l.s.done)
	// Requests that raced with the end get ErrStopped from call.
}
