package docker

// Log receivers speaking each driver's protocol: what Docker's daemon and
// shroud send is taken apart here, field by field, in the order it came.
// They listen on the host's loopback (and a unix socket in a temporary
// directory), which the daemon reaches: it runs in the host's network
// namespace.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// inbox collects what a receiver got.
type inbox[T any] struct {
	mu    sync.Mutex
	items []T
}

func (b *inbox[T]) add(v T) {
	b.mu.Lock()
	b.items = append(b.items, v)
	b.mu.Unlock()
}

func (b *inbox[T]) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// take waits until at least n items came (20 s at most), then a little
// longer for any that should not, and returns and forgets them all.
func (b *inbox[T]) take(t *testing.T, n int) []T {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for b.len() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.items
	b.items = nil
	if len(got) < n {
		t.Fatalf("the receiver got %d messages in 20 s, want %d (a daemon that does not share this host's loopback cannot reach it)", len(got), n)
	}
	return got
}

// serve accepts connections on l until it is closed, handing each to fn.
func serve(t *testing.T, l net.Listener, fn func(net.Conn)) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
}

// listen listens on network ("tcp", "udp", "unix", "unixgram") at a fresh
// loopback port or socket path, and returns the address as a log option
// gives it (udp://127.0.0.1:PORT, unix:///PATH) with the listener or
// packet connection.
func listen(t *testing.T, network string) (string, net.Listener, net.PacketConn) {
	t.Helper()
	var addr string
	switch network {
	case "unix", "unixgram":
		dir, err := os.MkdirTemp("", "shroud-docker-sock-") // short: sun_path holds 108 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "log.sock")
	default:
		addr = "127.0.0.1:0"
	}
	if network == "udp" || network == "unixgram" {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		return network + "://" + pc.LocalAddr().String(), nil, pc
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return network + "://" + l.Addr().String(), l, nil
}

// readPackets hands every datagram of pc to fn.
func readPackets(pc net.PacketConn, fn func([]byte)) {
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			fn(bytes.Clone(buf[:n]))
		}
	}()
}

// syslogServer receives syslog messages as they were sent: one a datagram,
// or newline-terminated on a stream. Each message keeps its newline.
type syslogServer struct {
	addr string
	inbox[string]
}

func startSyslog(t *testing.T, network string) *syslogServer {
	s := &syslogServer{}
	var l net.Listener
	var pc net.PacketConn
	s.addr, l, pc = listen(t, network)
	if pc != nil {
		readPackets(pc, func(b []byte) { s.add(string(b)) })
		return s
	}
	serve(t, l, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 1<<20)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				s.add(line)
			}
			if err != nil {
				return
			}
		}
	})
	return s
}

// fluentEvent is one event of the forward protocol, with its record's
// fields in the order they came and the msgpack type of every value.
type fluentEvent struct {
	Tag      string
	TimeKind string // int or EventTime
	Time     time.Time
	Record   []field
	Option   []field
}

// field is one member of a record, with its value's wire type and, for
// JSON, its text.
type field struct {
	Key, Type string
	Value     any
	Raw       string
}

func get(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.Key == key {
			return f, true
		}
	}
	return field{}, false
}

func keys(fs []field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

type fluentServer struct {
	addr string
	inbox[fluentEvent]
	mu   sync.Mutex
	errs []error
}

// startFluentd receives the forward protocol over TCP and acknowledges
// chunks that ask for it.
func startFluentd(t *testing.T) *fluentServer {
	s := &fluentServer{}
	addr, l, _ := listen(t, "tcp")
	s.addr = strings.TrimPrefix(addr, "tcp://")
	serve(t, l, func(c net.Conn) {
		r := msgp.NewReader(c)
		for {
			chunk, err := s.readEntry(r)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
				}
				return
			}
			if chunk != "" {
				w := msgp.NewWriter(c)
				w.WriteMapHeader(1)
				w.WriteString("ack")
				w.WriteString(chunk)
				w.Flush()
			}
		}
	})
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, err := range s.errs {
			t.Errorf("fluentd receiver: %v", err)
		}
	})
	return s
}

// readEntry reads one entry and returns the chunk id to acknowledge, if
// asked. fluent-logger, Docker's and shroud's, posts each event in Message
// mode: [tag, time, record, option].
func (s *fluentServer) readEntry(r *msgp.Reader) (string, error) {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return "", err
	}
	if n != 3 && n != 4 {
		return "", fmt.Errorf("an entry of %d elements: not Message mode", n)
	}
	tag, err := r.ReadString()
	if err != nil {
		return "", err
	}
	ev, err := readTimeRecord(r, tag)
	if err != nil {
		return "", err
	}
	if n == 4 {
		if ev.Option, err = readMap(r); err != nil {
			return "", err
		}
	}
	s.add(ev)
	if f, ok := get(ev.Option, "chunk"); ok {
		return fmt.Sprint(f.Value), nil
	}
	return "", nil
}

// readTimeRecord reads an event's time and record.
func readTimeRecord(r *msgp.Reader, tag string) (fluentEvent, error) {
	ev := fluentEvent{Tag: tag}
	typ, err := r.NextType()
	if err != nil {
		return ev, err
	}
	if typ == msgp.ExtensionType {
		kind, b, err := r.ReadExtensionRaw()
		if err != nil {
			return ev, err
		}
		if kind != 0 || len(b) != 8 {
			return ev, fmt.Errorf("time: extension type %d of %d bytes, want EventTime (0, 8 bytes)", kind, len(b))
		}
		ev.TimeKind = "EventTime"
		ev.Time = time.Unix(int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint32(b[4:])))
	} else {
		sec, err := r.ReadInt64()
		if err != nil {
			return ev, fmt.Errorf("time: %w", err)
		}
		ev.TimeKind = "int"
		ev.Time = time.Unix(sec, 0)
	}
	ev.Record, err = readMap(r)
	return ev, err
}

// readMap reads a map with string keys, keeping the order and the type of
// each value.
func readMap(r *msgp.Reader) ([]field, error) {
	if typ, err := r.NextType(); err != nil {
		return nil, err
	} else if typ == msgp.NilType {
		return nil, r.ReadNil()
	}
	n, err := r.ReadMapHeader()
	if err != nil {
		return nil, err
	}
	fs := make([]field, 0, n)
	for range n {
		k, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		typ, err := r.NextType()
		if err != nil {
			return nil, err
		}
		v, err := r.ReadIntf()
		if err != nil {
			return nil, err
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		fs = append(fs, field{Key: k, Type: typ.String(), Value: v})
	}
	return fs, nil
}

// gelfMessage is one GELF message: how it came (transport, compression,
// chunks) and its JSON members in order.
type gelfMessage struct {
	Compression string // gzip, zlib or none
	Chunks      int    // 0: not chunked
	Size        int    // the payload's size, compressed
	Raw         []byte // the JSON text
	Fields      []field
}

type gelfServer struct {
	addr string
	inbox[gelfMessage]
	mu     sync.Mutex
	chunks map[string][][]byte // message id -> chunks by sequence number
}

// startGELF receives GELF over UDP (chunked, gzip, zlib or plain) or TCP
// (plain, each message ended by a NUL byte).
func startGELF(t *testing.T, network string) *gelfServer {
	s := &gelfServer{chunks: map[string][][]byte{}}
	var l net.Listener
	var pc net.PacketConn
	s.addr, l, pc = listen(t, network)
	if pc != nil {
		readPackets(pc, func(b []byte) { s.datagram(t, b) })
		return s
	}
	serve(t, l, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			b, err := br.ReadBytes(0)
			if len(b) > 1 {
				s.message(t, b[:len(b)-1], 0)
			}
			if err != nil {
				return
			}
		}
	})
	return s
}

// datagram takes one UDP datagram: a whole message or a chunk of one.
func (s *gelfServer) datagram(t *testing.T, b []byte) {
	if len(b) < 12 || b[0] != 0x1e || b[1] != 0x0f {
		s.message(t, b, 0)
		return
	}
	id, seq, count := string(b[2:10]), int(b[10]), int(b[11])
	s.mu.Lock()
	parts := s.chunks[id]
	if parts == nil {
		parts = make([][]byte, count)
		s.chunks[id] = parts
	}
	if seq < len(parts) {
		parts[seq] = b[12:]
	}
	complete := true
	for _, p := range parts {
		complete = complete && p != nil
	}
	if complete {
		delete(s.chunks, id)
	}
	s.mu.Unlock()
	if complete {
		s.message(t, bytes.Join(parts, nil), count)
	}
}

func (s *gelfServer) message(t *testing.T, b []byte, chunks int) {
	m := gelfMessage{Compression: "none", Chunks: chunks, Size: len(b), Raw: b}
	var r io.Reader
	var err error
	switch {
	case len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b:
		m.Compression = "gzip"
		r, err = gzip.NewReader(bytes.NewReader(b))
	case len(b) > 2 && b[0] == 0x78:
		m.Compression = "zlib"
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if r != nil {
		if err == nil {
			m.Raw, err = io.ReadAll(r)
		}
		if err != nil {
			t.Errorf("gelf receiver: %s: %v", m.Compression, err)
			return
		}
	}
	if m.Fields, err = jsonFields(m.Raw); err != nil {
		t.Errorf("gelf receiver: %v: %q", err, m.Raw)
		return
	}
	s.add(m)
}

// jsonFields returns the members of a JSON object in order, each value as
// its JSON type and decoded value.
func jsonFields(raw []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var fs []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		var val any
		json.Unmarshal(v, &val)
		fs = append(fs, field{Key: tok.(string), Type: jsonType(v), Value: val, Raw: string(v)})
	}
	return fs, nil
}

func jsonType(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// hecRequest is one request to the HTTP Event Collector.
type hecRequest struct {
	Auth, ContentType, Encoding string
	Body                        []byte // decompressed
	Events                      []json.RawMessage
}

type splunkServer struct {
	url, caFile string
	token       string
	inbox[json.RawMessage]
	reqs inbox[hecRequest]
}

// startSplunk serves Splunk's HTTP Event Collector over HTTPS; caFile
// holds its certificate for splunk-capath.
func startSplunk(t *testing.T) *splunkServer {
	s := &splunkServer{token: "hec-token-" + runID}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			return // Docker's and shroud's start-up check
		}
		if r.URL.Path != "/services/collector/event/1.0" || r.Header.Get("Authorization") != "Splunk "+s.token {
			http.Error(w, `{"text":"Invalid token","code":4}`, http.StatusForbidden)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		req := hecRequest{Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Encoding: r.Header.Get("Content-Encoding")}
		var err error
		if req.Body, err = io.ReadAll(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		dec := json.NewDecoder(bytes.NewReader(req.Body))
		for {
			var ev json.RawMessage
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil {
				http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
				return
			}
			req.Events = append(req.Events, ev)
			s.add(ev)
		}
		s.reqs.add(req)
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	cert := srv.TLS.Certificates[0].Certificate[0]
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}
