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
	// options), in the forms MaskOptions asks for, and every form of
	// MaskForms is replaced by MaskText in the output.
	Mask       bool
	MaskValues [][]byte
	// MaskForms are text made from secret values that their own forms do
	// not cover, masked as they are (see Masker.AddForms): what templates
	// made of a value, the lines of a rendered file that hold one.
	MaskForms   [][]byte
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
	in.setDefaults()
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
	p.setMasking(in.Config)

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
		env := driverEnv{info: in.Info, tag: common.tag.render(in.Info), tagGiven: common.tagGiven, attrs: common.attrs.pick(in.Info), opt: r.optError, stop: p.stop}
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
	p.out = &stream{p: p, name: "stdout", tee: teeOut}
	p.errs = &stream{p: p, name: "stderr", tee: teeErr}
	built = true
	return p, nil
}

func (in *Input) setDefaults() {
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
}

// setMasking builds the masker of the output, when masking is on, and
// warns once (with how many, never which) about values too short to be
// masked. Diagnostics hide every value even when the output is not masked:
// their masker is built on first use.
func (p *Pipeline) setMasking(c Config) {
	var values [][]byte
	for _, name := range c.SecretOptions {
		if v := c.Options[name]; v != "" {
			p.redact.secrets = append(p.redact.secrets, v)
			values = append(values, []byte(v))
		}
	}
	values = append(values, c.MaskValues...)
	newMasker := func() *Masker {
		m := NewMasker(values, c.MaskOptions)
		if len(c.MaskForms) > 0 {
			m.AddForms(c.MaskForms)
		}
		return m
	}
	if c.Mask {
		p.masker = newMasker()
		if n := shortValues(values, c.MaskOptions); n > 0 {
			p.log.Warn("secret values shorter than mask_min_length are not masked", "values", n, "mask_min_length", c.MaskOptions.MinLen())
		}
	}
	p.redact.masker = sync.OnceValue(func() *Masker {
		if p.masker != nil || len(c.MaskValues) == 0 && len(c.MaskForms) == 0 {
			return p.masker
		}
		return newMasker()
	})
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

// AddMaskForms masks forms made from secret values from now on (see
// Config.MaskForms), with those already masked. It does nothing when
// masking is off.
func (p *Pipeline) AddMaskForms(forms [][]byte) {
	if p.masker != nil {
		p.masker.AddForms(forms)
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
