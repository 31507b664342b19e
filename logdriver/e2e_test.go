package logdriver_test

// End-to-end tests: a config with secret options is resolved through
// inject and sources, as shroud run will, a real child's output goes
// through the pipeline, and real servers (rsyslog) or servers speaking the
// real protocols (fluentd forward, Splunk HEC over HTTPS, GELF) receive it.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Graylog2/go-gelf/gelf"
	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/logdriver"
	"github.com/shroud-dev/shroud/sources"
)

// canary is the secret bound to the child's env in every test here; the
// child prints it, and no sink may receive it.
const canary = "canary-e2e-log-Pn47Wq"

// setup writes files into a directory and resolves the config there as
// shroud run does, returning the pipeline's config.
func setup(t *testing.T, text string, files map[string]string) *logdriver.Config {
	t.Helper()
	dir := t.TempDir()
	files["db.json"] = `{"password":"` + canary + `"}`
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text = "[[secrets]]\nname = \"DB_PASSWORD\"\nvalue_from = \"file:db.json#password\"\n\n" + text
	cfg, err := config.ParseFile(filepath.Join(dir, "shroud.toml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	spec := inject.NewPlan(cfg)
	vals, err := spec.Resolve(context.Background(), sources.NewResolver())
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Materialize(vals)
	if err != nil {
		t.Fatal(err)
	}
	return m.Log
}

// run starts sh -c script with the secret in its env and its output through
// a pipeline built from cfg; it returns what shroud's own stdout, stderr
// and diagnostics received.
func run(t *testing.T, cfg *logdriver.Config, script string) (stdout, stderr, diag string, stats logdriver.Stats) {
	t.Helper()
	var out, errb, diagb lockedBuffer
	p, err := logdriver.New(logdriver.Input{
		Config: *cfg, Info: logdriver.Info{Name: "app", Hostname: "host-1", FullID: "f00dcafe1234abcd"},
		Stdout: &out, Stderr: &errb, Logger: slog.New(slog.NewTextHandler(&diagb, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "DB_PASSWORD="+canary)
	cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), diagb.String(), p.Stats()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// noCanary fails if the secret shows in any text.
func noCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, canary) {
			t.Errorf("%s leaks the secret:\n%.400s", what, s)
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rsyslog is a Debian rsyslogd listening on loopback UDP and TCP ports,
// writing every message it receives, field by field, to a file.
type rsyslog struct {
	udp, tcp int
	out      string
}

// rsyslogFields is the output template: one line per message.
const rsyslogFields = `%syslogfacility-text%|%syslogseverity-text%|%protocol-version%|%programname%|%app-name%|%procid%|%msgid%|%hostname%|%timereported:::date-rfc3339%|%msg%\n`

func startRsyslog(t *testing.T) *rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
			if _, err2 := os.Stat(p); err2 == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		t.Skip("rsyslogd is not installed (Debian: apt-get install rsyslog; .ci/run does): skipping the real syslog server test")
	}
	dir := t.TempDir()
	r := &rsyslog{udp: freePort(t, "udp"), tcp: freePort(t, "tcp"), out: filepath.Join(dir, "received.log")}
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="%d")
input(type="imtcp" address="127.0.0.1" port="%d")
template(name="fields" type="string" string="%s")
*.* action(type="omfile" file=%q template="fields")
`, dir, r.udp, r.tcp, rsyslogFields, r.out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	must.Succeed(t, os.WriteFile(confPath, []byte(conf), 0o600))
	cmd := exec.Command(bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Ready when a probe sent over each transport is written out.
	deadline := time.Now().Add(20 * time.Second)
	for _, network := range []string{"udp", "tcp"} {
		port := map[string]int{"udp": r.udp, "tcp": r.tcp}[network]
		probe := "probe-" + network
		for !strings.Contains(r.read(), probe) {
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd did not start: %s", stderr.String())
			}
			if c, err := net.Dial(network, fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				fmt.Fprintf(c, "<14>%s\n", probe)
				c.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return r
}

func (r *rsyslog) read() string {
	data, _ := os.ReadFile(r.out)
	return string(data)
}

// wait returns the received lines holding marker, once there are n.
func (r *rsyslog) wait(t *testing.T, marker string, n int) [][]string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got [][]string
		for _, line := range strings.Split(r.read(), "\n") {
			if strings.Contains(line, marker) {
				got = append(got, strings.SplitN(line, "|", 10))
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSyslogRsyslog sends a child's output to a real rsyslogd, with the
// syslog-address taken from a secret, and checks what rsyslog parsed:
// facility, severity (info for stdout, err for stderr), tag, format.
func TestSyslogRsyslog(t *testing.T) {
	rs := startRsyslog(t)
	for i, tt := range []struct {
		network, format, facility string
		version, host             string
	}{
		{"udp", "rfc5424", "local3", "1", "host-1"},
		{"tcp", "rfc5424micro", "daemon", "1", "host-1"},
		{"tcp", "rfc3164", "local7", "0", "host-1"},
		{"udp", "", "user", "0", ""}, // Docker's default: no hostname
	} {
		name := tt.network + "-" + tt.format
		marker := fmt.Sprintf("mark%dx", i)
		t.Run(name, func(t *testing.T) {
			port := rs.udp
			if tt.network == "tcp" {
				port = rs.tcp
			}
			cfg := setup(t, fmt.Sprintf(`
[log]
driver = "syslog"
options = { tag = "myapp", "syslog-facility" = %q, "syslog-format" = %q }
mask = true
[[log.secret_options]]
name = "syslog-address"
value_from = "file:syslog-address.txt"
`, tt.facility, tt.format), map[string]string{"syslog-address.txt": fmt.Sprintf("%s://127.0.0.1:%d\n", tt.network, port)})
			before := time.Now().Add(-2 * time.Second)
			out, _, diag, _ := run(t, cfg, fmt.Sprintf(`echo "%[1]s out one"; echo "%[1]s err two" >&2; echo "%[1]s pw $DB_PASSWORD"`, marker))
			got := rs.wait(t, marker, 3)
			if len(got) != 3 {
				t.Fatalf("rsyslog received %d messages, want 3:\n%.2000s", len(got), rs.read())
			}
			severities := map[string]string{}
			for _, f := range got {
				// facility|severity|version|programname|app-name|procid|msgid|hostname|time|msg
				msg := strings.TrimSpace(f[9])
				severities[msg] = f[1]
				if f[0] != tt.facility || f[2] != tt.version || f[3] != "myapp" {
					t.Errorf("facility %q version %q tag %q, want %s %s myapp: %q", f[0], f[2], f[3], tt.facility, tt.version, f)
				}
				if tt.version == "1" && (f[4] != "myapp" || f[5] != fmt.Sprint(os.Getpid()) || f[6] != "myapp") {
					t.Errorf("RFC 5424 app-name %q procid %q msgid %q", f[4], f[5], f[6])
				}
				if tt.host != "" && f[7] != tt.host {
					t.Errorf("hostname %q, want %q", f[7], tt.host)
				}
				ts, err := time.Parse(time.RFC3339, f[8])
				if err != nil || ts.Before(before) || ts.After(time.Now().Add(2*time.Second)) {
					t.Errorf("timestamp %q", f[8])
				}
			}
			want := map[string]string{marker + " out one": "info", marker + " err two": "err", marker + " pw *****": "info"}
			if fmt.Sprint(severities) != fmt.Sprint(want) {
				t.Errorf("messages and severities = %v, want %v", severities, want)
			}
			noCanary(t, "rsyslog", rs.read())
			noCanary(t, "tee, diagnostics", out, diag)
		})
	}
}

// TestSyslogTLSOctetCounting checks tcp+tls with rfc5424: messages are
// framed by length (RFC 5425), as Docker frames them.
func TestSyslogTLSOctetCounting(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil) // only for its TLS certificate
	srv.StartTLS()
	cert := srv.TLS.Certificates[0]
	srv.Close()
	ln, err := tlsListen(cert)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var frames []string
		for len(frames) < 2 {
			var n int
			if _, err := fmt.Fscanf(br, "%d ", &n); err != nil {
				break
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(br, b); err != nil {
				break
			}
			frames = append(frames, string(b))
		}
		got <- frames
	}()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	must.Succeed(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600))
	cfg := setup(t, fmt.Sprintf(`
[log]
driver = "syslog"
options = { tag = "tlsapp", "syslog-format" = "rfc5424", "syslog-tls-ca-cert" = %q }
[[log.secret_options]]
name = "syslog-address"
value_from = "file:addr"
`, caFile), map[string]string{"addr": "tcp+tls://" + ln.Addr().String()})
	run(t, cfg, `echo first; echo second`)
	frames := <-got
	if len(frames) != 2 || !strings.HasPrefix(frames[0], "<30>1 ") || !strings.HasSuffix(frames[0], " host-1 tlsapp "+fmt.Sprint(os.Getpid())+" tlsapp - first\n") {
		t.Fatalf("frames = %q", frames)
	}
}

// fluentdReceiver decodes the fluentd forward protocol (msgpack): Message,
// Forward and PackedForward modes, and answers acks.
type fluentdReceiver struct {
	ln     net.Listener
	mu     sync.Mutex
	events []fluentdEvent
}

type fluentdEvent struct {
	tag    string
	time   time.Time
	record map[string]any
}

func newFluentdReceiver(t *testing.T) *fluentdReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &fluentdReceiver{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(t, c)
		}
	}()
	return r
}

func (r *fluentdReceiver) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	mr := msgp.NewReader(c)
	for {
		n, err := mr.ReadArrayHeader()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("fluentd receiver: %v", err)
			}
			return
		}
		tag, err := mr.ReadString()
		if err != nil || n < 2 {
			t.Errorf("fluentd receiver: bad message header: %v", err)
			return
		}
		var events []fluentdEvent
		consumed := 2 // tag and entries
		typ, _ := mr.NextType()
		switch typ {
		case msgp.ArrayType: // Forward mode: [[time, record], ...]
			m, _ := mr.ReadArrayHeader()
			for range m {
				mr.ReadArrayHeader()
				events = append(events, readEntry(t, mr, tag))
			}
		case msgp.BinType, msgp.StrType: // PackedForward: a stream of [time, record]
			b, _ := mr.ReadBytes(nil)
			pr := msgp.NewReader(strings.NewReader(string(b)))
			for {
				if _, err := pr.ReadArrayHeader(); err != nil {
					break
				}
				events = append(events, readEntry(t, pr, tag))
			}
		default: // Message mode: tag, time, record
			events = append(events, readEntry(t, mr, tag))
			consumed = 3
		}
		if int(n) > consumed { // options
			opts, err := mr.ReadIntf()
			if m, ok := opts.(map[string]any); err == nil && ok && m["chunk"] != nil {
				w := msgp.NewWriter(c)
				w.WriteMapHeader(1)
				w.WriteString("ack")
				w.WriteString(fmt.Sprint(m["chunk"]))
				w.Flush()
			}
		}
		r.mu.Lock()
		r.events = append(r.events, events...)
		r.mu.Unlock()
	}
}

func readEntry(t *testing.T, mr *msgp.Reader, tag string) fluentdEvent {
	ev := fluentdEvent{tag: tag}
	tm, err := mr.ReadIntf()
	switch v := tm.(type) {
	case int64:
		ev.time = time.Unix(v, 0)
	case uint64:
		ev.time = time.Unix(int64(v), 0)
	case *fluent.EventTime:
		ev.time = time.Time(*v)
	default:
		t.Errorf("fluentd receiver: time is %T (%v)", tm, err)
	}
	rec, err := mr.ReadIntf()
	m, ok := rec.(map[string]any)
	if err != nil || !ok {
		t.Errorf("fluentd receiver: record is %T: %v", rec, err)
	}
	ev.record = m
	return ev
}

func (r *fluentdReceiver) wait(n int) []fluentdEvent {
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		ev := append([]fluentdEvent(nil), r.events...)
		r.mu.Unlock()
		if len(ev) >= n || time.Now().After(deadline) {
			return ev
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFluentd(t *testing.T) {
	for _, extra := range []string{"", `, "fluentd-async" = "true", "fluentd-sub-second-precision" = "true", "fluentd-request-ack" = "true"`} {
		t.Run("options"+extra, func(t *testing.T) {
			recv := newFluentdReceiver(t)
			cfg := setup(t, `
[log]
driver = "fluentd"
options = { tag = "docker.{{.Name}}", env = "STAGE"`+extra+` }
mask = true
[[log.secret_options]]
name = "fluentd-address"
value_from = "file:fluentd.json#address"
`, map[string]string{"fluentd.json": `{"address": "tcp://` + recv.ln.Addr().String() + `"}`})
			before := time.Now().Add(-time.Second).Truncate(time.Second)
			long := strings.Repeat("L", logdriver.MaxLine+10)
			out, errOut, diag, _ := run(t, cfg, `echo hello; echo oops >&2; echo "pw=$DB_PASSWORD"; echo `+long)
			events := recv.wait(5)
			if len(events) != 5 {
				t.Fatalf("received %d events, want 5", len(events))
			}
			bySource := map[string][]string{}
			for _, ev := range events {
				rec := ev.record
				if ev.tag != "docker.app" || rec["container_id"] != "f00dcafe1234abcd" || rec["container_name"] != "app" {
					t.Errorf("event tag %q record %.300v", ev.tag, rec)
				}
				if ev.time.Before(before) || ev.time.After(time.Now()) {
					t.Errorf("event time %v", ev.time)
				}
				src, _ := rec["source"].(string)
				line, _ := rec["log"].(string)
				if rec["partial_message"] == "true" {
					line = fmt.Sprintf("%s#%v/%v/%d", line[:1], rec["partial_ordinal"], rec["partial_last"], len(rec["partial_id"].(string)))
				}
				bySource[src] = append(bySource[src], line)
			}
			want := "map[stderr:[oops] stdout:[hello pw=***** L#1/false/64 L#2/true/64]]"
			if got := fmt.Sprint(bySource); got != want {
				t.Errorf("records = %s, want %s", got, want)
			}
			noCanary(t, "fluentd records", fmt.Sprint(events))
			noCanary(t, "tee, diagnostics", out, errOut, diag)
		})
	}
}

// splunkHEC is an HTTPS Splunk HTTP Event Collector: it checks the token
// and keeps the events.
type splunkHEC struct {
	srv    *httptest.Server
	token  string
	mu     sync.Mutex
	events []map[string]any
	denied int
}

func newSplunkHEC(t *testing.T, token string) *splunkHEC {
	h := &splunkHEC{token: token}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			return // the driver's connection check
		}
		if r.URL.Path != "/services/collector/event/1.0" || r.Method != http.MethodPost {
			http.Error(w, `{"text":"Not found","code":404}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Splunk "+h.token {
			h.mu.Lock()
			h.denied++
			h.mu.Unlock()
			http.Error(w, `{"text":"Invalid token","code":4}`, http.StatusForbidden)
			return
		}
		dec := json.NewDecoder(r.Body)
		for {
			var ev map[string]any
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil {
				http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
				return
			}
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		}
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *splunkHEC) caFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "hec-ca.pem")
	must.Succeed(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw}), 0o600))
	return path
}

func TestSplunk(t *testing.T) {
	const token = "canary-splunk-token-9d2f"
	hec := newSplunkHEC(t, token)
	cfg := setup(t, fmt.Sprintf(`
[log]
driver = "splunk"
options = { "splunk-capath" = %q, "splunk-caname" = "example.com", "splunk-index" = "main", "splunk-sourcetype" = "app", tag = "web" }
mask = true
[[log.secret_options]]
name = "splunk-url"
value_from = "file:splunk.env#SPLUNK_URL"
[[log.secret_options]]
name = "splunk-token"
value_from = "file:splunk.env#SPLUNK_TOKEN"
`, hec.caFile(t)), map[string]string{"splunk.env": "SPLUNK_URL=" + hec.srv.URL + "\nSPLUNK_TOKEN=" + token + "\n"})
	out, errOut, diag, _ := run(t, cfg, `echo hello; echo oops >&2; echo "pw=$DB_PASSWORD token=`+token+`"`)
	hec.mu.Lock()
	events := hec.events
	hec.mu.Unlock()
	if len(events) != 3 || hec.denied != 0 {
		t.Fatalf("events %v, denied %d", events, hec.denied)
	}
	var lines []string
	for _, ev := range events {
		inner := ev["event"].(map[string]any)
		if ev["host"] != "host-1" || ev["index"] != "main" || ev["sourcetype"] != "app" || inner["tag"] != "web" || ev["time"] == "" {
			t.Errorf("event %v", ev)
		}
		lines = append(lines, fmt.Sprintf("%s:%s", inner["source"], inner["line"]))
	}
	if got := strings.Join(lines, ","); !strings.Contains(got, "stdout:hello") || !strings.Contains(got, "stderr:oops") || !strings.Contains(got, "stdout:pw=***** token=*****") {
		t.Errorf("lines = %s", got)
	}
	noCanary(t, "splunk events", fmt.Sprint(events))
	noCanary(t, "tee, diagnostics", out, errOut, diag)
	if strings.Contains(out+diag, token) {
		t.Errorf("the token leaked")
	}

	// A wrong token: the collector refuses every batch; the messages are
	// dropped, and nothing says the token.
	cfg.Options["splunk-token"] = "canary-wrong-token-3k"
	var diagb lockedBuffer
	p, err := logdriver.New(logdriver.Input{Config: *cfg, Logger: slog.New(slog.NewTextHandler(&diagb, nil)), Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "echo refused")
	cmd.Stdout = p.Stdout()
	cmd.Run()
	err = p.Close()
	if err == nil || !strings.Contains(err.Error(), "not delivered: 1 message (7 bytes)") || p.Stats().DroppedMessages != 1 {
		t.Fatalf("close: %v, stats %+v", err, p.Stats())
	}
	if d := diagb.String(); !strings.Contains(d, "403 Forbidden") || strings.Contains(d, "canary-wrong-token") {
		t.Errorf("diagnostics: %s", d)
	}
}

func TestGELF(t *testing.T) {
	r, err := gelf.NewReader("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := setup(t, `
[log]
driver = "gelf"
options = { "gelf-compression-type" = "zlib", tag = "{{.Name}}-{{.ID}}" }
mask = true
[[log.secret_options]]
name = "gelf-address"
value_from = "file:gelf"
`, map[string]string{"gelf": "udp://" + r.Addr()})
	done := make(chan []*gelf.Message)
	go func() {
		var msgs []*gelf.Message
		for len(msgs) < 3 {
			m, err := r.ReadMessage()
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		done <- msgs
	}()
	big := strings.Repeat("G", 5000)
	run(t, cfg, `echo hello; echo oops >&2; echo "pw=$DB_PASSWORD `+big+`"`)
	var msgs []*gelf.Message
	select {
	case msgs = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no GELF messages")
	}
	levels := map[string]int32{}
	for _, m := range msgs {
		levels[m.Short[:min(len(m.Short), 12)]] = m.Level
		if m.Host != "host-1" || m.Extra["_tag"] != "app-f00dcafe1234" || m.Extra["_container_name"] != "app" {
			t.Errorf("message %+v", m)
		}
		noCanary(t, "gelf", m.Short)
	}
	if fmt.Sprint(levels) != "map[hello:6 oops:3 pw=***** GGG:6]" {
		t.Errorf("levels = %v", levels)
	}
}

// tlsListen listens on loopback with cert.
func tlsListen(cert tls.Certificate) (net.Listener, error) {
	return tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
}

// lineServer is a TCP syslog server that keeps the lines it receives.
type lineServer struct {
	mu    sync.Mutex
	lines []string
	ln    net.Listener
	conns []net.Conn
}

func (s *lineServer) listen(t *testing.T, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					s.mu.Lock()
					s.lines = append(s.lines, sc.Text())
					s.mu.Unlock()
				}
			}()
		}
	}()
}

// stop closes the listener and every connection: the server is down.
func (s *lineServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln.Close()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *lineServer) received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// TestSyslogReconnect stops the server while the child writes, and starts
// it again: the pipeline reconnects with backoff and delivers every line.
func TestSyslogReconnect(t *testing.T) {
	var srv lineServer
	srv.listen(t, "127.0.0.1:0")
	addr := srv.ln.Addr().String()
	cfg := setup(t, `
[log]
driver = "syslog"
options = { tag = "re", "syslog-format" = "rfc5424" }
[[log.secret_options]]
name = "syslog-address"
value_from = "file:addr"
`, map[string]string{"addr": "tcp://" + addr})
	var diag lockedBuffer
	p, err := logdriver.New(logdriver.Input{Config: *cfg, Stdout: io.Discard, Stderr: io.Discard, Logger: slog.New(slog.NewTextHandler(&diag, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// The child writes each part when the test says so, on its stdin.
	cmd := exec.Command("sh", "-c", `echo before; read go; echo during-1; echo during-2; read go; echo after`)
	cmd.Stdout = p.Stdout()
	next, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer next.Close()
	until := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s; received:\n%s", what, srv.received())
			}
		}
	}
	until("the server received before", func() bool { return strings.Contains(srv.received(), "before") })
	srv.stop()
	io.WriteString(next, "\n")
	// The "during" lines are written while the server is down: the
	// pipeline has met it down before it comes back.
	until("a delivery failed", func() bool { return p.Stats().DeliveryErrors > 0 })
	srv.listen(t, addr)
	io.WriteString(next, "\n")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Delivered means written to the socket: give the server time to read.
	got := srv.received()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(got, "re - after") && time.Now().Before(deadline); got = srv.received() {
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"re - before", "re - during-1", "re - during-2", "re - after"} {
		if !strings.Contains(got, want) {
			t.Errorf("lost %q; received:\n%s", want, got)
		}
	}
	if s := p.Stats(); s.DeliveryErrors == 0 || s.DroppedMessages != 0 {
		t.Errorf("stats = %+v: want failed deliveries, retried, none dropped", s)
	}
	if d := diag.String(); !strings.Contains(d, "retrying with backoff") || strings.Contains(d, addr) {
		t.Errorf("diagnostics (must say it retries, and not show the secret address):\n%s", d)
	}
}

// TestMaskingEverySink runs a child printing secrets in every way the
// masking must catch (whole, split across writes, across read and line
// boundaries, base64, JSON, on stderr, an old value after a rotation)
// through each driver, and scans everything every sink received.
func TestMaskingEverySink(t *testing.T) {
	secrets := `
[[secrets]]
name = "TOKEN"
value_from = "file:mask.json#token"
[[secrets]]
name = "OLD_TOKEN"
value_from = "file:mask.json#old"
`
	files := func(extra map[string]string) map[string]string {
		extra["mask.json"] = fmt.Sprintf(`{"token":%q,"old":%q}`, logdriver.MaskCanary, logdriver.MaskCanaryOld)
		return extra
	}
	type sink struct {
		config   string
		files    map[string]string
		received func() string
	}
	sinks := map[string]func(t *testing.T) sink{
		"json-file": func(t *testing.T) sink {
			dir := t.TempDir()
			return sink{
				config: fmt.Sprintf(`options = { path = %q, "max-size" = "20k", "max-file" = "9", compress = false }`, filepath.Join(dir, "app.log")),
				files:  map[string]string{},
				received: func() string {
					var all strings.Builder
					names, _ := filepath.Glob(filepath.Join(dir, "*"))
					for _, n := range names {
						data, _ := os.ReadFile(n)
						all.Write(data)
					}
					return all.String()
				},
			}
		},
		"syslog": func(t *testing.T) sink {
			rs := startRsyslog(t)
			return sink{
				config:   "[[log.secret_options]]\nname = \"syslog-address\"\nvalue_from = \"file:addr\"",
				files:    map[string]string{"addr": fmt.Sprintf("tcp://127.0.0.1:%d", rs.tcp)},
				received: func() string { return waitFor(rs.read, "done") },
			}
		},
		"fluentd": func(t *testing.T) sink {
			recv := newFluentdReceiver(t)
			return sink{
				config: "[[log.secret_options]]\nname = \"fluentd-address\"\nvalue_from = \"file:addr\"",
				files:  map[string]string{"addr": recv.ln.Addr().String()},
				received: func() string {
					for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
						if got := fmt.Sprint(recv.wait(0)); strings.Contains(got, "done") || time.Now().After(deadline) {
							return got
						}
					}
				},
			}
		},
		"splunk": func(t *testing.T) sink {
			hec := newSplunkHEC(t, "tok")
			return sink{
				config: fmt.Sprintf("options = { \"splunk-url\" = %q, \"splunk-insecureskipverify\" = \"true\", \"splunk-format\" = \"raw\" }\n[[log.secret_options]]\nname = \"splunk-token\"\nvalue_from = \"file:tok\"", hec.srv.URL),
				files:  map[string]string{"tok": "tok"},
				received: func() string {
					hec.mu.Lock()
					defer hec.mu.Unlock()
					return fmt.Sprint(hec.events)
				},
			}
		},
		"gelf": func(t *testing.T) sink {
			r, err := gelf.NewReader("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var all strings.Builder
			go func() {
				for {
					m, err := r.ReadMessage()
					if err != nil {
						return
					}
					mu.Lock()
					all.WriteString(m.Short + "\n")
					mu.Unlock()
				}
			}()
			return sink{
				config: "[[log.secret_options]]\nname = \"gelf-address\"\nvalue_from = \"file:addr\"",
				files:  map[string]string{"addr": "udp://" + r.Addr()},
				received: func() string {
					return waitFor(func() string {
						mu.Lock()
						defer mu.Unlock()
						return all.String()
					}, "done")
				},
			}
		},
	}
	for _, driver := range []string{"json-file", "syslog", "fluentd", "splunk", "gelf"} {
		t.Run(driver, func(t *testing.T) {
			s := sinks[driver](t)
			cfg := setup(t, secrets+fmt.Sprintf("\n[log]\ndriver = %q\nmask = true\n", driver)+s.config+"\n", files(s.files))
			out, errOut, diag, stats := run(t, cfg, logdriver.MaskScript)
			got := s.received()
			if !strings.Contains(got, "done") || !strings.Contains(got, "*****") {
				t.Fatalf("the sink did not receive the output: %.300s", got)
			}
			logdriver.NoMaskCanary(t, driver, got)
			logdriver.NoMaskCanary(t, "tee stdout", out)
			logdriver.NoMaskCanary(t, "tee stderr", errOut)
			logdriver.NoMaskCanary(t, "diagnostics", diag)
			if stats.Masked < 9 {
				t.Errorf("%d values masked, want at least 9", stats.Masked)
			}
		})
	}
}

// waitFor polls read until its text holds want, for up to 10 seconds.
func waitFor(read func() string, want string) string {
	got := read()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(got, want) && time.Now().Before(deadline); got = read() {
		time.Sleep(20 * time.Millisecond)
	}
	return got
}
