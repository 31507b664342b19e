package logdriver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/shroud-dev/shroud/internal/bounded"
)

// syslogFacilities maps Docker's facility names to codes.
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Syslog severities: Docker logs stdout as info and stderr as err.
const (
	severityErr  = 3
	severityInfo = 6
)

type syslogSettings struct {
	network  string // udp, tcp, tcp+tls, unix, unixgram; empty: the local syslog socket
	address  string
	facility int
	format   string // "", rfc3164, rfc5424, rfc5424micro
	tls      syslogTLS
}

type syslogTLS struct {
	caCert, cert, key string
	skipVerify        bool
}

func parseSyslog(r *optReader) syslogSettings {
	var s syslogSettings
	if v, ok := r.value("syslog-address"); ok && v != "" {
		var err error
		if s.network, s.address, err = parseSyslogAddress(v); err != nil {
			r.fail("syslog-address", "%s", err.Error())
		}
	}
	if v, ok := r.value("syslog-facility"); ok && v != "" {
		if f, known := syslogFacilities[v]; known {
			s.facility = f
		} else if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 23 {
			s.facility = n
		} else {
			r.fail("syslog-facility", "want a facility name (daemon, local0 ... local7, user, ...) or a number from 0 to 23")
		}
	} else {
		s.facility = syslogFacilities["daemon"]
	}
	s.format = r.oneOf("syslog-format", "", "", "rfc3164", "rfc5424", "rfc5424micro")
	s.tls = syslogTLS{caCert: r.str("syslog-tls-ca-cert", ""), cert: r.str("syslog-tls-cert", ""), key: r.str("syslog-tls-key", "")}
	if v, ok := r.value("syslog-tls-skip-verify"); ok {
		s.tls.skipVerify = v == "" || r.boolean("syslog-tls-skip-verify", false)
	}
	if (s.tls.cert == "") != (s.tls.key == "") {
		r.errs = append(r.errs, errors.New("syslog options syslog-tls-cert and syslog-tls-key go together"))
	}
	return s
}

// parseSyslogAddress reads proto://host[:port] (port 514 by default) or
// unix:///path. Its errors do not quote the address.
func parseSyslogAddress(v string) (network, address string, err error) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return "", "", errors.New("want proto://address, such as udp://host:514, tcp://host:601, tcp+tls://host:6514 or unix:///dev/log")
	}
	switch u.Scheme {
	case "unix", "unixgram":
		if u.Path == "" {
			return "", "", errors.New("want unix:///path/to/socket")
		}
		return u.Scheme, u.Path, nil
	case "udp", "tcp", "tcp+tls":
		host := u.Host
		if host == "" {
			return "", "", errors.New("no host; want proto://host[:port]")
		}
		if _, port, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(u.Hostname(), "514")
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", errors.New("the port is not a number from 1 to 65535")
		}
		return u.Scheme, host, nil
	}
	return "", "", errors.New("unknown protocol; want udp, tcp, tcp+tls, unix or unixgram")
}

// syslogDriver sends each message as one syslog message, formatted as
// Docker's syslog driver formats it.
type syslogDriver struct {
	s        syslogSettings
	tag      string
	hostname string
	pid      int
	// octetCounted frames messages with their length (RFC 5425/6587), as
	// Docker does for rfc5424 over TLS; other streams end each with "\n".
	octetCounted bool
	datagram     bool
	w            connWriter
	buf, msg     []byte
}

func newSyslog(s syslogSettings, env driverEnv) (driver, error) {
	d := &syslogDriver{s: s, tag: env.tag, hostname: env.info.Hostname, pid: os.Getpid()}
	if d.hostname == "" {
		d.hostname = "-"
	}
	d.octetCounted = s.network == "tcp+tls" && (s.format == "rfc5424" || s.format == "rfc5424micro")
	d.datagram = s.network == "udp" || s.network == "unixgram"
	var dial func(context.Context) (net.Conn, error)
	switch s.network {
	case "":
		dial = dialLocalSyslog
	case "tcp+tls":
		cfg, err := s.tls.config(s.address, env)
		if err != nil {
			return nil, err
		}
		td := &tls.Dialer{Config: cfg}
		dial = func(ctx context.Context) (net.Conn, error) { return td.DialContext(ctx, "tcp", s.address) }
	default:
		var nd net.Dialer
		dial = func(ctx context.Context) (net.Conn, error) { return nd.DialContext(ctx, s.network, s.address) }
	}
	conn, err := dialAtStart(env.stop, "syslog-address", env, dial)
	if err != nil {
		return nil, err
	}
	if s.network == "" {
		// The local socket may be a datagram or a stream socket.
		if a, ok := conn.RemoteAddr().(*net.UnixAddr); ok {
			d.datagram = a.Net == "unixgram"
		}
	}
	d.w = connWriter{dial: dial, conn: conn, stop: env.stop}
	return d, nil
}

// dialLocalSyslog finds the local syslog socket as Go's log/syslog does.
func dialLocalSyslog(ctx context.Context) (net.Conn, error) {
	var nd net.Dialer
	var err error
	for _, network := range []string{"unixgram", "unix"} {
		for _, path := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
			var c net.Conn
			if c, err = nd.DialContext(ctx, network, path); err == nil {
				return c, nil
			}
		}
	}
	return nil, err
}

func (t syslogTLS) config(address string, env driverEnv) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(address)
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: t.skipVerify, MinVersion: tls.VersionTLS12}
	if t.caCert != "" {
		pem, _, err := bounded.ReadFile(t.caCert, bounded.MaxPEM)
		if err != nil {
			return nil, env.opt("syslog-tls-ca-cert", err.Error())
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, env.opt("syslog-tls-ca-cert", "no PEM certificate in the file")
		}
	}
	if t.cert != "" {
		pair, err := loadKeyPair(t.cert, t.key)
		if err != nil {
			return nil, env.opt("syslog-tls-cert", "cannot load the certificate and key: "+err.Error())
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// loadKeyPair reads a certificate and its key as tls.LoadX509KeyPair does,
// each from a regular file of bounded size.
func loadKeyPair(cert, key string) (tls.Certificate, error) {
	certPEM, _, err := bounded.ReadFile(cert, bounded.MaxPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, _, err := bounded.ReadFile(key, bounded.MaxPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// format appends one message as Docker's formatters write it:
//
//	""            <PRI>Jan  2 15:04:05 TAG[PID]: MSG
//	rfc3164       <PRI>Jan  2 15:04:05 HOST TAG[PID]: MSG
//	rfc5424       <PRI>1 2006-01-02T15:04:05Z07:00 HOST TAG PID TAG - MSG
//	rfc5424micro  <PRI>1 2006-01-02T15:04:05.000000Z07:00 HOST TAG PID TAG - MSG
func (d *syslogDriver) format(b []byte, m Message) []byte {
	severity := severityInfo
	if m.Stream == "stderr" {
		severity = severityErr
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(d.s.facility<<3|severity), 10)
	b = append(b, '>')
	t := m.Time.Local()
	switch d.s.format {
	case "":
		b = t.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = d.tagPID(b)
	case "rfc3164":
		b = t.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = append(b, d.hostname...)
		b = append(b, ' ')
		b = d.tagPID(b)
	default:
		layout := time.RFC3339
		if d.s.format == "rfc5424micro" {
			layout = "2006-01-02T15:04:05.000000Z07:00"
		}
		b = append(b, "1 "...)
		b = t.AppendFormat(b, layout)
		b = append(b, ' ')
		b = append(b, d.hostname...)
		b = append(b, ' ')
		b = append(b, nilDash(d.tag)...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(d.pid), 10)
		b = append(b, ' ')
		b = append(b, nilDash(d.tag)...)
		b = append(b, " - "...)
	}
	b = append(b, m.Line...)
	return append(b, '\n')
}

func (d *syslogDriver) tagPID(b []byte) []byte {
	b = append(b, d.tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(d.pid), 10)
	return append(b, "]: "...)
}

func nilDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// log sends a datagram per message, or all messages in one stream write.
// A failed stream write is retried whole: a message may arrive twice,
// never not at all. Empty lines are not sent, as Docker's syslog driver
// does not send them.
func (d *syslogDriver) log(msgs []Message) (int, error) {
	if d.datagram {
		for i, m := range msgs {
			if len(m.Line) == 0 {
				continue
			}
			d.msg = d.format(d.msg[:0], m)
			if err := d.w.write(d.msg); err != nil {
				return i, err
			}
		}
		return len(msgs), nil
	}
	d.buf = d.buf[:0]
	for _, m := range msgs {
		if len(m.Line) == 0 {
			continue
		}
		if d.octetCounted {
			d.msg = d.format(d.msg[:0], m)
			d.buf = strconv.AppendInt(d.buf, int64(len(d.msg)), 10)
			d.buf = append(d.buf, ' ')
			d.buf = append(d.buf, d.msg...)
		} else {
			d.buf = d.format(d.buf, m)
		}
	}
	if len(d.buf) == 0 {
		return len(msgs), nil
	}
	if err := d.w.write(d.buf); err != nil {
		return 0, fmt.Errorf("syslog: %w", err)
	}
	return len(msgs), nil
}

func (d *syslogDriver) close() error { return d.w.close() }
