package logdriver

import (
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// readSize is how much a stream reads from the child's pipe at once.
const readSize = 256 * 1024

// stream is the writer for one of the child's streams, stdout or stderr.
// It masks, copies to the tee, frames lines and queues them for the
// sender; its lock is held for that work only, never while the driver
// delivers.
//
// Its bytes come from sources: each run's pipe (one ReadFrom call) is a
// source, and so are the Write calls. A source masks and frames on its own:
// what the masker holds back for one run goes out only with that run's
// next bytes or at its end, never when another run's pipe ends (a
// grandchild of a run that was restarted may hold the old pipe), and the
// lines of two runs do not run into each other.
type stream struct {
	p    *Pipeline
	name string // "stdout" or "stderr"
	tee  io.Writer

	mu      sync.Mutex
	writes  *source   // the Write calls' source, made by the first
	sources []*source // the sources that may hold bytes, for finish
	msgs    []Message
	done    bool
	teeErr  bool  // a copy to the tee failed: said once
	teeGone error // the tee is a pipe whose reader is gone (EPIPE)
}

// source is the state of one writer of a stream.
type source struct {
	held []byte // bytes the masker held back, to be given again
	ms   maskStream
	fr   framer
}

// Write takes the next bytes of the Write calls' source.
func (s *stream) Write(b []byte) (int, error) {
	if err := s.write(nil, b, 0); err != nil {
		return 0, err
	}
	return len(b), nil
}

// readRoom is the space a read leaves in front of the bytes read, for the
// bytes the masker held back: they are copied there, not the read behind
// them.
const readRoom = 4 << 10

// ReadFrom copies one run's pipe until end of file, in large reads from a
// pipe it enlarges. The supervisor (signal.Supervise) and os/exec's copy
// goroutine call it, once per run of the child. Calls may overlap (the
// output of a run that ended and of the next one): each is a source of its
// own and reads into its own buffer; the stream's state is locked.
//
// When the tee is a pipe whose reader went away (shroud run ... | head -1)
// it stops reading, after the driver got what was read, and returns the
// EPIPE: the caller closes the pipe, so the child gets its broken pipe as
// it would without shroud.
func (s *stream) ReadFrom(r io.Reader) (int64, error) {
	growPipe(r)
	src := s.newSource()
	defer s.endSource(src)
	chunk := make([]byte, readRoom+readSize)
	var total int64
	for {
		n, err := r.Read(chunk[readRoom:])
		if n > 0 {
			total += int64(n)
			if werr := s.write(src, chunk[:readRoom+n], readRoom); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (s *stream) newSource() *source {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := &source{fr: framer{stream: s.name}}
	s.sources = append(s.sources, src)
	return src
}

// endSource sends out what src holds at the end of its bytes: the
// held-back bytes, masked as they are, and a last line without a newline.
// The stream stays open for the other sources.
func (s *stream) endSource(src *source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.process(src, src.held, true)
		src.held = nil
	}
	s.sources = slices.DeleteFunc(s.sources, func(x *source) bool { return x == src })
}

// write processes chunk[room:], the next bytes of src (nil: of the Write
// calls); chunk[:room] is free space in front of them. In blocking mode it
// first waits for room in the queue, holding no lock.
func (s *stream) write(src *source, chunk []byte, room int) error {
	if s.p.queue != nil {
		s.p.queue.waitRoom()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return os.ErrClosed
	}
	if src == nil {
		if s.writes == nil {
			s.writes = &source{fr: framer{stream: s.name}}
			s.sources = append(s.sources, s.writes)
		}
		src = s.writes
	}
	text := chunk[room:]
	switch held := len(src.held); {
	case held == 0:
	case held <= room:
		text = chunk[room-held:]
		copy(text, src.held)
	default:
		src.held = append(src.held, text...)
		text = src.held
	}
	hold := s.process(src, text, false)
	src.held = append(src.held[:0], text[hold:]...)
	return s.teeGone
}

// process masks text, the next bytes of src, and sends out what is ready;
// it returns where the held-back tail starts.
func (s *stream) process(src *source, text []byte, final bool) int {
	emit, hold := text, len(text)
	if m := s.p.masker; m != nil {
		emit, hold = src.ms.process(m, text, final)
	}
	if len(emit) > 0 || final {
		s.output(src, emit, final)
	}
	return hold
}

func (s *stream) output(src *source, b []byte, final bool) {
	if s.tee != nil && len(b) > 0 && s.teeGone == nil {
		if _, err := s.tee.Write(b); errors.Is(err, syscall.EPIPE) {
			// As ordinary as head closing its input: no warning.
			s.teeGone = err
			s.p.log.Debug("shroud's own "+s.name+" is a broken pipe: closing the child's, so that the child sees it as it would without shroud", "error", err)
		} else if err != nil && !s.teeErr {
			s.teeErr = true // said once: shroud's own stdout is gone
			s.p.log.Warn("cannot copy the child's output to shroud's own "+s.name, "error", err)
		}
	}
	if s.p.drv == nil {
		return
	}
	now := time.Now()
	s.msgs = src.fr.frame(s.msgs[:0], b, now)
	if final {
		s.msgs = src.fr.flush(s.msgs, now)
	}
	s.p.enqueue(s.msgs)
	clear(s.msgs) // drop references into buffers
}

// finish ends the stream: what every source holds goes out, masked as it
// is, with its last line. Later writes fail.
func (s *stream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	for _, src := range s.sources {
		s.process(src, src.held, true)
		src.held = nil
	}
	s.sources, s.writes = nil, nil
	s.done = true
}
