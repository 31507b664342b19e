package logdriver

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// dockerCopy is Docker's copier loop (daemon/logger/copier.go), reduced to
// what decides message boundaries: the specification framer follows. It
// reads at most 2 KiB at a time into a 16 KiB buffer. Both sizes are
// Docker's, written here as Docker writes them, not taken from the code
// under test.
func dockerCopy(src io.Reader) []Message {
	const (
		readSize       = 2 * 1024  // copier.go readSize
		defaultBufSize = 16 * 1024 // copier.go defaultBufSize: the longest line
	)
	var msgs []Message
	buf := make([]byte, defaultBufSize)
	n, eof := 0, false
	ordinal, hasMorePartial := 0, false
	for {
		upto := min(n+readSize, cap(buf))
		if upto > n {
			read, err := src.Read(buf[n:upto])
			if err == io.EOF {
				eof = true
			}
			n += read
		}
		if n == 0 && eof {
			return msgs
		}
		p := 0
		for q := bytes.IndexByte(buf[p:n], '\n'); q >= 0; q = bytes.IndexByte(buf[p:n], '\n') {
			m := Message{Line: append([]byte(nil), buf[p:p+q]...)}
			if hasMorePartial {
				m.Partial = &Partial{Ordinal: ordinal, Last: true}
				ordinal, hasMorePartial = 0, false
			}
			msgs = append(msgs, m)
			p += q + 1
		}
		if eof || (p == 0 && n == len(buf)) {
			if p < n {
				if ordinal == 0 {
					ordinal = 1
				}
				msgs = append(msgs, Message{Line: append([]byte(nil), buf[p:n]...), Partial: &Partial{Ordinal: ordinal}})
				ordinal++
				hasMorePartial = true
				p, n = 0, 0
			}
			if eof {
				return msgs
			}
		}
		if p > 0 {
			copy(buf[0:], buf[p:n])
			n -= p
		}
	}
}

// frameAll feeds data to a framer in chunks of the given sizes.
func frameAll(data []byte, sizes ...int) []Message {
	f := framer{stream: "stdout"}
	var msgs []Message
	now := time.Unix(1700000000, 0)
	for len(data) > 0 {
		n := min(len(data), sizes[0])
		sizes = append(sizes[1:], sizes[0])
		before := len(msgs)
		msgs = f.frame(msgs, data[:n], now)
		for i := before; i < len(msgs); i++ { // lines may point into the framer's buffers
			msgs[i].Line = append([]byte(nil), msgs[i].Line...)
		}
		data = data[n:]
		now = now.Add(time.Second)
	}
	return f.flush(msgs, now)
}

func sameFraming(t *testing.T, got, want []Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	ids := map[string]bool{}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Line, w.Line) || (g.Partial == nil) != (w.Partial == nil) {
			t.Fatalf("message %d: %q partial %+v, want %q partial %+v", i, g.Line, g.Partial, w.Line, w.Partial)
		}
		if w.Partial != nil {
			if g.Partial.Ordinal != w.Partial.Ordinal || g.Partial.Last != w.Partial.Last || len(g.Partial.ID) != 64 {
				t.Fatalf("message %d: partial %+v, want %+v", i, g.Partial, w.Partial)
			}
			if g.Partial.Ordinal == 1 {
				if ids[g.Partial.ID] {
					t.Fatalf("message %d: partial id reused", i)
				}
				ids[g.Partial.ID] = true
			}
		}
	}
}

func TestFramingMatchesDocker(t *testing.T) {
	long := strings.Repeat("x", 3*MaxLine+100)
	for name, data := range map[string]string{
		"lines":                 "one\ntwo\n\nthree\n",
		"no final newline":      "one\ntwo",
		"exactly MaxLine":       strings.Repeat("y", MaxLine) + "\nnext\n",
		"MaxLine, no newline":   strings.Repeat("y", MaxLine),
		"long line":             "a\n" + long + "\nb\n",
		"long line at EOF":      long,
		"long after short line": "short\n" + long + "tail",
	} {
		want := dockerCopy(strings.NewReader(data))
		for _, sizes := range [][]int{{1 << 20}, {1}, {7, 4093}, {MaxLine}, {MaxLine - 1, 2}} {
			t.Run(name, func(t *testing.T) { sameFraming(t, frameAll([]byte(data), sizes...), want) })
		}
	}
}

func TestFramingRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		var b strings.Builder
		for range r.IntN(20) {
			b.WriteString(strings.Repeat("z", r.IntN(2*MaxLine)))
			if r.IntN(4) > 0 {
				b.WriteByte('\n')
			}
		}
		data := b.String()
		sameFraming(t, frameAll([]byte(data), 1+r.IntN(70000), 1+r.IntN(300)), dockerCopy(strings.NewReader(data)))
	}
}

// TestFramingTimes checks that a line is stamped when read, and the pieces
// of a split line share the first piece's time.
func TestFramingTimes(t *testing.T) {
	msgs := frameAll([]byte("a\n"+strings.Repeat("p", MaxLine+5)+"\nb\n"), 3, MaxLine, 100)
	t0 := time.Unix(1700000000, 0)
	if !msgs[0].Time.Equal(t0) || !msgs[1].Time.Equal(msgs[2].Time) || msgs[1].Time.Equal(msgs[3].Time) {
		t.Fatalf("times: %v %v %v %v", msgs[0].Time, msgs[1].Time, msgs[2].Time, msgs[3].Time)
	}
}
