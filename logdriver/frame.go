package logdriver

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// MaxLine is the longest message: longer lines are split into pieces of
// this size, as Docker splits them, with partial-line metadata.
const MaxLine = 16 * 1024

// Message is one line of the child's output, or one piece of a line longer
// than MaxLine or cut short by the end of the stream.
type Message struct {
	// Line is the text without its newline. It is valid only during the
	// driver call it is given to.
	Line []byte
	// Stream is "stdout" or "stderr".
	Stream string
	// Time is when the bytes were read; all pieces of a line share the time
	// of the first.
	Time time.Time
	// Partial is set on the pieces of a line that was split.
	Partial *Partial
}

// Partial describes a piece of a split line (Docker's PartialLogMetaData).
type Partial struct {
	// ID is shared by the pieces of one line.
	ID string
	// Ordinal counts pieces from 1.
	Ordinal int
	// Last is true on the piece that ends with the line's newline.
	Last bool
}

// framer cuts one stream into messages as Docker's copier does: at each
// newline, and every MaxLine bytes of a line without one. A line that
// ends when the stream does is a partial piece, as in Docker.
type framer struct {
	stream string
	line   []byte // the start of the current line, when it began in an earlier chunk
	// spare is line's twin: a message made from line points into it until
	// the next call, so line continues in the other buffer.
	spare []byte
	// The current split line, when it has pieces already.
	partial     *Partial
	partialTime time.Time
}

// frame appends to msgs the messages that data completes. Messages may point
// into data.
func (f *framer) frame(msgs []Message, data []byte, now time.Time) []Message {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		room := MaxLine - len(f.line)
		if i >= room {
			// The line is at least MaxLine long: a piece goes out now.
			var piece []byte
			if len(f.line) == 0 {
				piece = data[:room]
			} else {
				f.line = append(f.line, data[:room]...)
				piece = f.line
			}
			data = data[room:]
			msgs = append(msgs, f.piece(piece, now))
			f.release()
			continue // a newline right after the piece ends the line with an empty last piece, as in Docker
		}
		if i == len(data) { // no newline yet: keep the start of the line
			f.line = append(f.line, data...)
			return msgs
		}
		line := data[:i]
		if len(f.line) > 0 {
			f.line = append(f.line, line...)
			line = f.line
		}
		msgs = append(msgs, f.whole(line, now))
		f.release()
		data = data[i+1:]
	}
	return msgs
}

// flush appends what is left when the stream ends: a line without a newline
// goes out as a partial piece, as Docker does.
func (f *framer) flush(msgs []Message, now time.Time) []Message {
	if len(f.line) > 0 {
		msgs = append(msgs, f.piece(f.line, now))
		f.release()
	}
	return msgs
}

// release starts the next line in the spare buffer when a message may point
// into the current one.
func (f *framer) release() {
	if len(f.line) > 0 {
		f.line, f.spare = f.spare[:0], f.line
	}
}

// whole makes the message for a line that ends here.
func (f *framer) whole(line []byte, now time.Time) Message {
	if f.partial == nil {
		return Message{Line: line, Stream: f.stream, Time: now}
	}
	p := &Partial{ID: f.partial.ID, Ordinal: f.partial.Ordinal + 1, Last: true}
	f.partial = nil
	return Message{Line: line, Stream: f.stream, Time: f.partialTime, Partial: p}
}

// piece makes the message for a piece of a line that goes on.
func (f *framer) piece(line []byte, now time.Time) Message {
	if f.partial == nil {
		f.partial = &Partial{ID: newPartialID()}
		f.partialTime = now
	}
	f.partial.Ordinal++
	p := &Partial{ID: f.partial.ID, Ordinal: f.partial.Ordinal}
	return Message{Line: line, Stream: f.stream, Time: f.partialTime, Partial: p}
}

// newPartialID returns a random 64-hex-digit id, as Docker's.
func newPartialID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
