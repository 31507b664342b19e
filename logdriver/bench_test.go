package logdriver

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// benchLines returns about size bytes of log lines like bench/logs writes:
// plain text, key=value and JSON, 40 to 400 bytes.
func benchLines(size int) []byte {
	r := rand.New(rand.NewPCG(7, 11))
	var b []byte
	for len(b) < size {
		ts := time.Date(2024, 5, 1, 12, r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC).Format(time.RFC3339Nano)
		switch r.IntN(3) {
		case 0:
			b = fmt.Appendf(b, "%s INFO request id=%016x method=GET path=/api/v1/items status=200 dur=%dms bytes=%d\n", ts, r.Uint64(), r.IntN(900), r.IntN(1<<20))
		case 1:
			b = fmt.Appendf(b, `{"ts":%q,"level":"info","msg":"user action","user_id":%d,"action":"update","fields":{"k":"v%d","note":"lorem ipsum dolor sit amet, consectetur adipiscing elit"}}`+"\n", ts, r.IntN(1e6), r.IntN(100))
		default:
			b = fmt.Appendf(b, "%s WARN worker %d: retrying job %d after error: connection reset by peer (attempt %d of 5)\n", ts, r.IntN(16), r.IntN(1e7), 1+r.IntN(5))
		}
	}
	return b
}

// BenchmarkJSONFilePipeline is the json-file hot path in-process: 64 KiB
// writes to a pipeline's stdout, framed, queued and written to /dev/null.
func BenchmarkJSONFilePipeline(b *testing.B) {
	for _, mask := range []bool{false, true} {
		b.Run(fmt.Sprintf("mask=%v", mask), func(b *testing.B) {
			data := benchLines(16 << 20)
			cfg := Config{Driver: JSONFile, Options: map[string]string{"path": os.DevNull}}
			if mask {
				r := rand.New(rand.NewPCG(1, 2))
				for range 100 {
					v := make([]byte, 16+r.IntN(25))
					for i := range v {
						v[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(62)]
					}
					cfg.MaskValues = append(cfg.MaskValues, v)
				}
				cfg.Mask, cfg.MaskOptions = true, MaskOptions{Base64: true, JSON: true}
			}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			p, err := New(Input{Config: cfg, Stdout: io.Discard, Stderr: io.Discard, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			w := p.Stdout()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				for d := data; len(d) > 0; {
					k := min(len(d), 64<<10)
					if _, err := w.Write(d[:k]); err != nil {
						b.Fatal(err)
					}
					d = d[k:]
				}
			}
			if err := p.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkJSONFileDriver is the driver's part alone: batches of framed
// lines encoded and written to /dev/null.
func BenchmarkJSONFileDriver(b *testing.B) {
	data := benchLines(1 << 20)
	var fr framer
	fr.stream = "stdout"
	msgs := fr.frame(nil, data, time.Now())
	drv, err := newJSONFile(jsonFileSettings{path: os.DevNull, maxFiles: 1}, driverEnv{})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.close()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := drv.log(msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrameAndQueue is the streams' part alone: framing 64 KiB chunks
// and queueing their lines, with a taker keeping up.
func BenchmarkFrameAndQueue(b *testing.B) {
	data := benchLines(1 << 20)
	fr := framer{stream: "stdout"}
	q := newQueue(DefaultMaxBufferSize, true)
	var msgs []Message
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		for d := data; len(d) > 0; {
			k := min(len(d), 64<<10)
			msgs = fr.frame(msgs[:0], d[:k], time.Now())
			q.push(msgs)
			q.take()
			d = d[k:]
		}
	}
}

// BenchmarkAppendJSONString escapes the lines of benchLines: all of them,
// the plain-text ones only, and the JSON ones (a quote every few bytes).
func BenchmarkAppendJSONString(b *testing.B) {
	data := benchLines(1 << 20)
	var fr framer
	all := fr.frame(nil, data, time.Now())
	for _, kind := range []string{"all", "text", "json"} {
		b.Run(kind, func(b *testing.B) {
			var lines [][]byte
			size := 0
			for _, m := range all {
				if isJSON := bytes.HasPrefix(m.Line, []byte("{")); kind == "all" || isJSON == (kind == "json") {
					lines = append(lines, m.Line)
					size += len(m.Line)
				}
			}
			buf := make([]byte, 0, 8*size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				buf = buf[:0]
				for _, l := range lines {
					buf = appendJSONString(buf, l)
				}
			}
		})
	}
}
