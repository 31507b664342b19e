package logdriver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shroud-dev/shroud/internal/bounded"
)

type splunkSettings struct {
	url, token                string
	source, sourcetype, index string
	caPath, caName            string
	insecureSkipVerify        bool
	format                    string
	verify, gzip              bool
	gzipLevel                 int
}

func parseSplunk(r *optReader) splunkSettings {
	s := splunkSettings{
		url: r.str("splunk-url", ""), token: r.str("splunk-token", ""),
		source: r.str("splunk-source", ""), sourcetype: r.str("splunk-sourcetype", ""), index: r.str("splunk-index", ""),
		caPath: r.str("splunk-capath", ""), caName: r.str("splunk-caname", ""),
		insecureSkipVerify: r.boolean("splunk-insecureskipverify", false),
		format:             r.oneOf("splunk-format", "inline", "inline", "json", "raw"),
		verify:             r.boolean("splunk-verify-connection", true),
		gzip:               r.boolean("splunk-gzip", false),
		gzipLevel:          r.integer("splunk-gzip-level", gzip.DefaultCompression, gzip.DefaultCompression, gzip.BestCompression),
	}
	if !r.has("splunk-url") {
		r.errs = append(r.errs, errors.New("splunk needs the splunk-url option, e.g. https://splunk.example.com:8088"))
	} else if _, ok := r.value("splunk-url"); ok {
		if _, err := splunkEndpoint(s.url); err != nil {
			r.fail("splunk-url", "%s", err.Error())
		}
	}
	if !r.has("splunk-token") {
		r.errs = append(r.errs, errors.New("splunk needs the splunk-token option; take it from a secret with [[log.secret_options]]"))
	}
	return s
}

// splunkEndpoint is the HTTP Event Collector endpoint of a splunk-url,
// which must be an http(s) URL with no path, as Docker requires.
func splunkEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want an http or https URL such as https://splunk.example.com:8088")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want the URL without a path: shroud adds /services/collector/event/1.0")
	}
	u.Path = "/services/collector/event/1.0"
	return u.String(), nil
}

// splunkDriver posts each batch to Splunk's HTTP Event Collector in one
// request, as Docker's splunk driver formats events.
type splunkDriver struct {
	s        splunkSettings
	endpoint string
	auth     string
	client   *http.Client
	host     string
	tag      string
	attrs    map[string]string
	prefix   []byte // raw format: "tag k=v ... "
	stop     context.Context
	body     bytes.Buffer
}

// splunkBatch caps the events of one request.
const splunkBatch = 1000

func newSplunk(s splunkSettings, env driverEnv) (driver, error) {
	endpoint, err := splunkEndpoint(s.url)
	if err != nil {
		return nil, env.opt("splunk-url", err.Error())
	}
	cfg := &tls.Config{InsecureSkipVerify: s.insecureSkipVerify, ServerName: s.caName, MinVersion: tls.VersionTLS12}
	if s.caPath != "" {
		pem, _, err := bounded.ReadFile(s.caPath, bounded.MaxPEM)
		if err != nil {
			return nil, env.opt("splunk-capath", err.Error())
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, env.opt("splunk-capath", "no PEM certificate in the file")
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = cfg
	transport.Proxy = nil // the log server is named by the config, never reached through a proxy of the environment
	d := &splunkDriver{
		s: s, endpoint: endpoint, auth: "Splunk " + s.token, stop: env.stop,
		client: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		host:   env.info.Hostname, tag: env.tag, attrs: env.attrs,
	}
	if s.format == "raw" {
		if d.tag != "" {
			d.prefix = append(d.prefix, d.tag+" "...)
		}
		for _, k := range sortedKeys(d.attrs) {
			d.prefix = append(d.prefix, k+"="+d.attrs[k]+" "...)
		}
	}
	if s.verify {
		if err := d.verify(env); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// verify checks at start-up that the collector answers, as Docker does
// (an OPTIONS request), retrying a few times.
func (d *splunkDriver) verify(env driverEnv) error {
	var last string
	wait := startWait
	for attempt := range startAttempts {
		if attempt > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		ctx, cancel := context.WithTimeout(d.stop, 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, d.endpoint, nil)
		res, err := d.client.Do(req)
		if err != nil {
			cancel()
			last = httpReason(err)
			continue
		}
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		res.Body.Close()
		cancel()
		if res.StatusCode == http.StatusOK {
			return nil
		}
		return env.opt("splunk-url", "the HTTP Event Collector answered "+res.Status)
	}
	return env.opt("splunk-url", "cannot connect after "+strconv.Itoa(startAttempts)+" attempts: "+last)
}

// httpReason says why a request failed without its URL.
func httpReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "the server's certificate is not trusted (see splunk-capath, splunk-caname)"
	}
	return dialReason(err)
}

type splunkEvent struct {
	Event      any    `json:"event"`
	Time       string `json:"time"`
	Host       string `json:"host"`
	Source     string `json:"source,omitempty"`
	SourceType string `json:"sourcetype,omitempty"`
	Index      string `json:"index,omitempty"`
}

type splunkLine struct {
	Line   any               `json:"line"`
	Source string            `json:"source"`
	Tag    string            `json:"tag,omitempty"`
	Attrs  map[string]string `json:"attrs,omitempty"`
}

func (d *splunkDriver) log(msgs []Message) (int, error) {
	done := 0
	for done < len(msgs) {
		batch := msgs[done:min(len(msgs), done+splunkBatch)]
		if err := d.post(batch); err != nil {
			var perm *permanentError
			if errors.As(err, &perm) {
				perm.n = len(batch)
			}
			return done, err
		}
		done += len(batch)
	}
	return done, nil
}

func (d *splunkDriver) post(msgs []Message) error {
	d.body.Reset()
	var w io.Writer = &d.body
	var zw *gzip.Writer
	if d.s.gzip {
		zw, _ = gzip.NewWriterLevel(&d.body, d.s.gzipLevel)
		w = zw
	}
	sent := 0
	for _, m := range msgs {
		ev := splunkEvent{
			Time: strconv.FormatFloat(float64(m.Time.UnixNano())/1e9, 'f', 6, 64),
			Host: d.host, Source: d.s.source, SourceType: d.s.sourcetype, Index: d.s.index,
		}
		switch d.s.format {
		case "raw":
			if len(bytes.TrimSpace(m.Line)) == 0 {
				continue // the collector refuses empty events
			}
			ev.Event = string(d.prefix) + string(m.Line)
		case "json":
			line := any(string(m.Line))
			if json.Valid(m.Line) {
				line = json.RawMessage(m.Line)
			}
			ev.Event = splunkLine{Line: line, Source: m.Stream, Tag: d.tag, Attrs: d.attrs}
		default:
			ev.Event = splunkLine{Line: string(m.Line), Source: m.Stream, Tag: d.tag, Attrs: d.attrs}
		}
		// One after the other, as Docker's splunk driver writes them:
		// json.Marshal's text (HTML-escaped), no separator.
		b, err := json.Marshal(ev)
		if err != nil {
			return &permanentError{err: fmt.Errorf("splunk: encoding an event: %w", err)}
		}
		w.Write(b)
		sent++
	}
	if zw != nil {
		zw.Close()
	}
	if sent == 0 {
		return nil
	}
	req, _ := http.NewRequestWithContext(d.stop, http.MethodPost, d.endpoint, bytes.NewReader(d.body.Bytes()))
	req.Header.Set("Authorization", d.auth)
	req.Header.Set("Content-Type", "application/json")
	if zw != nil {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := d.client.Do(req)
	if err != nil {
		return errors.New("splunk: " + httpReason(err))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch {
	case res.StatusCode == http.StatusOK:
		return nil
	case res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusUnauthorized ||
		res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusNotFound ||
		res.StatusCode == http.StatusRequestEntityTooLarge:
		// The request itself is wrong (token, index, size): sending it again
		// gives the same answer.
		return &permanentError{err: fmt.Errorf("splunk: %s: %s", res.Status, strings.TrimSpace(string(body)))}
	}
	return fmt.Errorf("splunk: %s", res.Status)
}

func (d *splunkDriver) close() error {
	d.client.CloseIdleConnections()
	return nil
}
