package logdriver

import (
	"compress/flate"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Graylog2/go-gelf/gelf"
)

type gelfSettings struct {
	network, address string
	compression      gelf.CompressType
	level            int
	maxReconnect     int
	reconnectDelay   int // seconds, as Docker's option
}

func parseGELF(r *optReader) gelfSettings {
	s := gelfSettings{compression: gelf.CompressGzip}
	if !r.has("gelf-address") {
		r.errs = append(r.errs, errors.New("gelf needs the gelf-address option, e.g. udp://graylog:12201"))
	} else if v, ok := r.value("gelf-address"); ok {
		u, err := url.Parse(v)
		switch {
		case err != nil || (u.Scheme != "udp" && u.Scheme != "tcp"):
			r.fail("gelf-address", "want udp://host:port or tcp://host:port")
		default:
			if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Hostname() == "" {
				r.fail("gelf-address", "want udp://host:port or tcp://host:port")
			}
			s.network, s.address = u.Scheme, u.Host
		}
	}
	switch r.oneOf("gelf-compression-type", "gzip", "gzip", "zlib", "none") {
	case "zlib":
		s.compression = gelf.CompressZlib
	case "none":
		s.compression = gelf.CompressNone
	}
	s.level = r.integer("gelf-compression-level", flate.BestSpeed, flate.DefaultCompression, flate.BestCompression)
	s.maxReconnect = r.integer("gelf-tcp-max-reconnect", gelf.DefaultMaxReconnect, 0, 1<<20)
	s.reconnectDelay = r.integer("gelf-tcp-reconnect-delay", gelf.DefaultReconnectDelay, 1, 3600)
	if s.network == "tcp" {
		for _, o := range []string{"gelf-compression-type", "gelf-compression-level"} {
			if r.has(o) {
				r.errs = append(r.errs, r.optError(o, "GELF over TCP is not compressed; use udp:// for compression"))
			}
		}
	}
	if s.network == "udp" {
		for _, o := range []string{"gelf-tcp-max-reconnect", "gelf-tcp-reconnect-delay"} {
			if r.has(o) {
				r.errs = append(r.errs, r.optError(o, "applies to tcp:// addresses only"))
			}
		}
	}
	return s
}

// gelfDriver sends each message as a GELF message, with Docker's fields:
// level 6 for stdout and 3 for stderr, _container_id, _container_name,
// _command, _tag and the extra fields, prefixed with _.
type gelfDriver struct {
	w        gelf.Writer
	host     string
	rawExtra json.RawMessage
}

func newGELF(s gelfSettings, env driverEnv) (driver, error) {
	extra := map[string]any{
		"_container_id": env.info.FullID, "_container_name": env.info.Name,
		"_command": env.info.Command, "_tag": env.tag,
	}
	if env.info.ImageName != "" {
		extra["_image_name"] = env.info.ImageName
	}
	for k, v := range env.attrs {
		if !strings.HasPrefix(k, "_") {
			k = "_" + k
		}
		extra[k] = v
	}
	raw, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	d := &gelfDriver{host: env.info.Hostname, rawExtra: raw}
	wait := startWait
	for attempt := range startAttempts {
		if attempt > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		if s.network == "udp" {
			var w *gelf.UDPWriter
			if w, err = gelf.NewUDPWriter(s.address); err == nil {
				w.CompressionType, w.CompressionLevel = s.compression, s.level
				d.w = w
			}
		} else {
			var w *gelf.TCPWriter
			if w, err = gelf.NewTCPWriter(s.address); err == nil {
				w.MaxReconnect, w.ReconnectDelay = s.maxReconnect, time.Duration(s.reconnectDelay)
				d.w = w
			}
		}
		if err == nil {
			return d, nil
		}
	}
	return nil, env.opt("gelf-address", "cannot connect after "+strconv.Itoa(startAttempts)+" attempts: "+dialReason(err))
}

// log sends each message but the empty ones, which Docker's gelf driver
// does not send either.
func (d *gelfDriver) log(msgs []Message) (int, error) {
	for i, m := range msgs {
		if len(m.Line) == 0 {
			continue
		}
		level := int32(gelf.LOG_INFO)
		if m.Stream == "stderr" {
			level = gelf.LOG_ERR
		}
		gm := gelf.Message{
			Version: "1.1", Host: d.host, Short: string(m.Line),
			TimeUnix: float64(m.Time.UnixNano()/int64(time.Millisecond)) / 1000,
			Level:    level, RawExtra: d.rawExtra,
		}
		if err := d.w.WriteMessage(&gm); err != nil {
			return i, errors.New("gelf: " + dialReason(err))
		}
	}
	return len(msgs), nil
}

func (d *gelfDriver) close() error { return d.w.Close() }
