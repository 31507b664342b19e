package docker

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syslogMessage is one syslog message taken apart.
type syslogMessage struct {
	raw                              string
	facility, severity               int
	time, host, tag, pid, msgid, msg string
}

// The formats of Docker's syslog driver; the message ends with a newline.
var syslogFormats = map[string]*regexp.Regexp{
	"":             regexp.MustCompile(`(?s)^<(?P<pri>\d+)>(?P<time>\w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<tag>[^ \[]+)\[(?P<pid>\d+)\]: (?P<msg>.*)\n$`),
	"rfc3164":      regexp.MustCompile(`(?s)^<(?P<pri>\d+)>(?P<time>\w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) (?P<tag>[^ \[]+)\[(?P<pid>\d+)\]: (?P<msg>.*)\n$`),
	"rfc5424":      regexp.MustCompile(`(?s)^<(?P<pri>\d+)>1 (?P<time>\S+) (?P<host>\S+) (?P<tag>\S+) (?P<pid>\d+) (?P<msgid>\S+) - (?P<msg>.*)\n$`),
	"rfc5424micro": regexp.MustCompile(`(?s)^<(?P<pri>\d+)>1 (?P<time>\S+) (?P<host>\S+) (?P<tag>\S+) (?P<pid>\d+) (?P<msgid>\S+) - (?P<msg>.*)\n$`),
}

// Timestamp layouts of each format (the local time of the sender).
var syslogLayouts = map[string]string{
	"": time.Stamp, "rfc3164": time.Stamp,
	"rfc5424": time.RFC3339, "rfc5424micro": "2006-01-02T15:04:05.000000Z07:00",
}

func parseSyslog(t *testing.T, who, format, raw string) syslogMessage {
	t.Helper()
	re := syslogFormats[format]
	m := re.FindStringSubmatch(raw)
	if m == nil {
		t.Fatalf("%s: %q is not a %q syslog message", who, raw, format)
	}
	get := func(name string) string {
		if i := re.SubexpIndex(name); i > 0 {
			return m[i]
		}
		return ""
	}
	pri, _ := strconv.Atoi(get("pri"))
	return syslogMessage{raw: raw, facility: pri >> 3, severity: pri & 7, time: get("time"), host: get("host"),
		tag: get("tag"), pid: get("pid"), msgid: get("msgid"), msg: get("msg")}
}

// byStream groups messages by severity: info is stdout, err is stderr.
func syslogByStream(t *testing.T, msgs []syslogMessage) map[string][]syslogMessage {
	out := map[string][]syslogMessage{}
	for _, m := range msgs {
		switch m.severity {
		case 6:
			out["stdout"] = append(out["stdout"], m)
		case 3:
			out["stderr"] = append(out["stderr"], m)
		default:
			t.Errorf("severity %d in %q", m.severity, m.raw)
		}
	}
	return out
}

// daemonPID is the Docker daemon's pid, which Docker's syslog messages
// carry; 0 if its pidfile is not where it usually is.
func daemonPID() int {
	b, _ := os.ReadFile("/var/run/docker.pid")
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// syslogMessages is how many messages parityScript makes for syslog and
// gelf, which drop its two empty ones.
const syslogMessages = 16

// TestSyslogAsDocker compares shroud's syslog messages with Docker's for
// the same child, in each format, over each transport.
func TestSyslogAsDocker(t *testing.T) {
	requireDocker(t)
	hostname, _ := os.Hostname()
	for _, tt := range []struct {
		network, format, facility string
		code                      int
	}{
		{"unixgram", "", "", 3}, // Docker's default format and facility (daemon)
		{"udp", "rfc3164", "local3", 19},
		{"tcp", "rfc5424", "user", 1},
		{"unix", "rfc5424micro", "local7", 23},
	} {
		t.Run(tt.network+"-"+tt.format, func(t *testing.T) {
			srv := startSyslog(t, tt.network)
			opts := append([]opt{{"syslog-address", srv.addr}}, commonOpts...)
			if tt.format != "" {
				opts = append(opts, opt{"syslog-format", tt.format})
			}
			if tt.facility != "" {
				opts = append(opts, opt{"syslog-facility", tt.facility})
			}
			runDocker(t, containerName(t), "syslog", opts, parityEnv, parityScript)
			var docker, shroud []syslogMessage
			for _, raw := range srv.take(t, syslogMessages) {
				docker = append(docker, parseSyslog(t, "Docker", tt.format, raw))
			}
			pid, _ := runShroud(t, "syslog", opts, parityEnv, parityScript)
			for _, raw := range srv.take(t, len(docker)) {
				shroud = append(shroud, parseSyslog(t, "shroud", tt.format, raw))
			}
			tb := newTable(t, "syslog "+tt.format+" over "+tt.network)
			ds, ss := syslogByStream(t, docker), syslogByStream(t, shroud)
			for _, stream := range []string{"stdout", "stderr"} {
				for _, p := range pairs(tb, stream, ds[stream], ss[stream]) {
					d, s := p[0], p[1]
					tb.same("message (escaping: none, bytes as written; no empty lines)", d.msg, s.msg)
					tb.same("facility", d.facility, s.facility)
					tb.same("severity (info stdout, err stderr)", d.severity, s.severity)
					tb.same("hostname", d.host, s.host)
					tb.same("tag, app-name", d.tag, s.tag)
					tb.same("msgid", d.msgid, s.msgid)
					tb.intended("pid, procid", d.pid, daemonPIDText(d.pid), s.pid, strconv.Itoa(pid),
						"the sender's: the daemon's pid in Docker, shroud's own")
					layout := syslogLayouts[tt.format]
					for who, ts := range map[string]string{"Docker": d.time, "shroud": s.time} {
						if parsed, err := time.Parse(layout, ts); err != nil || parsed.Format(layout) != ts {
							t.Errorf("%s: timestamp %q is not laid out as %q", who, ts, layout)
						}
					}
					tb.row("timestamp", d.time, s.time, "same layout; Docker's is when it sends, shroud's when it read the line")
				}
			}
			if tt.facility != "" && len(docker) > 0 && docker[0].facility != tt.code {
				t.Errorf("facility %s: Docker sent %d, want %d", tt.facility, docker[0].facility, tt.code)
			}
			if tt.format != "" && tt.format != "rfc5424micro" && len(docker) > 0 && docker[0].host != hostname {
				t.Errorf("hostname %q, want the host's %q", docker[0].host, hostname)
			}
		})
	}
}

// daemonPIDText is the pid Docker's messages must carry: the daemon's, or
// whatever they carry when its pidfile is elsewhere.
func daemonPIDText(got string) string {
	if pid := daemonPID(); pid > 0 {
		return strconv.Itoa(pid)
	}
	return got
}
