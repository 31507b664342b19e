package child

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Which signals a supervising shroud relays to its child, and why the others
// are not relayed.
//
// Forwarded: every signal a Go program can catch (os/signal refuses the rest)
// except the five below. That is SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGUSR1,
// SIGUSR2, SIGALRM, SIGTERM, SIGTSTP, SIGCONT, SIGXCPU, SIGXFSZ, SIGVTALRM,
// SIGWINCH, SIGIO, SIGPWR and the real-time signals 35..64 on Linux; on
// darwin, which has signals 1..31 only, SIGINFO (Ctrl-T) instead of SIGPWR
// and the real-time signals.
//
// Not forwarded:
//   - SIGCHLD: it tells shroud to reap; it is about shroud's children, not
//     for them.
//   - SIGURG: the Go runtime sends it to its own threads to preempt
//     goroutines, many times a second under load. A kill -URG cannot be told
//     apart from those, so none is forwarded.
//   - SIGPIPE: the kernel raises it in shroud when shroud itself writes to a
//     pipe or socket whose reader is gone (a closed log pipe, an admin or
//     backend connection reset by its peer). Once os/signal.Notify asks for
//     SIGPIPE, the runtime delivers those to the channel for every file
//     descriptor, and they arrive exactly like a kill -PIPE from another
//     process: both carry si_code SI_USER (see the comment in the runtime's
//     signal_unix.go), and os/signal exposes no sender. Forwarding them would
//     kill a healthy child for shroud's own broken connection. So shroud
//     catches SIGPIPE, which keeps a broken stderr from killing shroud and
//     orphaning the child, and drops it: a kill -PIPE sent to shroud does not
//     reach the child. The child still gets its own SIGPIPE when it writes to
//     a broken pipe, since the signal is not ignored in the child.
//   - SIGTTIN, SIGTTOU: the terminal stops a background process that reads
//     from it (or writes, with stty tostop). They are left at their inherited
//     disposition, so they act on shroud as on any program and the child
//     inherits them unchanged; catching them would turn a background write
//     into an endless restart of the write.
//   - SIGKILL and SIGSTOP cannot be caught; SIGILL, SIGTRAP, SIGBUS, SIGFPE,
//     SIGSEGV, SIGSTKFLT (SIGEMT on darwin), SIGSYS and SIGPROF are the
//     runtime's own (a fault or profiling in shroud) and os/signal cannot
//     deliver them (see uncatchable).
//
// SIGHUP and SIGINT are not caught when shroud inherited them ignored (nohup,
// a background job of a non-interactive shell), as the Go runtime itself
// respects: the child then inherits them ignored, as it would without shroud.
var notForwarded = map[syscall.Signal]bool{
	unix.SIGCHLD: true,
	unix.SIGURG:  true,
	unix.SIGPIPE: true,
	unix.SIGTTIN: true,
	unix.SIGTTOU: true,
}

// forwardable returns the signals to relay, in number order.
func forwardable() []os.Signal {
	var sigs []os.Signal
	for n := 1; n <= maxSignal; n++ {
		sig := syscall.Signal(n)
		switch {
		case notForwarded[sig], uncatchable(sig):
			continue
		case (sig == unix.SIGHUP || sig == unix.SIGINT) && signal.Ignored(sig):
			continue
		}
		sigs = append(sigs, sig)
	}
	return sigs
}

// terminating reports the signals people send to end a process (docker stop,
// Ctrl-C, a closed terminal). Forwarded to the child, they make its end
// final: not a crash to retry, and a pending restart is cancelled. Received
// while no child runs (between restarts), they end supervision.
func terminating(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM:
		return true
	}
	return false
}

// ParseSignal reads a signal as users write it in a config or a flag:
// "SIGTERM", "TERM", "term", or a number from 1 to 64 ("15", and "40" for a
// real-time signal; 1 to 31 on darwin, which has none).
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > maxSignal {
			return 0, fmt.Errorf("invalid signal %q: a signal number is from 1 to %d", s, maxSignal)
		}
		return syscall.Signal(n), nil
	}
	name := strings.Map(asciiUpper, s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q: want a name such as SIGTERM or TERM, or a number from 1 to %d", s, maxSignal)
}

func asciiUpper(r rune) rune {
	if 'a' <= r && r <= 'z' {
		return r - ('a' - 'A')
	}
	return r
}

// SignalName names sig for logs: "SIGTERM", or "signal 40".
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return sig.String()
}
