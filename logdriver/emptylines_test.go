package logdriver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Graylog2/go-gelf/gelf"
)

// TestEmptyLinesAsDocker checks which drivers send an empty line: Docker's
// syslog and gelf drivers drop it (a line of spaces is sent); the others
// send it (e2e/docker compares each with the daemon's).
func TestEmptyLinesAsDocker(t *testing.T) {
	msgs := []Message{{Line: []byte("a")}, {Line: []byte("")}, {Line: []byte("  ")}, {Line: []byte("")}, {Line: []byte("b")}}
	for i := range msgs {
		msgs[i].Stream, msgs[i].Time = "stdout", time.Now()
	}
	env := driverEnv{tag: "t", stop: context.Background(), opt: func(name, problem string) error {
		t.Fatalf("%s: %s", name, problem)
		return nil
	}}
	for _, tt := range []struct {
		name    string
		network string
		newDrv  func(addr string) (driver, error)
		line    func([]byte) string
	}{
		{"syslog udp", "udp", func(addr string) (driver, error) {
			return newSyslog(syslogSettings{network: "udp", address: addr, format: "rfc5424"}, env)
		}, func(b []byte) string { return string(b[strings.LastIndex(string(b), " - ")+3 : len(b)-1]) }},
		{"syslog tcp", "tcp", func(addr string) (driver, error) {
			return newSyslog(syslogSettings{network: "tcp", address: addr, format: "rfc5424"}, env)
		}, func(b []byte) string { return string(b[strings.LastIndex(string(b), " - ")+3:]) }},
		{"gelf udp", "udp", func(addr string) (driver, error) {
			return newGELF(gelfSettings{network: "udp", address: addr, compression: gelf.CompressGzip, level: 1}, env)
		}, func(b []byte) string {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return "not gzip"
			}
			data, _ := io.ReadAll(zr)
			var m struct {
				Short string `json:"short_message"`
			}
			json.Unmarshal(data, &m)
			return m.Short
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan []string, 1)
			var addr string
			if tt.network == "udp" {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				addr = pc.LocalAddr().String()
				go func() {
					var lines []string
					buf := make([]byte, 1<<16)
					pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
					for {
						n, _, err := pc.ReadFrom(buf)
						if err != nil {
							break
						}
						lines = append(lines, tt.line(buf[:n]))
					}
					got <- lines
				}()
			} else {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				addr = l.Addr().String()
				go func() {
					c, err := l.Accept()
					if err != nil {
						got <- nil
						return
					}
					data, _ := io.ReadAll(c)
					var lines []string
					for _, m := range strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n") {
						lines = append(lines, strings.TrimSuffix(tt.line([]byte(m)), "\n"))
					}
					got <- lines
				}()
			}
			d, err := tt.newDrv(addr)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := d.log(msgs); n != len(msgs) || err != nil {
				t.Fatalf("log = %d, %v", n, err)
			}
			d.close()
			if lines := <-got; strings.Join(lines, "|") != "a|  |b" {
				t.Errorf("sent %q, want a, two spaces and b", lines)
			}
		})
	}
}
