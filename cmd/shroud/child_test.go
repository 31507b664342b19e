//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	ossignal "os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/proctest"
	"github.com/shroud-dev/shroud/internal/settest"
)

// e2eChild is this test binary run as the command shroud supervises, chosen
// by SHROUD_E2E_CHILD; it returns the exit status.
//
//	signals   records every signal it gets in $REC, one name a line, after
//	          "start PID PGID PPID"; dies of SIGTERM. GRANDCHILD=1 starts one
//	          more in its process group, recording in $REC.grand.
//	orphans N leaves N orphans (sleeps started by a shell that exits), waits
//	          until all N are orphans of the reaper R (PID 1 or the
//	          subreaper), ends them with SIGTERM, and prints
//	          "reaper=R orphans=M zombies=Z": M orphans seen, Z zombies left
//	          once they all ended.
//	terminal  prints "fg=BOOL" (its process group is the terminal's
//	          foreground) and "ready", counts SIGINTs for half a second after
//	          the first, prints "sigint=N" and dies of SIGINT.
//	jobs      prints "ready fg=BOOL"; on each SIGCONT prints "cont fg=BOOL";
//	          dies of SIGINT.
//	fgcheck   prints "restored=BOOL": its group is the terminal's foreground.
//	setreader reads a set of files as README.md tells readers to, until a
//	          stop file appears, and prints what it saw (internal/settest).
//	rotation  appends to $REC "start PID VALUE" (VALUE: $SECRET_VAR's value,
//	          or - when unset), then per SIGHUP, SIGUSR1 or SIGUSR2 "NAME
//	          CONTENT" (CONTENT: $SECRET_FILE's, read then); on SIGTERM
//	          appends "SIGTERM" and exits 0.
//	pipesize  prints "pipe=N", the size of the pipe that is its stdout, once
//	          it is 1 MiB or after 10s (shroud sizes it just after the start).
func e2eChild(mode string) int {
	switch mode {
	case "rotation":
		return rotationChild()
	case "setreader":
		return settest.Main(os.Stdout)
	case "signals":
		return signalsChild()
	case "orphans":
		n, _ := strconv.Atoi(os.Args[1])
		return orphansChild(n)
	case "terminal":
		return terminalChild()
	case "jobs":
		return jobsChild()
	case "fgcheck":
		fmt.Printf("restored=%v\n", isForeground())
		return 0
	case "pipesize":
		return pipeSizeChild()
	}
	fmt.Fprintf(os.Stderr, "unknown SHROUD_E2E_CHILD %q\n", mode)
	return 2
}

// childSignals are the signals the signals child records: every one
// shroud forwards.
var childSignals = []syscall.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGABRT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM,
	unix.SIGTERM, unix.SIGTSTP, unix.SIGCONT, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGWINCH,
	unix.SIGIO, unix.SIGPWR, unix.SIGPIPE, syscall.Signal(35), syscall.Signal(50), syscall.Signal(64),
}

func signalsChild() int {
	rec := os.Getenv("REC")
	f, err := os.OpenFile(rec, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	ch := make(chan os.Signal, 64)
	for _, s := range childSignals {
		ossignal.Notify(ch, s)
	}
	if os.Getenv("GRANDCHILD") == "1" {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "GRANDCHILD=0", "REC="+rec+".grand")
		cmd.Env = slicesDeleteFirst(cmd.Env, "GRANDCHILD=1", "REC="+rec)
		if err := cmd.Start(); err != nil {
			panic(err)
		}
	}
	fmt.Fprintf(f, "start %d %d %d\n", os.Getpid(), unix.Getpgrp(), os.Getppid())
	for s := range ch {
		fmt.Fprintln(f, signalName(s.(syscall.Signal)))
		if s == unix.SIGTERM {
			ossignal.Reset(unix.SIGTERM)
			unix.Kill(os.Getpid(), unix.SIGTERM)
			time.Sleep(5 * time.Second)
			return 99
		}
	}
	return 0
}

func signalName(s syscall.Signal) string {
	if name := unix.SignalName(s); name != "" {
		return name
	}
	return fmt.Sprintf("SIG%d", int(s))
}

func slicesDeleteFirst(env []string, drop ...string) []string {
	var out []string
	for _, e := range env {
		keep := true
		for _, d := range drop {
			if e == d {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return out
}

func orphansChild(n int) int {
	// One shell starts n sleeps in the background and exits: the sleeps
	// are orphans, reparented to the reaper (PID 1 or the subreaper).
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do sleep 60 & i=$((i+1)); done`, n)
	if err := exec.Command("sh", "-c", script).Run(); err != nil {
		fmt.Printf("shell: %v\n", err)
		return 1
	}
	reaper := os.Getppid()
	if os.Getpid() == 1 {
		reaper = 1 // no shroud: this process is PID 1 and does not reap
	}
	orphans := func() (live []int, zombies int) {
		for _, p := range proctest.List() {
			if p.PPID != reaper || p.PID == os.Getpid() || p.Comm != "sleep" {
				continue
			}
			if p.State == "Z" {
				zombies++
			} else {
				live = append(live, p.PID)
			}
		}
		return live, zombies
	}
	deadline := time.Now().Add(30 * time.Second)
	live, _ := orphans()
	for len(live) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		live, _ = orphans()
	}
	seen := len(live)
	for _, pid := range live {
		unix.Kill(pid, unix.SIGTERM)
	}
	// Once every orphan has ended, give the reaper time to act, then count
	// what is left.
	zombies := 0
	var settled time.Time
	for time.Now().Before(deadline) {
		live, zombies = orphans()
		if len(live) == 0 {
			if zombies == 0 {
				break
			}
			if settled.IsZero() {
				settled = time.Now()
			} else if time.Since(settled) > 3*time.Second {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("reaper=%d orphans=%d zombies=%d\n", reaper, seen, zombies)
	return 0
}

func isForeground() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

func terminalChild() int {
	ch := make(chan os.Signal, 8)
	ossignal.Notify(ch, unix.SIGINT)
	fmt.Printf("fg=%v\n", isForeground())
	fmt.Println("ready")
	<-ch
	n := 1
	for t := time.After(500 * time.Millisecond); ; {
		select {
		case <-ch:
			n++
			continue
		case <-t:
		}
		break
	}
	fmt.Printf("sigint=%d\n", n)
	ossignal.Reset(unix.SIGINT)
	unix.Kill(os.Getpid(), unix.SIGINT)
	time.Sleep(5 * time.Second)
	return 99
}

func jobsChild() int {
	ch := make(chan os.Signal, 8)
	ossignal.Notify(ch, unix.SIGCONT)
	fmt.Printf("ready fg=%v\n", isForeground())
	go func() {
		// Reading the terminal in the background would stop this
		// process with SIGTTIN; a line read proves it is in the
		// foreground.
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Printf("read %q\n", strings.TrimSpace(line))
	}()
	for range ch {
		fmt.Printf("cont fg=%v\n", isForeground())
	}
	return 0
}

func rotationChild() int {
	f, err := os.OpenFile(os.Getenv("REC"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	ch := make(chan os.Signal, 16)
	ossignal.Notify(ch, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGTERM)
	value, ok := os.LookupEnv(os.Getenv("SECRET_VAR"))
	if !ok {
		value = "-"
	}
	fmt.Fprintf(f, "start %d %s\n", os.Getpid(), value)
	for s := range ch {
		if s == unix.SIGTERM {
			fmt.Fprintln(f, "SIGTERM")
			return 0
		}
		content := "-"
		if path := os.Getenv("SECRET_FILE"); path != "" {
			data, err := os.ReadFile(path)
			content = string(data)
			if err != nil {
				content = "error:" + err.Error()
			}
		}
		fmt.Fprintf(f, "%s %s\n", signalName(s.(syscall.Signal)), content)
	}
	return 0
}
