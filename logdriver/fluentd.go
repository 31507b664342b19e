package logdriver

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"
)

type fluentdSettings struct {
	config fluent.Config
}

// fluentdMaxRetries is fluent-logger's retry count for one message when
// fluentd-max-retries is not set. Docker's default retries for ever, inside
// the library, where nothing can stop it; shroud's pipeline retries
// instead, with backoff, and stops when Close has waited long enough.
const fluentdMaxRetries = 3

func parseFluentd(r *optReader) fluentdSettings {
	c := fluent.Config{FluentNetwork: "tcp", FluentHost: "127.0.0.1", FluentPort: 24224}
	if v, ok := r.value("fluentd-address"); ok && v != "" {
		if err := parseFluentdAddress(v, &c); err != nil {
			r.fail("fluentd-address", "%s", err.Error()) // our own message: no value in it
		}
	}
	c.BufferLimit = int(r.size("fluentd-buffer-limit", 1<<20))
	c.RetryWait = int(r.duration("fluentd-retry-wait", time.Second) / time.Millisecond)
	c.MaxRetry = r.integer("fluentd-max-retries", fluentdMaxRetries, 1, 1<<31-1)
	if r.has("fluentd-async") && r.has("fluentd-async-connect") {
		r.fail("fluentd-async-connect", "is the deprecated name of fluentd-async; set only fluentd-async")
	}
	c.Async = r.boolean("fluentd-async", false) || r.boolean("fluentd-async-connect", false)
	c.SubSecondPrecision = r.boolean("fluentd-sub-second-precision", false)
	c.RequestAck = r.boolean("fluentd-request-ack", false)
	c.WriteTimeout = r.duration("fluentd-write-timeout", 0)
	return fluentdSettings{config: c}
}

// parseFluentdAddress reads Docker's forms: host, host:port, tcp://host:port,
// tls://host:port, unix:///path. Its errors do not quote the address.
func parseFluentdAddress(v string, c *fluent.Config) error {
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil {
			return errors.New("not a URL such as tcp://host:24224 or unix:///path")
		}
		switch u.Scheme {
		case "unix":
			if u.Path == "" {
				return errors.New("want unix:///path/to/socket")
			}
			c.FluentNetwork, c.FluentSocketPath = "unix", u.Path
			return nil
		case "tcp", "tls":
			c.FluentNetwork = u.Scheme
			v = u.Host
		default:
			return errors.New("unknown protocol; want tcp, tls or unix")
		}
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		if !strings.Contains(err.Error(), "missing port") {
			return errors.New("want host:port")
		}
		host, port = v, "24224"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("the port is not a number from 1 to 65535")
	}
	if host != "" {
		c.FluentHost = host
	}
	c.FluentPort = n
	return nil
}

// fluentdDriver posts each message as a fluentd forward-protocol event
// with Docker's record: container_id, container_name, source, log, the
// extra fields, and partial_* for pieces of split lines.
type fluentdDriver struct {
	f      *fluent.Fluent
	tag    string
	static []string // key, value, ... sent with every record
	stop   context.Context
}

func newFluentd(s fluentdSettings, env driverEnv) (driver, error) {
	d := &fluentdDriver{tag: env.tag, stop: env.stop}
	d.static = []string{"container_id", env.info.FullID, "container_name", env.info.Name}
	for _, k := range sortedKeys(env.attrs) {
		d.static = append(d.static, k, env.attrs[k])
	}
	var err error
	wait := startWait
	for attempt := range startAttempts {
		if attempt > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		if d.f, err = fluent.New(s.config); err == nil {
			return d, nil
		}
	}
	return nil, env.opt("fluentd-address", "cannot connect after "+strconv.Itoa(startAttempts)+" attempts: "+dialReason(err))
}

func (d *fluentdDriver) log(msgs []Message) (int, error) {
	for i := range msgs {
		rec := fluentRecord{static: d.static, msg: &msgs[i]}
		if err := d.f.PostWithTime(d.tag, msgs[i].Time, &rec); err != nil {
			return i, errors.New("fluentd: " + dialReason(err))
		}
	}
	return len(msgs), nil
}

// close flushes what fluent-logger buffers (async mode), waiting no
// longer than the pipeline allows.
func (d *fluentdDriver) close() error {
	done := make(chan error, 1)
	go func() { done <- d.f.Close() }()
	select {
	case err := <-done:
		return err
	case <-d.stop.Done():
		return errors.New("fluentd: gave up waiting for buffered messages")
	}
}

// fluentRecord encodes a record as a msgpack map directly, without the
// reflection fluent-logger uses for a Go map.
type fluentRecord struct {
	static []string
	msg    *Message
}

func (r *fluentRecord) MarshalMsg(b []byte) ([]byte, error) {
	n := len(r.static)/2 + 2
	if r.msg.Partial != nil {
		n += 4
	}
	b = msgp.AppendMapHeader(b, uint32(n))
	for i := 0; i < len(r.static); i += 2 {
		b = msgp.AppendString(b, r.static[i])
		b = msgp.AppendString(b, r.static[i+1])
	}
	b = msgp.AppendString(b, "source")
	b = msgp.AppendString(b, r.msg.Stream)
	b = msgp.AppendString(b, "log")
	b = msgp.AppendStringFromBytes(b, r.msg.Line)
	if p := r.msg.Partial; p != nil {
		b = msgp.AppendString(b, "partial_message")
		b = msgp.AppendString(b, "true")
		b = msgp.AppendString(b, "partial_id")
		b = msgp.AppendString(b, p.ID)
		b = msgp.AppendString(b, "partial_ordinal")
		b = msgp.AppendString(b, strconv.Itoa(p.Ordinal))
		b = msgp.AppendString(b, "partial_last")
		b = msgp.AppendString(b, strconv.FormatBool(p.Last))
	}
	return b, nil
}
