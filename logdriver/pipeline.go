// Package logdriver carries a child's stdout and stderr to a log driver —
// json-file, syslog, fluentd, splunk or gelf, with Docker's option names
// and framing — and masks secret values in that output on the way.
//
// A Pipeline plugs into a child the way os/exec expects:
//
//	p, err := logdriver.New(in)
//	cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
//	err = cmd.Run()
//	err = p.Close() // flushes, then reports what could not be delivered
//
// With driver none and no masking, Stdout and Stderr return shroud's own
// files, so the child inherits them: no pipe, no copy (see Direct).
package logdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/internal/plural"
)

// Config is the [log] section of a config, with secret options resolved.
type Config struct {
	// Driver is one of Drivers; empty means none.
	Driver string
	// Options are the driver's options, Docker's names and string values,
	// the resolved secret options included.
	Options map[string]string
	// SecretOptions names the options whose values came from secrets: they
	// are never shown in an error, and are masked like any secret.
	SecretOptions []string
	// Mask turns masking on: every value of MaskValues (and of the secret
	// options) is replaced by MaskText in the output.
	Mask        bool
	MaskValues  [][]byte
	MaskOptions MaskOptions
	// Tee also copies the (masked) output to Stdout and Stderr; see
	// DefaultTee.
	Tee bool
}

// Input is what New builds a pipeline from: a Config and where it runs.
type Input struct {
	Config
	// Info describes the child for tags and record fields.
	Info Info
	// Stdout and Stderr are shroud's own: what a child inherits with
	// driver none, and where Tee copies to. Default os.Stdout, os.Stderr.
	Stdout, Stderr io.Writer
	// Logger receives the pipeline's diagnostics (delivery failures,
	// drops). Default slog.Default().
	Logger *slog.Logger
	// CloseTimeout bounds Close: it waits that long at most for the driver
	// to take what is still queued, whatever the driver does, then reports
	// what was lost. Default 10s.
	CloseTimeout time.Duration
}

// Stats counts what went through a pipeline. Dropped counts what was lost:
// discarded by non-blocking mode when its buffer was full, refused by the
// driver, or still undelivered when Close gave up.
type Stats struct {
	Messages, Bytes               uint64
	DroppedMessages, DroppedBytes uint64
	// DeliveryErrors counts failed deliveries (each retried unless the
	// driver refused the messages for good).
	DeliveryErrors uint64
	// Masked counts secret values replaced in the output.
	Masked uint64
}

// A Pipeline carries a child's output to a log driver.
type Pipeline struct {
	driverName string
	direct     bool
	stdout     io.Writer
	stderr     io.Writer
	out, errs  *stream
	masker     *Masker
	redact     redactor
	log        *slog.Logger

	// The streams queue messages; the sender alone calls the driver. No
	// stream lock is ever held while the driver works.
	drv   driver // nil: no driver (none, with masking)
	queue *queue
	// sent is closed when the sender has delivered the closed queue and
	// closed the driver; driverErr is what the driver's close returned.
	sent      chan struct{}
	driverErr error
	// stop aborts retries and dials once Close has waited long enough.
	stop         context.Context
	cancel       context.CancelFunc
	closeTimeout time.Duration
	closeOnce    sync.Once
	closeErr     error

	messages, bytes               atomic.Uint64
	droppedMessages, droppedBytes atomic.Uint64
	deliveryErrors                atomic.Uint64
	failing                       atomic.Bool

	// inFlight is the part of the batch in the driver's hands that is not
	// delivered yet. If Close gives up on a sender stuck in the driver, it
	// counts them as lost and sets abandoned, after which the sender counts
	// nothing: each message is counted once.
	inFlight struct {
		sync.Mutex
		msgs      int
		bytes     uint64
		abandoned bool
	}
}

// New validates the options, connects the driver and returns a pipeline.
// A bad option or an address that does not answer is an error naming the
// option; a value that came from a secret is never shown.
func New(in Input) (*Pipeline, error) {
	if in.Driver == "" {
		in.Driver = None
	}
	if in.Stdout == nil {
		in.Stdout = os.Stdout
	}
	if in.Stderr == nil {
		in.Stderr = os.Stderr
	}
	if in.Logger == nil {
		in.Logger = slog.Default()
	}
	if in.CloseTimeout <= 0 {
		in.CloseTimeout = 10 * time.Second
	}
	if in.Info.Hostname == "" {
		in.Info.Hostname, _ = os.Hostname()
	}
	if in.Info.FullID == "" {
		in.Info.FullID = in.Info.Hostname
	}
	if in.Info.Name == "" {
		in.Info.Name = filepath.Base(os.Args[0])
	}
	if in.MaskOptions.MinLength != 0 && in.MaskOptions.MinLength < MinMaskMinLength {
		return nil, fmt.Errorf("mask_min_length %d is below %d, which would mask ordinary text", in.MaskOptions.MinLength, MinMaskMinLength)
	}

	p := &Pipeline{driverName: in.Driver, stdout: in.Stdout, stderr: in.Stderr, log: in.Logger, closeTimeout: in.CloseTimeout}
	p.stop, p.cancel = context.WithCancel(context.Background())
	built := false
	defer func() {
		if !built {
			p.cancel()
		}
	}()
	var secretValues [][]byte
	for _, name := range in.SecretOptions {
		if v := in.Options[name]; v != "" {
			p.redact.secrets = append(p.redact.secrets, v)
			secretValues = append(secretValues, []byte(v))
		}
	}
	if in.Mask {
		p.masker = NewMasker(append(secretValues, in.MaskValues...), in.MaskOptions)
	}
	p.redact.masker = sync.OnceValue(func() *Masker {
		if p.masker != nil || len(in.MaskValues) == 0 {
			return p.masker
		}
		// Diagnostics hide values even when the output is not masked.
		return NewMasker(append(secretValues, in.MaskValues...), in.MaskOptions)
	})

	if errs := checkNames(in.Driver, sortedKeys(in.Options)); len(errs) > 0 {
		return nil, p.joinErrors(errs)
	}
	r := &optReader{driver: in.Driver, opts: in.Options, secret: map[string]bool{}}
	for _, name := range in.SecretOptions {
		r.secret[name] = true
	}
	common, settings := parseDriver(r)
	if len(r.errs) > 0 {
		return nil, p.joinErrors(r.errs)
	}

	if in.Driver == None {
		if p.masker == nil {
			p.direct = true
			return p, nil // nothing to stop: the deferred cancel is right
		}
		in.Tee = true // the masked output has nowhere else to go
	}
	if in.Driver != None {
		env := driverEnv{info: in.Info, tag: common.tag.render(in.Info), attrs: common.attrs.pick(in.Info), opt: r.optError, stop: p.stop}
		env.tag = p.redact.redact(env.tag)
		for k, v := range env.attrs {
			env.attrs[k] = p.redact.redact(v)
		}
		drv, err := newDriver(in.Driver, settings, env)
		if err != nil {
			return nil, errors.New(p.redact.redact(err.Error()))
		}
		p.drv = drv
		p.queue = newQueue(int(common.maxBufferSize), common.mode == Blocking)
		context.AfterFunc(p.stop, p.queue.giveUp)
		p.sent = make(chan struct{})
		go p.sender()
	}
	var teeOut, teeErr io.Writer
	if in.Tee {
		teeOut, teeErr = in.Stdout, in.Stderr
	}
	p.out = &stream{p: p, fr: framer{stream: "stdout"}, tee: teeOut}
	p.errs = &stream{p: p, fr: framer{stream: "stderr"}, tee: teeErr}
	built = true
	return p, nil
}

func (p *Pipeline) joinErrors(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = p.redact.redact(e.Error())
	}
	if len(msgs) == 1 {
		return errors.New(msgs[0])
	}
	return fmt.Errorf("%d problems with [log]:\n  - %s", len(msgs), strings.Join(msgs, "\n  - "))
}

// Direct reports that the child should inherit shroud's stdout and stderr
// (driver none, no masking): Stdout and Stderr return them as they were
// given, so os/exec passes the file descriptors on, with no pipe and no copy.
func (p *Pipeline) Direct() bool { return p.direct }

// Stdout is the writer for the child's stdout.
func (p *Pipeline) Stdout() io.Writer {
	if p.direct {
		return p.stdout
	}
	return p.out
}

// Stderr is the writer for the child's stderr.
func (p *Pipeline) Stderr() io.Writer {
	if p.direct {
		return p.stderr
	}
	return p.errs
}

// AddMask masks values from now on, with those already masked: after a
// rotation, the old and the new value of a secret both stay masked. It
// does nothing when masking is off.
func (p *Pipeline) AddMask(values [][]byte) {
	if p.masker != nil {
		p.masker.Add(values)
	}
}

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Messages: p.messages.Load(), Bytes: p.bytes.Load(),
		DroppedMessages: p.droppedMessages.Load(), DroppedBytes: p.droppedBytes.Load(),
		DeliveryErrors: p.deliveryErrors.Load(),
	}
	if p.masker != nil {
		s.Masked = p.masker.Masked()
	}
	return s
}

// closeGrace is how long before CloseTimeout Close stops the retries: the
// sender then drops what is left and closes the driver, unless a driver
// call does not return in time.
const closeGrace = 250 * time.Millisecond

// Close ends both streams (what the masker held back goes out, a last line
// without a newline is sent), waits for the driver to take what is queued
// and closes it. It returns within CloseTimeout whatever the driver does:
// then it stops the retries, gives up on a driver call that does not
// return, and its error says what was lost. Call it after the child's
// output is at end of file (after cmd.Wait); later writes fail.
func (p *Pipeline) Close() error {
	p.closeOnce.Do(func() {
		if p.direct {
			return
		}
		// Both clocks start before anything that may wait: a writer stuck
		// waiting for room, the sender retrying a dead server.
		giveUp := time.AfterFunc(p.closeTimeout-min(closeGrace, p.closeTimeout/4), p.cancel)
		defer giveUp.Stop()
		deadline := time.NewTimer(p.closeTimeout)
		defer deadline.Stop()
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.out.finish()
			p.errs.finish()
			if p.drv != nil {
				p.queue.close()
				<-p.sent
			}
		}()
		var errs []string
		select {
		case <-done:
			if p.driverErr != nil {
				errs = append(errs, p.redact.redact(p.driverErr.Error()))
			}
		case <-deadline.C:
			errs = append(errs, p.abandon())
		}
		p.cancel()
		if n := p.droppedMessages.Load(); n > 0 {
			errs = append(errs, fmt.Sprintf("not delivered: %s (%s)", plural.Count(int(n), "message"), plural.Count(int(p.droppedBytes.Load()), "byte")))
		}
		if len(errs) > 0 {
			p.closeErr = fmt.Errorf("log driver %s: %s", p.driverName, strings.Join(errs, "; "))
		}
	})
	return p.closeErr
}

// abandon counts as lost what the sender still held when Close gave up
// on it, and what is still queued, and says why.
func (p *Pipeline) abandon() string {
	p.inFlight.Lock()
	p.inFlight.abandoned = true
	n, b := p.inFlight.msgs, p.inFlight.bytes
	p.inFlight.Unlock()
	if p.queue != nil {
		qn, qb := p.queue.discard()
		n, b = n+qn, b+qb
	}
	if n > 0 {
		p.dropped(n, b)
	}
	return fmt.Sprintf("gave up after %s: the driver did not finish", p.closeTimeout)
}

// enqueue hands the messages of one chunk to the sender.
func (p *Pipeline) enqueue(msgs []Message) {
	if len(msgs) == 0 || p.drv == nil {
		return
	}
	if n, b := p.queue.push(msgs); n > 0 {
		p.dropped(n, b)
	}
}

// sender feeds the driver from the queue until it is closed and empty, then
// closes the driver. It is the only goroutine that calls the driver.
func (p *Pipeline) sender() {
	defer close(p.sent)
	for {
		batch, ok := p.queue.take()
		if !ok {
			break
		}
		p.send(batch)
	}
	p.driverErr = p.drv.close()
}

// hand records msgs as the driver's to deliver, and count counts delivered
// and dropped messages; both report false once Close has abandoned the
// sender (and counted what it held).
func (p *Pipeline) hand(msgs []Message) bool {
	p.inFlight.Lock()
	defer p.inFlight.Unlock()
	p.inFlight.msgs, p.inFlight.bytes = len(msgs), lineBytes(msgs)
	return !p.inFlight.abandoned
}

func (p *Pipeline) count(delivered, dropped []Message) bool {
	p.inFlight.Lock()
	defer p.inFlight.Unlock()
	if p.inFlight.abandoned {
		return false
	}
	if len(delivered) > 0 {
		p.messages.Add(uint64(len(delivered)))
		p.bytes.Add(lineBytes(delivered))
	}
	if len(dropped) > 0 {
		p.dropped(len(dropped), lineBytes(dropped))
	}
	return true
}

// Backoff bounds for retrying a failed delivery.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
)

// send delivers msgs, retrying with exponential backoff and jitter. It gives
// up on messages the driver refuses for good, and on everything once Close
// has stopped waiting.
func (p *Pipeline) send(msgs []Message) {
	defer p.hand(nil)
	wait := retryMin
	for len(msgs) > 0 {
		if p.stop.Err() != nil {
			p.count(nil, msgs) // no driver call after Close gave up
			return
		}
		if !p.hand(msgs) {
			return
		}
		n, err := p.drv.log(msgs)
		if !p.count(msgs[:n], nil) {
			return
		}
		msgs = msgs[n:]
		if err == nil {
			if p.failing.CompareAndSwap(true, false) {
				p.log.Info("log driver delivers again", "driver", p.driverName)
			}
			return
		}
		p.deliveryErrors.Add(1)
		var perm *permanentError
		if errors.As(err, &perm) {
			p.log.Error("log driver refused messages; dropping them", "driver", p.driverName, "messages", max(perm.n, 1), "error", p.redact.redact(err.Error()))
			k := min(max(perm.n, 1), len(msgs))
			if !p.count(nil, msgs[:k]) {
				return
			}
			msgs = msgs[k:]
			continue
		}
		if p.stop.Err() != nil {
			p.count(nil, msgs)
			return
		}
		if p.failing.CompareAndSwap(false, true) {
			p.log.Warn("log driver cannot deliver; retrying with backoff", "driver", p.driverName, "error", p.redact.redact(err.Error()))
		}
		// Full jitter in [wait/2, wait].
		d := wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(d):
		case <-p.stop.Done():
		}
		wait = min(2*wait, retryMax)
	}
}

func (p *Pipeline) dropped(n int, bytes uint64) {
	if p.droppedMessages.Add(uint64(n)) == uint64(n) {
		p.log.Warn("log driver dropped messages (counted in stats)", "driver", p.driverName, "messages", n)
	}
	p.droppedBytes.Add(bytes)
}

func lineBytes(msgs []Message) uint64 {
	var n uint64
	for _, m := range msgs {
		n += uint64(len(m.Line))
	}
	return n
}

// permanentError marks a delivery the driver refuses for good (Splunk
// answering 400 or 403): retrying cannot help, so its n messages
// are dropped.
type permanentError struct {
	n   int
	err error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// readSize is how much a stream reads from the child's pipe at once.
const readSize = 256 * 1024

// pipeSize is the capacity growPipe asks for: the child writes ahead
// while the pipeline works, and both sides make fewer, larger calls.
const pipeSize = 1 << 20

// growPipe enlarges the child's pipe (Linux F_SETPIPE_SZ), when r is one.
// Failing is harmless: the pipe keeps its 64 KiB.
func growPipe(r io.Reader) {
	sc, ok := r.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, pipeSize)
	})
}

// stream is the writer for one of the child's streams. It masks, copies to
// the tee, frames lines and queues them for the sender; its lock is held
// for that work only, never while the driver delivers.
type stream struct {
	p   *Pipeline
	tee io.Writer
	fr  framer

	mu     sync.Mutex
	held   []byte // bytes the masker held back, to be given again
	ms     maskStream
	msgs   []Message
	done   bool
	teeErr bool
}

// Write takes the next bytes of the stream.
func (s *stream) Write(b []byte) (int, error) {
	if err := s.write(b, 0); err != nil {
		return 0, err
	}
	return len(b), nil
}

// readRoom is the space a read leaves in front of the bytes read, for the
// bytes the masker held back: they are copied there, not the read behind
// them.
const readRoom = 4 << 10

// ReadFrom copies the child's pipe until end of file, in large reads from
// a pipe it enlarges. The supervisor (child.Supervise) and os/exec's copy
// goroutine call it, once per run of the child. Calls may overlap (the
// output of a run that ended and of the next one): each reads into its own
// buffer, and the stream's state is locked.
func (s *stream) ReadFrom(r io.Reader) (int64, error) {
	growPipe(r)
	chunk := make([]byte, readRoom+readSize)
	var total int64
	for {
		n, err := r.Read(chunk[readRoom:])
		if n > 0 {
			total += int64(n)
			if werr := s.write(chunk[:readRoom+n], readRoom); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			s.flush() // this run's last line goes out; the next run may follow
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// write processes chunk[room:], the new bytes; chunk[:room] is free space
// in front of them. In blocking mode it first waits for room in the queue,
// holding no lock.
func (s *stream) write(chunk []byte, room int) error {
	if s.p.queue != nil {
		s.p.queue.waitRoom()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return os.ErrClosed
	}
	text := chunk[room:]
	switch held := len(s.held); {
	case held == 0:
	case held <= room:
		text = chunk[room-held:]
		copy(text, s.held)
	default:
		s.held = append(s.held, text...)
		text = s.held
	}
	hold := s.process(text, false)
	s.held = append(s.held[:0], text[hold:]...)
	return nil
}

// process masks text and sends out what is ready; it returns where the
// held-back tail starts.
func (s *stream) process(text []byte, final bool) int {
	emit, hold := text, len(text)
	if m := s.p.masker; m != nil {
		emit, hold = s.ms.process(m, text, final)
	}
	if len(emit) > 0 || final {
		s.output(emit, final)
	}
	return hold
}

func (s *stream) output(b []byte, final bool) {
	if s.tee != nil && len(b) > 0 {
		if _, err := s.tee.Write(b); err != nil && !s.teeErr {
			s.teeErr = true // said once: shroud's own stdout is gone
			s.p.log.Warn("cannot copy the child's output to shroud's own "+s.fr.stream, "error", err)
		}
	}
	if s.p.drv == nil {
		return
	}
	now := time.Now()
	s.msgs = s.fr.frame(s.msgs[:0], b, now)
	if final {
		s.msgs = s.fr.flush(s.msgs, now)
	}
	s.p.enqueue(s.msgs)
	clear(s.msgs) // drop references into buffers
}

// flush sends out what the stream holds at the end of a run's output: the
// held-back bytes, masked as they are, and a last line without a newline.
func (s *stream) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.process(s.held, true)
		s.held = s.held[:0]
	}
}

// finish ends the stream: the held-back bytes are masked as they are and
// go out, with the last line. Later writes fail.
func (s *stream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.process(s.held, true)
	s.held = nil
	s.done = true
}
