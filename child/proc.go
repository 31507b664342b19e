package child

import (
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// proc is one run of the supervised command.
type proc struct {
	pid        int // also its process group: every run leads its own group
	started    time.Time
	byRestart  bool // started by a restart, not by Start
	stopping   bool // Stop or Restart sent it the stop signal
	terminated bool // a terminating signal was forwarded to it
	stopped    bool // stopped by job control (Ctrl-Z), waiting for SIGCONT
	output     sync.WaitGroup
	gone       chan struct{} // closed when it has been reaped
}

// stdio is the child's stdin, stdout and stderr as the caller gave them: an
// *os.File is inherited as it is; any other Reader or Writer is connected
// through a pipe that shroud copies, one pipe per run, as os/exec does.
type stdio struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	sameOutput     bool // stdout and stderr are one Writer: one pipe keeps their order
	feeder         *stdinFeeder
}

func newStdio(in io.Reader, out, errw io.Writer) *stdio {
	s := &stdio{stdin: in, stdout: lockWriter(out), stderr: lockWriter(errw)}
	if out != nil && interfaceEqual(out, errw) {
		s.stderr, s.sameOutput = s.stdout, true
	}
	if _, isFile := in.(*os.File); in != nil && !isFile {
		s.feeder = &stdinFeeder{r: in}
	}
	return s
}

// start runs argv with env as a new process leading its own process group,
// made the terminal's foreground group when tty is set.
func (s *stdio) start(argv, env []string, dir string, tty *terminal) (*proc, error) {
	path, err := LookPath(argv[0], env)
	if err != nil {
		return nil, err
	}
	if err := checkExecSize(path, argv, env); err != nil {
		return nil, err
	}
	var fds childFiles
	if err := fds.plan(s); err != nil {
		fds.fail()
		return nil, err
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if tty != nil {
		sys.Foreground, sys.Ctty = true, tty.fd
	}
	pid, err := forkExec(path, argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: fds.files[:], Sys: sys})
	runtime.KeepAlive(fds.keep)
	if err != nil {
		fds.fail()
		return nil, startError(argv[0], path, err)
	}
	fds.closeChildEnds()
	p := &proc{pid: pid, started: time.Now(), gone: make(chan struct{})}
	for _, f := range fds.afterStart {
		f(p)
	}
	return p, nil
}

// childFiles are the child's stdin, stdout and stderr as start sets them
// up: files given as they are, /dev/null for none, and pipes for other
// readers and writers, with what to start once the child runs.
type childFiles struct {
	files      [3]uintptr
	childEnds  []*os.File // closed in shroud once the child has them
	parentEnds []*os.File // shroud's ends of the pipes, closed if the start fails
	keep       []*os.File // inherited files, kept open until the fork
	afterStart []func(*proc)
}

// plan sets up the three descriptors of s.
func (c *childFiles) plan(s *stdio) error {
	switch r := s.stdin.(type) {
	case nil:
		if err := c.devNull(0); err != nil {
			return err
		}
	case *os.File:
		c.files[0] = r.Fd()
		c.keep = append(c.keep, r)
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		c.files[0] = pr.Fd()
		c.childEnds, c.parentEnds = append(c.childEnds, pr), append(c.parentEnds, pw)
		c.afterStart = append(c.afterStart, func(p *proc) { go s.feeder.feed(pw, p.gone) })
	}
	for i, w := range []io.Writer{s.stdout, s.stderr} {
		if i == 1 && s.sameOutput {
			c.files[2] = c.files[1]
			continue
		}
		if err := c.output(1+i, w); err != nil {
			return err
		}
	}
	return nil
}

// output sets up descriptor fd for w: its own file, /dev/null, or a pipe
// copied to w.
func (c *childFiles) output(fd int, w io.Writer) error {
	switch w := w.(type) {
	case nil:
		return c.devNull(fd)
	case *os.File:
		c.files[fd] = w.Fd()
		c.keep = append(c.keep, w)
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		c.files[fd] = pw.Fd()
		c.childEnds, c.parentEnds = append(c.childEnds, pw), append(c.parentEnds, pr)
		c.afterStart = append(c.afterStart, func(p *proc) {
			p.output.Add(1)
			go func() {
				defer p.output.Done()
				copyOutput(w, pr)
				pr.Close()
			}()
		})
	}
	return nil
}

func (c *childFiles) devNull(fd int) error {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	c.childEnds = append(c.childEnds, f)
	c.files[fd] = f.Fd()
	return nil
}

func (c *childFiles) closeChildEnds() {
	for _, f := range c.childEnds {
		f.Close()
	}
}

// fail closes every end: the child did not start.
func (c *childFiles) fail() {
	c.closeChildEnds()
	for _, f := range c.parentEnds {
		f.Close()
	}
}

// waitOutput waits until the copies of the child's stdout and stderr are
// complete, or until d passed: a process the child left behind may hold the
// pipe open for ever, and its later output keeps being copied meanwhile.
func (p *proc) waitOutput(d time.Duration) {
	done := make(chan struct{})
	go func() { p.output.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// stdinFeeder reads a stdin Reader that is not a file once, for all runs in
// turn: what one run did not take is given to the next, so a restart loses
// no input.
type stdinFeeder struct {
	r      io.Reader
	once   sync.Once
	chunks chan []byte // closed at the Reader's end
	busy   sync.Mutex  // held by the feed of the current run
	mu     sync.Mutex
	left   []byte // read but not delivered to the run that ended
}

func (f *stdinFeeder) feed(w *os.File, gone <-chan struct{}) {
	// One run at a time: the next run's feed waits until this one has put
	// back what it could not deliver.
	f.busy.Lock()
	defer f.busy.Unlock()
	defer w.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// A run that ended may have left a process holding the pipe
		// without reading it: closing unblocks the write.
		select {
		case <-gone:
			w.Close()
		case <-stop:
		}
	}()
	f.once.Do(func() {
		f.chunks = make(chan []byte)
		go func() {
			defer close(f.chunks)
			for {
				buf := make([]byte, 32<<10)
				n, err := f.r.Read(buf)
				if n > 0 {
					f.chunks <- buf[:n]
				}
				if err != nil {
					return
				}
			}
		}()
	})
	f.mu.Lock()
	chunk := f.left
	f.left = nil
	f.mu.Unlock()
	for {
		if len(chunk) == 0 {
			var ok bool
			select {
			case chunk, ok = <-f.chunks:
				if !ok {
					return // end of input: the child sees EOF
				}
			case <-gone:
				return
			}
		}
		n, err := w.Write(chunk)
		chunk = chunk[n:]
		if err != nil {
			f.mu.Lock()
			f.left = chunk
			f.mu.Unlock()
			return
		}
	}
}

// copyOutput copies a run's output pipe to w. A Writer that is an
// io.ReaderFrom gets the pipe itself, so that it can size the pipe and its
// reads (the log pipeline reads 256 KiB at once from a 1 MiB pipe).
func copyOutput(w io.Writer, pipe *os.File) {
	if rf, ok := w.(io.ReaderFrom); ok {
		rf.ReadFrom(pipe)
		return
	}
	io.Copy(w, pipe)
}

// lockWriter serializes writes to w: the output copies of a run that ended
// and of the next one may overlap. A file needs no lock, and an
// io.ReaderFrom must be safe for overlapping calls itself (see Input).
func lockWriter(w io.Writer) io.Writer {
	switch w.(type) {
	case nil, *os.File, io.ReaderFrom:
		return w
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// interfaceEqual compares two writers as os/exec does, without panicking on
// an uncomparable type.
func interfaceEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}
